"""Figures of a run: how much each layer weighs in the learned mix."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns


def plot_mixing_weights(weights: list[float], center: float, title: str,
                        stem: str | Path) -> list[Path]:
    """Bar plot of the softmax mixing weight of every layer, with the center of gravity
    marked; saved as <stem>.png and <stem>.pdf."""
    frame = pd.DataFrame({"layer": range(len(weights)), "weight": weights})
    fig, ax = plt.subplots(figsize=(max(4.0, 0.5 * len(weights) + 2), 3.2))
    sns.barplot(data=frame, x="layer", y="weight", color="#4c72b0", native_scale=True, ax=ax)
    ax.axvline(center, color="#c44e52", linestyle="--", label=f"center of gravity {center:.2f}")
    ax.set(title=title, xlabel="layer", ylabel="mixing weight $s_l$")
    ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    paths = [Path(f"{stem}.{suffix}") for suffix in ("png", "pdf")]
    for path in paths:
        fig.savefig(path, dpi=150)
    plt.close(fig)
    return paths
