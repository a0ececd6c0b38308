"""The figure of one run: its softmax mixing weights, saved as PNG and PDF beside its record.
The report's figures share its colours and its way of saving (probing/report/plots.py)."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

COLORS = {"weight": "#4c72b0", "single": "#55a868", "cumulative": "#dd8452",
          "delta": "#4c72b0", "mark": "#c44e52"}


def plot_mixing_weights(weights: list[float], center: float, title: str,
                        stem: str | Path) -> list[Path]:
    """Bar plot of the softmax mixing weight of every layer, with the center of gravity
    marked; saved as <stem>.png and <stem>.pdf."""
    frame = pd.DataFrame({"layer": range(len(weights)), "weight": weights})
    fig, ax = plt.subplots(figsize=(max(4.0, 0.5 * len(weights) + 2), 3.2))
    sns.barplot(data=frame, x="layer", y="weight", color=COLORS["weight"], native_scale=True,
                ax=ax)
    ax.axvline(center, color=COLORS["mark"], linestyle="--",
               label=f"center of gravity {center:.2f}")
    ax.set(title=title, xlabel="layer", ylabel="mixing weight $s_l$")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small", frameon=False)
    return save_figure(fig, stem)


def save_figure(fig: plt.Figure, stem: str | Path) -> list[Path]:
    """<stem>.png and <stem>.pdf, with a bounding box that cuts off no label or legend."""
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    paths = [Path(f"{stem}.{suffix}") for suffix in ("png", "pdf")]
    for path in paths:
        fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)
    return paths
