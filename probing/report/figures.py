"""The figures a report draws, each a function of the report's tables: the report's own in
FIGURES, a family's in its report's `figures` (probing/report/family.py); the figures of the
layer analysis are here for any family's report to draw."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from probing.report.depth_plots import plot_against_step, plot_relative_depth
from probing.report.family import Figure, Panel
from probing.report.orders import supported_orders
from probing.report.plots import plot_layers, plot_scores_by_layer
from probing.report.profile_plots import plot_layer_profile
from probing.report.study import KEYS
from probing.report.summary_plot import plot_summary, plot_weights_heatmap


@dataclass
class Tables:
    """A report's tables by name (runs, summary, layer_profile and every family's), the panels
    of the layer profile, and the figure titles: what the figures are drawn from."""

    frames: dict[str, pd.DataFrame]
    titles: dict[tuple[str, int], str] = field(default_factory=dict)  # (encoder, step) ->
    panels: tuple[Panel, ...] = ()

    def __getitem__(self, name: str) -> pd.DataFrame:
        """The table `name`; an empty one where the study has none."""
        return self.frames.get(name, pd.DataFrame())


def name(*parts: object) -> str:
    return "_".join(str(p) for p in parts if p not in (None, "")).replace("/", "_")


def step_suffix(step: int) -> str:
    return f"step{step}" if step >= 0 else ""


def per_encoder(tables: Tables) -> Iterator[tuple[str, int, str, str]]:
    """(encoder, step, suffix, title) for every encoder and checkpoint step of the edge
    probe's layer analysis."""
    if tables["layers"].empty:
        return
    for (encoder, step), _ in tables["layers"].groupby(["encoder", "step"]):
        yield encoder, step, name(encoder, step_suffix(step)), tables.titles.get((encoder, step),
                                                                           encoder)


def _pick(frame: pd.DataFrame, encoder: str, step: int) -> pd.DataFrame:
    return frame[(frame["encoder"] == encoder) & (frame["step"] == step)]


def figure_layers(tables: Tables, out: Path) -> list[Path]:
    """Per task and encoder: mixing weights, single and cumulative scores."""
    if tables["layers"].empty:
        return []
    return [path for (task, encoder, step), group in tables["layers"].groupby(KEYS)
            for path in plot_layers(group, f"{task} · {tables.titles.get((encoder, step))}",
                                    out / name("layers", task, encoder, step_suffix(step)))]


def figure_summary(tables: Tables, out: Path) -> list[Path]:
    """(a) Tenney et al. Figure 1 per encoder: tasks in pipeline order, s_l and delta_l bars,
    E_s and E_delta with intervals, the orders that hold."""
    return [path for encoder, step, suffix, title in per_encoder(tables)
            for path in plot_summary(_pick(tables["layers"], encoder, step),
                                     _pick(tables["expected_layers"], encoder, step),
                                     supported_orders(tables["orders"], encoder, step), title,
                                     out / f"summary_{suffix}")]


def figure_heatmap(tables: Tables, out: Path) -> list[Path]:
    """(b) tasks x layers heatmap of the mixing weights, per encoder (that has mix runs)."""
    return [path for encoder, step, suffix, title in per_encoder(tables)
            if _pick(tables["layers"], encoder, step)["weight"].notna().any()
            for path in plot_weights_heatmap(_pick(tables["layers"], encoder, step),
                                             f"mixing weights · {title}",
                                             out / f"weights_heatmap_{suffix}")]


def figure_scores(tables: Tables, out: Path) -> list[Path]:
    """(c) single and cumulative scores against layer, every task, per encoder."""
    return [path for encoder, step, suffix, title in per_encoder(tables)
            for path in plot_scores_by_layer(_pick(tables["layers"], encoder, step), title,
                                             out / f"scores_by_layer_{suffix}")]


def figure_relative_depth(tables: Tables, out: Path) -> list[Path]:
    """(d) several encoders on the relative depth scale (only where there are several)."""
    if tables["layers"].empty or len(tables["layers"][["encoder", "step"]].drop_duplicates()) < 2:
        return []
    return plot_relative_depth(tables["layers"], tables["expected_layers"], out / "relative_depth")


def figure_against_step(tables: Tables, out: Path) -> list[Path]:
    """(e) score and expected layers against the pretraining step, per task."""
    if tables["expected_layers"].empty:
        return []
    stepped = tables["expected_layers"][tables["expected_layers"]["step"] >= 0]
    if stepped["step"].nunique() < 2:
        return []
    return plot_against_step(stepped, out / "against_step")


def figure_layer_profile(tables: Tables, out: Path) -> list[Path]:
    """(f) per encoder and task where a family ran that the other figures do not show (MDL,
    structural probes): every measure of the layer profile against the layer."""
    profile = tables["layer_profile"]
    if profile.empty:
        return []
    paths = []
    for (task, encoder, step), group in profile.groupby(KEYS):
        panels = [p for p in tables.panels if group[list(p.columns)].notna().any().any()]
        if any(not p.elsewhere for p in panels):
            title = f"layer profile · {task} · {tables.titles.get((encoder, step), encoder)}"
            stem = out / name("layer_profile", task, encoder, step_suffix(step))
            paths += plot_layer_profile(group, panels, title, stem)
    return paths


FIGURES: list[Figure] = [figure_layer_profile]
