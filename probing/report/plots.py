"""Figures of one task's layers: the mixing weights, and what each layer scores (the figure of
one run is probing/runs/figure.py).

Each figure is saved as PNG and PDF, sized for a paper column (3.3-7 in wide), nothing cut off
(saved with a tight bounding box); intervals are drawn as error bars (the tables' 95%
intervals); every y axis names what it shows, the task's metric included.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator

from probing.report.pipeline import in_pipeline_order
from probing.runs.figure import COLORS, save_figure

SMALL = 7


def yerr(frame: pd.DataFrame, name: str) -> np.ndarray:
    """Asymmetric error bars (2, n) from `name`, `name_lo`, `name_hi`; none where missing."""
    point = frame[name].to_numpy(dtype=float)
    if f"{name}_lo" not in frame:
        return np.zeros((2, len(frame)))
    lo, hi = frame[f"{name}_lo"].to_numpy(dtype=float), frame[f"{name}_hi"].to_numpy(dtype=float)
    return np.nan_to_num(np.clip(np.stack([point - lo, hi - point]), 0, None))


def integer_layers(ax: plt.Axes) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(labelsize=SMALL)


def legend_outside(ax: plt.Axes) -> None:
    """A legend right of the axes, where it covers no curve."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=SMALL, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)


def plot_layers(layers: pd.DataFrame, title: str, stem: str | Path) -> list[Path]:
    """One task and encoder. Left: the mixing weight of every layer. Right: test score of a
    probe on layer l alone and on layers 0..l (cumulative); 95% intervals as error bars."""
    metric = layers["metric"].iloc[0]
    fig, (left, right) = plt.subplots(1, 2, figsize=(7, 2.8), layout="constrained")
    left.bar(layers["layer"], layers["weight"].fillna(0), yerr=yerr(layers, "weight"),
             color=COLORS["weight"], error_kw={"capsize": 2})
    left.set_xlabel("layer", fontsize=8)
    left.set_ylabel("mixing weight $s_l$", fontsize=8)
    for name in ("single", "cumulative"):
        frame = layers.dropna(subset=[name])
        if not frame.empty:
            right.errorbar(frame["layer"], frame[name], yerr=yerr(frame, name), marker="o",
                           markersize=3, capsize=2, label=name, color=COLORS[name])
    right.set_xlabel("layer", fontsize=8)
    right.set_ylabel(f"test {metric}", fontsize=8)
    legend_outside(right)
    for ax in (left, right):
        integer_layers(ax)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, stem)


def minmax(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """`name` and its interval scaled to [0, 1] by the point values' min and max."""
    values = frame[name]
    low, span = values.min(), values.max() - values.min()
    span = span if span and not np.isnan(span) else 1.0
    scaled = frame.copy()
    for column in (name, f"{name}_lo", f"{name}_hi"):
        if column in frame:
            scaled[column] = (frame[column] - low) / span
    return scaled


def plot_scores_by_layer(layers: pd.DataFrame, title: str, stem: str | Path) -> list[Path]:
    """Single-layer (left) and cumulative (right) scores against the layer, every task in one
    figure (pipeline order), each task's scores min-max scaled so that tasks compare (the axis
    stops at -0.3 and 1.3: a task whose scores hardly vary has intervals far wider than 1)."""
    fig, axes = plt.subplots(1, 2, figsize=(7, 2.8), sharey=True, layout="constrained")
    tasks = in_pipeline_order(layers["task"].tolist())
    palette = dict(zip(tasks, sns.color_palette(n_colors=max(len(tasks), 1)), strict=False))
    metrics = layers.drop_duplicates("task").set_index("task")["metric"]
    for ax, name in zip(axes, ("single", "cumulative"), strict=True):
        for task in tasks:
            frame = minmax(layers[layers["task"] == task].dropna(subset=[name]), name)
            if frame.empty:
                continue
            ax.errorbar(frame["layer"], frame[name], yerr=yerr(frame, name), marker="o",
                        markersize=3, capsize=2, linewidth=1, color=palette[task],
                        label=f"{task} ({metrics[task]})")
        ax.set_title(f"{name} layers" if name == "single" else "layers 0..l", fontsize=8)
        ax.set_xlabel("layer", fontsize=8)
        ax.set_ylim(-0.3, 1.3)
        integer_layers(ax)
    axes[0].set_ylabel("test score, min-max scaled per task", fontsize=8)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        axes[1].legend(handles, labels, fontsize=SMALL, loc="upper left",
                       bbox_to_anchor=(1.01, 1), frameon=False)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, stem)
