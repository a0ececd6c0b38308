"""The figures a report draws, each a function of the report's tables: a new figure is a
function here and an entry in FIGURES."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from probing.report.depth_plots import plot_against_step, plot_relative_depth
from probing.report.orders import supported_orders
from probing.report.plots import plot_layers, plot_scores_by_layer
from probing.report.profile_plots import plot_cka, plot_layer_profile
from probing.report.study import KEYS
from probing.report.summary_plot import plot_summary, plot_weights_heatmap

PROFILE_MEASURES = ["compression", "uuas", "dspr", "root_accuracy", "nspr"]


@dataclass
class Tables:
    runs: pd.DataFrame
    summary: pd.DataFrame
    layers: pd.DataFrame
    expected: pd.DataFrame
    overview: pd.DataFrame
    orders: pd.DataFrame
    profile: pd.DataFrame
    mdl: pd.DataFrame
    cka: pd.DataFrame
    cka_matrix: pd.DataFrame
    titles: dict[tuple[str, int], str] = field(default_factory=dict)  # (encoder, step) ->


def name(*parts: object) -> str:
    return "_".join(str(p) for p in parts if p not in (None, "")).replace("/", "_")


def _step(step: int) -> str:
    return f"step{step}" if step >= 0 else ""


def per_encoder(tables: Tables) -> Iterator[tuple[str, int, str, str]]:
    """(encoder, step, suffix, title) for every encoder and checkpoint step of the edge
    probe's layer analysis."""
    if tables.layers.empty:
        return
    for (encoder, step), _ in tables.layers.groupby(["encoder", "step"]):
        yield encoder, step, name(encoder, _step(step)), tables.titles.get((encoder, step),
                                                                           encoder)


def _pick(frame: pd.DataFrame, encoder: str, step: int) -> pd.DataFrame:
    return frame[(frame["encoder"] == encoder) & (frame["step"] == step)]


def figure_layers(tables: Tables, out: Path) -> list[Path]:
    """Per task and encoder: mixing weights, single and cumulative scores."""
    if tables.layers.empty:
        return []
    return [path for (task, encoder, step), group in tables.layers.groupby(KEYS)
            for path in plot_layers(group, f"{task} · {tables.titles.get((encoder, step))}",
                                    out / name("layers", task, encoder, _step(step)))]


def figure_summary(tables: Tables, out: Path) -> list[Path]:
    """(a) Tenney et al. Figure 1 per encoder: tasks in pipeline order, s_l and delta_l bars,
    E_s and E_delta with intervals, the orders that hold."""
    return [path for encoder, step, suffix, title in per_encoder(tables)
            for path in plot_summary(_pick(tables.layers, encoder, step),
                                     _pick(tables.expected, encoder, step),
                                     supported_orders(tables.orders, encoder, step), title,
                                     out / f"summary_{suffix}")]


def figure_heatmap(tables: Tables, out: Path) -> list[Path]:
    """(b) tasks x layers heatmap of the mixing weights, per encoder (that has mix runs)."""
    return [path for encoder, step, suffix, title in per_encoder(tables)
            if _pick(tables.layers, encoder, step)["weight"].notna().any()
            for path in plot_weights_heatmap(_pick(tables.layers, encoder, step),
                                             f"mixing weights · {title}",
                                             out / f"weights_heatmap_{suffix}")]


def figure_scores(tables: Tables, out: Path) -> list[Path]:
    """(c) single and cumulative scores against layer, every task, per encoder."""
    return [path for encoder, step, suffix, title in per_encoder(tables)
            for path in plot_scores_by_layer(_pick(tables.layers, encoder, step), title,
                                             out / f"scores_by_layer_{suffix}")]


def figure_relative_depth(tables: Tables, out: Path) -> list[Path]:
    """(d) several encoders on the relative depth scale (only where there are several)."""
    if tables.layers.empty or len(tables.layers[["encoder", "step"]].drop_duplicates()) < 2:
        return []
    return plot_relative_depth(tables.layers, tables.expected, out / "relative_depth")


def figure_against_step(tables: Tables, out: Path) -> list[Path]:
    """(e) score and expected layers against the pretraining step, per task."""
    if tables.expected.empty:
        return []
    stepped = tables.expected[tables.expected["step"] >= 0]
    if stepped["step"].nunique() < 2:
        return []
    return plot_against_step(stepped, out / "against_step")


def figure_layer_profile(tables: Tables, out: Path) -> list[Path]:
    """(f) per encoder and task where MDL or structural probes ran: every measure against
    the layer beside the mixing weights."""
    if tables.profile.empty:
        return []
    paths = []
    for (task, encoder, step), group in tables.profile.groupby(KEYS):
        if group[PROFILE_MEASURES].notna().any().any():
            title = f"layer profile · {task} · {tables.titles.get((encoder, step), encoder)}"
            paths += plot_layer_profile(group, title, out / name("layer_profile", task,
                                                                 encoder, _step(step)))
    return paths


def figure_cka(tables: Tables, out: Path) -> list[Path]:
    """(g) CKA between the layers of an encoder, and against another encoder where run."""
    if tables.cka_matrix.empty:
        return []
    paths = []
    keys = ["encoder", "step", "task", "debiased", "against"]
    for (encoder, step, task, debiased, against), cells in tables.cka_matrix.groupby(
            keys, dropna=False):
        estimator = "debiased" if debiased else ""
        title = (f"linear CKA{' (debiased)' if debiased else ''} · {encoder}"
                 f"{' vs ' + against if against else ''} · {task} test words")
        paths += plot_cka(cells, title, encoder, against or encoder,
                          out / name("cka", encoder, _step(step), task, estimator,
                                     f"vs_{against}" if against else ""))
    return paths


FIGURES: list[Callable[[Tables, Path], list[Path]]] = [
    figure_layers, figure_summary, figure_heatmap, figure_scores, figure_relative_depth,
    figure_against_step, figure_layer_profile, figure_cka]
