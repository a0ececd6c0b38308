"""Tenney et al. (2019) Figure 1 per encoder, and the tasks x layers heatmap of the weights."""

import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from probing.report.pipeline import in_pipeline_order
from probing.report.plots import SMALL, integer_layers, yerr
from probing.runs.figure import COLORS, save_figure

MIX = "$E_s$"
CUMULATIVE = r"$E_\Delta$"


def _bounds(stats: pd.Series, name: str) -> str:
    lo, hi = stats.get(f"{name}_lo"), stats.get(f"{name}_hi")
    if lo is None or hi is None or np.isnan(lo) or np.isnan(hi) or f"{lo:.2f}" == f"{hi:.2f}":
        return ""
    return f" [{lo:.2f}, {hi:.2f}]"


def _mark(ax: plt.Axes, stats: pd.Series, name: str, low: float, high: float) -> None:
    """A dashed line at the expected layer and its interval shaded, inside the axis only."""
    value = stats[name]
    if np.isnan(value):
        return
    lo, hi = stats.get(f"{name}_lo", np.nan), stats.get(f"{name}_hi", np.nan)
    if not (np.isnan(lo) or np.isnan(hi)):
        ax.axvspan(max(lo, low), min(hi, high), color=COLORS["mark"], alpha=0.12, linewidth=0)
    if low <= value <= high:
        ax.axvline(value, color=COLORS["mark"], linestyle="--", linewidth=1)


def _defined(stats: pd.Series) -> bool | None:
    """E_delta_defined: True, False (undefined), None (a prefix 0..l did not run)."""
    flag = stats.get("E_delta_defined")
    return None if flag is None or (isinstance(flag, float) and np.isnan(flag)) else bool(flag)


def _e_delta_title(stats: pd.Series) -> str:
    if _defined(stats) is None:
        return f"{CUMULATIVE}: not every prefix 0..l ran"
    if not _defined(stats):
        return f"{CUMULATIVE} undefined: the gain's interval includes 0"
    return (f"{CUMULATIVE} = {stats['E_delta']:.2f}{_bounds(stats, 'E_delta')}; "
            f"clipped {stats['E_delta_clipped']:.2f}")


def plot_summary(layers: pd.DataFrame, expected: pd.DataFrame, orders: list[str], title: str,
                 stem: str | Path) -> list[Path]:
    """A row per task in pipeline order; per layer the mixing weights s_l (left, t-intervals
    over seeds) and the cumulative gains Delta_l of layers 1..L (right, bootstrap intervals)
    as bars; E_s and E_delta as dashed lines with their intervals shaded and their values
    above each panel; below, the orders of E_delta that hold at 95% (Holm)."""
    tasks = [t for t in in_pipeline_order(expected["task"].tolist())
             if t in set(layers["task"])]
    top = int(layers["layer"].max())
    fig = plt.figure(figsize=(7, 0.9 + 1.45 * len(tasks)), layout="constrained")
    grid = fig.add_gridspec(len(tasks) + 1, 2, height_ratios=[1.0] * len(tasks) + [0.3])
    for row, task in enumerate(tasks):
        frame = layers[layers["task"] == task]
        stats = expected[expected["task"] == task].iloc[0]
        left, right = fig.add_subplot(grid[row, 0]), fig.add_subplot(grid[row, 1])
        left.bar(frame["layer"], frame["weight"].fillna(0), yerr=yerr(frame, "weight"),
                 color=COLORS["weight"], error_kw={"elinewidth": 0.8, "capsize": 1.5})
        left.set_xlim(-0.6, top + 0.6)
        _mark(left, stats, "E_s", -0.6, top + 0.6)
        left.set_title(f"{task}: {MIX} = {stats['E_s']:.2f}{_bounds(stats, 'E_s')}",
                       fontsize=SMALL, loc="left")
        left.set_ylabel("mixing weight $s_l$", fontsize=SMALL)
        gains = frame[frame["layer"] >= 1]
        right.bar(gains["layer"], gains["delta"].fillna(0), yerr=yerr(gains, "delta"),
                  color=COLORS["delta"], error_kw={"elinewidth": 0.8, "capsize": 1.5})
        right.set_xlim(0.4, top + 0.6)
        if _defined(stats):
            _mark(right, stats, "E_delta", 0.4, top + 0.6)
        right.set_title(_e_delta_title(stats), fontsize=SMALL, loc="left")
        right.set_ylabel(rf"gain $\Delta_l$ ({stats['metric']})", fontsize=SMALL)
        for ax in (left, right):
            ax.axhline(0, color="black", linewidth=0.5)
            integer_layers(ax)
            if row == len(tasks) - 1:
                ax.set_xlabel("layer", fontsize=8)
    note = fig.add_subplot(grid[len(tasks), :])
    note.axis("off")
    text = ("orders of " + CUMULATIVE + " that hold at 95% (bootstrap, Holm over the pairs): "
            + ("; ".join(orders) if orders else "none"))
    note.text(0, 1, textwrap.fill(text, 110), fontsize=SMALL, va="top", ha="left",
              transform=note.transAxes)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, stem)


def plot_weights_heatmap(layers: pd.DataFrame, title: str, stem: str | Path) -> list[Path]:
    """Tasks (pipeline order) x layers heatmap of the mean mixing weights."""
    table = layers.pivot_table(index="task", columns="layer", values="weight", dropna=False)
    table = table.reindex(in_pipeline_order(table.index.tolist()))
    fig, ax = plt.subplots(figsize=(min(7.0, 1.8 + 0.45 * table.shape[1]),
                                    max(2.0, 0.9 + 0.35 * table.shape[0])))
    sns.heatmap(table, annot=table.shape[1] <= 13, fmt=".2f", annot_kws={"fontsize": 6},
                cmap="viridis", cbar_kws={"label": "mixing weight $s_l$"}, ax=ax)
    ax.set(title=title, xlabel="layer", ylabel="")
    ax.tick_params(axis="y", rotation=0)
    return save_figure(fig, stem)
