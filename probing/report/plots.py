"""Figures: how much each layer weighs in the learned mix, and what each layer scores."""

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
    return save_figure(fig, stem)


def plot_layers(layers: pd.DataFrame, title: str, stem: str | Path) -> list[Path]:
    """Left: the mixing weight of every layer. Right: test score of a probe on layer l alone
    and on layers 0..l (cumulative)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    sns.barplot(data=layers, x="layer", y="weight", color="#4c72b0", native_scale=True, ax=left)
    left.set(title="mixing weights", xlabel="layer", ylabel="$s_l$")
    curves = layers.melt(id_vars="layer", value_vars=["single", "cumulative"], var_name="probe",
                         value_name="score").dropna()
    if not curves.empty:
        sns.lineplot(data=curves, x="layer", y="score", hue="probe", marker="o", ax=right)
    right.set(title="test score", xlabel="layer")
    fig.suptitle(title)
    return save_figure(fig, stem)


def plot_against_step(table: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Probe score and center of gravity of the mix against the encoder's pretraining step,
    one line per task."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    sns.lineplot(data=table, x="step", y="score", hue="task", marker="o", ax=left)
    sns.lineplot(data=table, x="step", y="E_s", hue="task", marker="o", ax=right, legend=False)
    left.set(title="test score", xlabel="pretraining step")
    right.set(title="center of gravity $E_s[l]$", xlabel="pretraining step", ylabel="layer")
    return save_figure(fig, stem)


def save_figure(fig: plt.Figure, stem: str | Path) -> list[Path]:
    fig.tight_layout()
    paths = [Path(f"{stem}.{suffix}") for suffix in ("png", "pdf")]
    for path in paths:
        fig.savefig(path, dpi=150)
    plt.close(fig)
    return paths
