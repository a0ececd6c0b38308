"""Figures: how much each layer weighs in the learned mix, and what each layer scores.

Each figure is saved as PNG and PDF, sized for a paper column (3.3-7 in wide); intervals are
drawn as error bars (the 95% bootstrap intervals of the tables).
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator

KEYS = ["task", "encoder", "step"]


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
    """One task and encoder. Left: the mixing weight of every layer. Right: test score of a
    probe on layer l alone and on layers 0..l (cumulative); 95% intervals as error bars."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(7, 2.8))
    left.bar(layers["layer"], layers["weight"].fillna(0), yerr=_yerr(layers, "weight"),
             color="#4c72b0", error_kw={"capsize": 2})
    left.set(title="mixing weights", xlabel="layer", ylabel="$s_l$")
    for name, color in (("single", "#55a868"), ("cumulative", "#dd8452")):
        frame = layers.dropna(subset=[name])
        if not frame.empty:
            right.errorbar(frame["layer"], frame[name], yerr=_yerr(frame, name), marker="o",
                           markersize=3, capsize=2, label=name, color=color)
    if right.get_legend_handles_labels()[0]:
        right.legend(fontsize=7)
    right.set(title="test score", xlabel="layer")
    for ax in (left, right):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, stem)


def _yerr(frame: pd.DataFrame, name: str) -> np.ndarray:
    """Asymmetric error bars (2, n) from `name`, `name_lo`, `name_hi`; none where missing."""
    point = frame[name].to_numpy(dtype=float)
    if f"{name}_lo" not in frame:
        return np.zeros((2, len(frame)))
    lo, hi = frame[f"{name}_lo"].to_numpy(dtype=float), frame[f"{name}_hi"].to_numpy(dtype=float)
    return np.nan_to_num(np.clip(np.stack([point - lo, hi - point]), 0, None))


def _minmax(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """`name` and its interval scaled to [0, 1] by the point values' min and max."""
    values = frame[name]
    low, span = values.min(), values.max() - values.min()
    span = span if span and not np.isnan(span) else 1.0
    scaled = frame.copy()
    for column in (name, f"{name}_lo", f"{name}_hi"):
        if column in frame:
            scaled[column] = (frame[column] - low) / span
    return scaled


def _order_by_e_delta(expected: pd.DataFrame) -> list[str]:
    """Tasks from the lowest E_delta to the highest (then by E_s where E_delta is missing)."""
    return expected.sort_values(["E_delta", "E_s"], na_position="last")["task"].tolist()


def plot_summary(layers: pd.DataFrame, expected: pd.DataFrame, title: str,
                 stem: str | Path) -> list[Path]:
    """Tenney et al. (2019) Figure 1: a row per task, ordered by E_delta; per layer the mixing
    weights s_l (left) and the cumulative gains delta_l (right) as bars with 95% intervals;
    E_s and E_delta marked."""
    tasks = _order_by_e_delta(expected)
    last_layer = layers["layer"].max()
    fig, axes = plt.subplots(len(tasks), 2, figsize=(7, 0.3 + 1.0 * len(tasks)), squeeze=False,
                             sharex=True)
    for row, task in zip(axes, tasks, strict=True):
        frame = layers[layers["task"] == task]
        stats = expected[expected["task"] == task].iloc[0]
        for ax, name, mark, color in ((row[0], "weight", "E_s", "#8172b3"),
                                      (row[1], "delta", "E_delta", "#4c72b0")):
            ax.bar(frame["layer"], frame[name].fillna(0), yerr=_yerr(frame, name), color=color,
                   error_kw={"elinewidth": 0.8, "capsize": 1.5})
            if not np.isnan(stats[mark]):
                # an E_delta outside the layers (gains of both signs that nearly cancel) is
                # printed but not drawn, so it does not stretch the axis
                if 0 <= stats[mark] <= last_layer:
                    ax.axvline(stats[mark], color="#c44e52", linestyle="--", linewidth=1)
                symbol = "$E_s$" if mark == "E_s" else r"$E_\Delta$"
                ax.text(0.01, 0.95, f"{symbol} = {stats[mark]:.2f}", transform=ax.transAxes,
                        ha="left", va="top", fontsize=7,
                        bbox={"facecolor": "white", "alpha": 0.8, "linewidth": 0})
            ax.axhline(0, color="black", linewidth=0.5)
            ax.tick_params(labelsize=7)
        row[0].set_ylabel(task, fontsize=8, rotation=0, ha="right", va="center")
    axes[0, 0].set_title("mixing weights $s_l$", fontsize=9)
    axes[0, 1].set_title(r"cumulative gain $\Delta_l$", fontsize=9)
    for ax in axes[-1]:
        ax.set_xlabel("layer", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, stem)


def plot_weights_heatmap(layers: pd.DataFrame, expected: pd.DataFrame, title: str,
                         stem: str | Path) -> list[Path]:
    """Tasks x layers heatmap of the mixing weights, tasks ordered by E_delta."""
    table = layers.pivot_table(index="task", columns="layer", values="weight", dropna=False)
    table = table.reindex([t for t in _order_by_e_delta(expected) if t in table.index])
    fig, ax = plt.subplots(figsize=(min(7.0, 1.8 + 0.45 * table.shape[1]),
                                    max(2.0, 0.9 + 0.35 * table.shape[0])))
    sns.heatmap(table, annot=table.shape[1] <= 13, fmt=".2f", annot_kws={"fontsize": 6},
                cmap="viridis", cbar_kws={"label": "$s_l$"}, ax=ax)
    ax.set(title=title, xlabel="layer", ylabel="")
    ax.tick_params(axis="y", rotation=0)
    return save_figure(fig, stem)


def plot_scores_by_layer(layers: pd.DataFrame, title: str, stem: str | Path) -> list[Path]:
    """Single-layer (left) and cumulative (right) scores against the layer, every task in one
    figure, each task's scores min-max scaled so that tasks compare."""
    fig, axes = plt.subplots(1, 2, figsize=(7, 2.8), sharey=True)
    palette = dict(zip(sorted(layers["task"].unique()), sns.color_palette(n_colors=12),
                       strict=False))
    for ax, name in zip(axes, ("single", "cumulative"), strict=True):
        for task, frame in layers.groupby("task"):
            frame = _minmax(frame.dropna(subset=[name]), name)
            if frame.empty:
                continue
            ax.errorbar(frame["layer"], frame[name], yerr=_yerr(frame, name), marker="o",
                        markersize=3, capsize=2, linewidth=1, label=task, color=palette[task])
        ax.set(title=f"{name} (scaled per task)", xlabel="layer")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_ylabel("score, min-max scaled")
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        axes[1].legend(handles, labels, fontsize=7, loc="lower right")
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, stem)


def plot_relative_depth(layers: pd.DataFrame, expected: pd.DataFrame,
                        stem: str | Path) -> list[Path]:
    """Several encoders in one panel a task, against relative depth layer / (L - 1) for an
    encoder of L layers (embeddings included), so a 3-layer ELMo and a 13-layer BERT compare.
    The weights are drawn as L * s_l, the weight against the uniform mix's 1 / L, because raw
    weights of encoders of different depth live on different scales; a dashed line marks each
    encoder's E_delta / (L - 1)."""
    sizes = layers.groupby(KEYS, as_index=False)["layer"].max()
    sizes["n_layers"] = sizes.pop("layer") + 1
    sizes["span"] = (sizes["n_layers"] - 1).clip(lower=1)  # a one-layer encoder sits at 0
    frame = layers.merge(sizes, on=KEYS)
    frame["depth"] = frame["layer"] / frame["span"]
    for name in ("weight", "weight_lo", "weight_hi"):
        frame[f"relative_{name}"] = frame[name] * frame["n_layers"]
    frame["model"] = _model_names(frame)
    centers = expected.merge(sizes, on=KEYS)
    centers["depth"] = centers["E_delta"] / centers["span"]
    centers["model"] = _model_names(centers)
    tasks = sorted(frame["task"].unique())
    columns = min(3, len(tasks))
    rows = -(-len(tasks) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(7 if columns > 1 else 3.4, 0.4 + 2.3 * rows),
                             squeeze=False, sharex=True)
    palette = dict(zip(sorted(frame["model"].unique()), sns.color_palette(n_colors=10),
                       strict=False))
    for ax, task in zip(axes.flat, tasks, strict=False):
        for model, group in frame[frame["task"] == task].groupby("model"):
            ax.errorbar(group["depth"], group["relative_weight"],
                        yerr=_yerr(group, "relative_weight"), marker="o", markersize=3,
                        capsize=2, linewidth=1, label=model, color=palette[model])
        inside = centers["depth"].between(0, 1)
        for _, center in centers[(centers["task"] == task) & inside].iterrows():
            ax.axvline(center["depth"], color=palette.get(center["model"], "grey"),
                       linestyle="--", linewidth=0.8)
        ax.axhline(1.0, color="grey", linewidth=0.5)
        ax.set(title=task, xlabel="relative depth: layer / (L-1)", ylabel="$L \\cdot s_l$")
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle("mixing weight against uniform (1); dashed: $E_\\Delta$ / (L-1)", fontsize=9)
    return save_figure(fig, stem)


def _model_names(frame: pd.DataFrame) -> pd.Series:
    """An encoder's name, with its pretraining step where it has one."""
    return frame["encoder"] + np.where(frame["step"] >= 0, " @" + frame["step"].astype(str), "")


def plot_against_step(table: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Per task (a row each): probe score and E_s / E_delta against the encoder's pretraining
    step, with 95% intervals."""
    tasks = sorted(table["task"].unique())
    fig, axes = plt.subplots(len(tasks), 2, figsize=(7, 0.4 + 2.2 * len(tasks)), squeeze=False,
                             sharex=True)
    for (left, right), task in zip(axes, tasks, strict=True):
        frame = table[table["task"] == task].sort_values("step")
        for encoder, group in frame.groupby("encoder"):
            left.errorbar(group["step"], group["score"], yerr=_yerr(group, "score"), marker="o",
                          markersize=3, capsize=2, label=encoder)
            for name, marker in (("E_s", "o"), ("E_delta", "s")):
                if group[name].notna().any():
                    right.errorbar(group["step"], group[name], yerr=_yerr(group, name),
                                   marker=marker, markersize=3, capsize=2,
                                   label=f"{name.replace('_', ' ')} {encoder}")
        left.set(title=f"{task}: test score", ylabel="score")
        right.set(title=f"{task}: expected layer", ylabel="layer")
        right.legend(fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("pretraining step")
    return save_figure(fig, stem)


def save_figure(fig: plt.Figure, stem: str | Path) -> list[Path]:
    fig.tight_layout()
    paths = [Path(f"{stem}.{suffix}") for suffix in ("png", "pdf")]
    for path in paths:
        fig.savefig(path, dpi=150)
    plt.close(fig)
    return paths
