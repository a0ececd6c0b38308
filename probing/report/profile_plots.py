"""Figures beyond the layer analysis: the layer profile of a task (do the mixing weights agree
with measures that do not depend on a mix?), its panels given by the families' reports, and
the CKA heatmap of layer similarity."""

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from probing.report.family import Panel
from probing.report.plots import SMALL, integer_layers, legend_outside, yerr
from probing.runs.figure import COLORS, save_figure


def plot_layer_profile(profile: pd.DataFrame, panels: list[Panel], title: str,
                       stem: str | Path) -> list[Path]:
    """One encoder and task: a panel per measure against the layer (one shared axis), each
    with its 95% intervals (bootstrap for probe scores, t over seeds for weights and MDL)."""
    metric = (profile["metric"].iloc[0] if "metric" in profile else "") or "score"
    fig, axes = plt.subplots(len(panels), 1, figsize=(5.5, 0.6 + 1.5 * len(panels)),
                             sharex=True, squeeze=False, layout="constrained")
    palette = iter(sns.color_palette("deep", 8)[1:])
    for ax, panel in zip(axes[:, 0], panels, strict=True):
        columns, labels = panel.columns, dict(zip(panel.columns, panel.legend, strict=False))
        for column in columns:
            frame = profile.dropna(subset=[column])
            if panel.bars:
                ax.bar(frame["layer"], frame[column], yerr=yerr(frame, column),
                       color=COLORS["weight"], error_kw={"elinewidth": 0.8, "capsize": 1.5})
                continue
            ax.errorbar(frame["layer"], frame[column], yerr=yerr(frame, column), marker="o",
                        markersize=3, capsize=2, linewidth=1, color=next(palette),
                        label=labels.get(column, column))
        ax.set_ylabel(panel.label.format(metric=metric), fontsize=SMALL)
        integer_layers(ax)
        if len(columns) > 1:
            legend_outside(ax)
    axes[-1, 0].set_xlabel("layer", fontsize=8)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, stem)


def plot_cka(cells: pd.DataFrame, title: str, rows_of: str, columns_of: str,
             stem: str | Path) -> list[Path]:
    """Layers x layers heatmap of linear CKA (0 to 1)."""
    table = cells.pivot_table(index="layer_a", columns="layer_b", values="cka")
    width = min(7.0, 2.0 + 0.42 * table.shape[1])
    fig, ax = plt.subplots(figsize=(width, min(6.0, 1.2 + 0.38 * table.shape[0])))
    sns.heatmap(table, vmin=0, vmax=1, cmap="magma",
                annot=max(table.shape) <= 13, fmt=".2f", annot_kws={"fontsize": 6},
                cbar_kws={"label": "linear CKA"}, ax=ax)
    ax.invert_yaxis()  # layer 0 at the bottom, as on the other figures' layer axes
    ax.set_xlabel(f"layer of {columns_of}", fontsize=8)
    ax.set_ylabel(f"layer of {rows_of}", fontsize=8)
    ax.tick_params(labelsize=SMALL, rotation=0)
    ax.set_title(title, fontsize=9)
    return save_figure(fig, stem)
