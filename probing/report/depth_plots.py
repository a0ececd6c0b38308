"""Figures that compare encoders: mixing weights on a relative depth scale, and scores and
expected layers against the pretraining step."""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from probing.report.pipeline import in_pipeline_order
from probing.report.plots import SMALL, yerr
from probing.report.study import KEYS
from probing.runs.figure import save_figure


def _model_names(frame: pd.DataFrame) -> pd.Series:
    """An encoder's name, with its pretraining step where it has one."""
    return frame["encoder"] + np.where(frame["step"] >= 0, " @" + frame["step"].astype(str), "")


def plot_relative_depth(layers: pd.DataFrame, expected: pd.DataFrame,
                        stem: str | Path) -> list[Path]:
    """Several encoders in one panel a task (pipeline order), against relative depth
    layer / L (L the top layer), so a 3-layer ELMo and a 13-layer BERT compare. The weights
    are drawn as (L + 1) * s_l, the weight against the uniform mix's 1 / (L + 1); a dashed
    line marks each encoder's E_delta / L where it is defined."""
    sizes = layers.groupby(KEYS, as_index=False)["layer"].max()
    sizes["n_layers"] = sizes.pop("layer") + 1
    sizes["span"] = (sizes["n_layers"] - 1).clip(lower=1)  # a one-layer encoder sits at 0
    frame = layers.merge(sizes, on=KEYS)
    frame["depth"] = frame["layer"] / frame["span"]
    for name in ("weight", "weight_lo", "weight_hi"):
        frame[f"relative_{name}"] = frame[name] * frame["n_layers"]
    frame["model"] = _model_names(frame)
    centers = expected.merge(sizes[[*KEYS, "span"]], on=KEYS)
    centers["depth"] = centers["E_delta"] / centers["span"]
    centers["model"] = _model_names(centers)
    tasks = in_pipeline_order(frame["task"].tolist())
    columns = min(3, len(tasks))
    rows = -(-len(tasks) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(7 if columns > 1 else 3.4, 0.6 + 2.3 * rows),
                             squeeze=False, sharex=True, layout="constrained")
    models = sorted(frame["model"].unique())
    palette = dict(zip(models, sns.color_palette(n_colors=max(len(models), 1)), strict=False))
    for ax, task in zip(axes.flat, tasks, strict=False):
        for model, group in frame[frame["task"] == task].groupby("model"):
            ax.errorbar(group["depth"], group["relative_weight"],
                        yerr=yerr(group, "relative_weight"), marker="o", markersize=3,
                        capsize=2, linewidth=1, label=model, color=palette[model])
        shown = (centers["task"] == task) & centers["depth"].between(0, 1) & \
            centers["E_delta_defined"].eq(True)
        for _, center in centers[shown].iterrows():
            ax.axvline(center["depth"], color=palette.get(center["model"], "grey"),
                       linestyle="--", linewidth=0.8)
        ax.axhline(1.0, color="grey", linewidth=0.5)
        ax.set_title(task, fontsize=8)
        ax.set_xlabel("relative depth: layer / L", fontsize=SMALL)
        ax.set_ylabel("$(L+1) \\cdot s_l$", fontsize=SMALL)
        ax.tick_params(labelsize=SMALL)
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    handles = [plt.Line2D([], [], color=palette[m], marker="o", markersize=3) for m in models]
    fig.legend(handles, models, loc="outside lower center", ncols=min(4, len(models)),
               fontsize=SMALL, frameon=False)
    fig.suptitle("mixing weight against the uniform mix (1); dashed: $E_\\Delta$ / L",
                 fontsize=9)
    return save_figure(fig, stem)


def plot_against_step(table: pd.DataFrame, stem: str | Path) -> list[Path]:
    """Per task (a row each, pipeline order): probe score and E_s / E_delta against the
    encoder's pretraining step, with 95% intervals."""
    tasks = in_pipeline_order(table["task"].tolist())
    fig, axes = plt.subplots(len(tasks), 2, figsize=(7, 0.5 + 2.2 * len(tasks)), squeeze=False,
                             sharex=True, layout="constrained")
    symbols = {"E_s": "$E_s$", "E_delta": r"$E_\Delta$"}
    for (left, right), task in zip(axes, tasks, strict=True):
        frame = table[table["task"] == task].sort_values("step")
        for encoder, group in frame.groupby("encoder"):
            group = group.copy()
            undefined = ~group["E_delta_defined"].eq(True)  # "undefined" is not drawn
            group.loc[undefined, ["E_delta", "E_delta_lo", "E_delta_hi"]] = np.nan
            left.errorbar(group["step"], group["score"], yerr=yerr(group, "score"), marker="o",
                          markersize=3, capsize=2, label=encoder)
            for name, marker in (("E_s", "o"), ("E_delta", "s")):
                if group[name].notna().any():
                    right.errorbar(group["step"], group[name], yerr=yerr(group, name),
                                   marker=marker, markersize=3, capsize=2,
                                   label=f"{symbols[name]} {encoder}")
        left.set_title(task, fontsize=8)
        left.set_ylabel(f"test {frame['metric'].iloc[0]} (mix)", fontsize=SMALL)
        right.set_ylabel("expected layer", fontsize=SMALL)
        right.legend(fontsize=SMALL, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
        for ax in (left, right):
            ax.tick_params(labelsize=SMALL)
    for ax in axes[-1]:
        ax.set_xlabel("pretraining step", fontsize=SMALL)
    return save_figure(fig, stem)
