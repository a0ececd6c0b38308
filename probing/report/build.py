"""The report of a set of probe runs: tables and figures (`python -m probing.report`).

Reads every results.json (and the predictions.npz beside it) under the given folders, and the
failure records and job folders of every sweep among them, and writes into --out (default
<first path>/report):

tables, each as .csv (numbers, `x`, `x_lo`, `x_hi`), .md and .tex (booktabs; "x [lo, hi]"):
  overview         per encoder and task: majority baseline, P0, mix, best single layer,
                   control and selectivity, E_s, E_delta
  layers           per layer: mixing weight, single-layer and cumulative score, delta_l
  expected_layers  per task, encoder and step: mix score, E_s, E_delta
  summary          per configuration: mean over seeds, spread, interval
  runs             one row per run (.csv only)
  failures         jobs of a sweep that failed or never finished (where any)
figures (.png and .pdf): see FIGURES.

Every interval is a 95% percentile bootstrap interval over test targets (paired across the
runs of a task and encoder) and seeds; see probing/report/bootstrap.py.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from probing.report import bootstrap
from probing.report.failures import SweepStatus, sweep_jobs, sweeps_under
from probing.report.plots import (
    plot_against_step,
    plot_layers,
    plot_relative_depth,
    plot_scores_by_layer,
    plot_summary,
    plot_weights_heatmap,
)
from probing.report.tables import (
    KEYS,
    NoRecords,
    Study,
    expected_layers,
    layer_table,
    load_records,
    overview,
    runs_table,
    summary,
    with_intervals,
)

log = logging.getLogger("probing")


@dataclass
class Tables:
    runs: pd.DataFrame
    summary: pd.DataFrame
    layers: pd.DataFrame
    expected: pd.DataFrame
    overview: pd.DataFrame
    sweeps: list[SweepStatus] = field(default_factory=list)


def _name(*parts: object) -> str:
    return "_".join(str(p) for p in parts if p not in (None, "")).replace("/", "_")


def _per_encoder(tables: Tables):
    """(encoder, step, suffix, title) for every encoder and checkpoint step."""
    for (encoder, step), _ in tables.layers.groupby(["encoder", "step"]):
        suffix = _name(encoder, f"step{step}" if step >= 0 else "")
        title = encoder + (f" · step {step}" if step >= 0 else "")
        yield encoder, step, suffix, title


def _pick(frame: pd.DataFrame, encoder: str, step: int) -> pd.DataFrame:
    return frame[(frame["encoder"] == encoder) & (frame["step"] == step)]


def figure_layers(tables: Tables, out: Path) -> list[Path]:
    """Per task and encoder: mixing weights, single and cumulative scores."""
    paths = []
    for (task, encoder, step), group in tables.layers.groupby(KEYS):
        title = f"{task} · {encoder}" + (f" · step {step}" if step >= 0 else "")
        paths += plot_layers(group, title,
                             out / _name("layers", task, encoder, f"step{step}" if step >= 0
                                         else ""))
    return paths


def figure_summary(tables: Tables, out: Path) -> list[Path]:
    """(a) Tenney et al. Figure 1 per encoder: tasks by E_delta, s_l and delta_l bars."""
    return [path for encoder, step, suffix, title in _per_encoder(tables)
            for path in plot_summary(_pick(tables.layers, encoder, step),
                                     _pick(tables.expected, encoder, step), title,
                                     out / f"summary_{suffix}")]


def figure_heatmap(tables: Tables, out: Path) -> list[Path]:
    """(b) tasks x layers heatmap of the mixing weights, per encoder (that has mix runs)."""
    return [path for encoder, step, suffix, title in _per_encoder(tables)
            if _pick(tables.layers, encoder, step)["weight"].notna().any()
            for path in plot_weights_heatmap(_pick(tables.layers, encoder, step),
                                             _pick(tables.expected, encoder, step),
                                             f"mixing weights · {title}",
                                             out / f"weights_heatmap_{suffix}")]


def figure_scores(tables: Tables, out: Path) -> list[Path]:
    """(c) single and cumulative scores against layer, every task, per encoder."""
    return [path for encoder, step, suffix, title in _per_encoder(tables)
            for path in plot_scores_by_layer(_pick(tables.layers, encoder, step), title,
                                             out / f"scores_by_layer_{suffix}")]


def figure_relative_depth(tables: Tables, out: Path) -> list[Path]:
    """(d) several encoders on the relative depth scale (only where there are several)."""
    models = tables.layers[["encoder", "step"]].drop_duplicates()
    if len(models) < 2:
        return []
    return plot_relative_depth(tables.layers, tables.expected, out / "relative_depth")


def figure_against_step(tables: Tables, out: Path) -> list[Path]:
    """(e) score and expected layers against the pretraining step, per task."""
    stepped = tables.expected[tables.expected["step"] >= 0]
    if stepped["step"].nunique() < 2:
        return []
    return plot_against_step(stepped, out / "against_step")


# The figures a report draws: a new figure is a function here and an entry in this list.
FIGURES: list[Callable[[Tables, Path], list[Path]]] = [
    figure_layers, figure_summary, figure_heatmap, figure_scores, figure_relative_depth,
    figure_against_step]


def write_table(frame: pd.DataFrame, out: Path, name: str, echo: bool = True) -> None:
    frame.to_csv(out / f"{name}.csv", index=False)
    if "step" in frame and (frame["step"] < 0).all():  # no checkpoint steps: no column to read
        frame = frame.drop(columns="step")
    shown = with_intervals(frame)
    markdown = shown.to_markdown(index=False)
    (out / f"{name}.md").write_text(markdown + "\n")
    (out / f"{name}.tex").write_text(shown.to_latex(index=False, escape=True))
    if echo:
        print(f"\n## {name}\n\n{markdown}")


def build_tables(paths: list[Path], resamples: int = bootstrap.RESAMPLES,
                 seed: int = bootstrap.SEED) -> Tables | None:
    """The tables of every run under `paths`; None where there is no run (only failures)."""
    try:
        records = load_records(paths)
    except NoRecords:
        if any(status.jobs for status in map(sweep_jobs, sweeps_under(paths))):
            return None
        raise
    study = Study(records, resamples, seed)
    return Tables(runs=runs_table(study), summary=summary(study), layers=layer_table(study),
                  expected=expected_layers(study), overview=overview(study))


def report(paths: list[Path], out: Path, resamples: int = bootstrap.RESAMPLES,
           seed: int = bootstrap.SEED) -> Tables | None:
    paths = [Path(p) for p in paths]
    out.mkdir(parents=True, exist_ok=True)
    sweeps = [sweep_jobs(sweep) for sweep in sweeps_under(paths)]
    failed = [row | {"sweep": status.sweep_dir} for status in sweeps for row in status.table()]
    if failed:
        failures = pd.DataFrame(failed)[["sweep", "job", "status", "overrides", "error_type",
                                         "first_line", "folder"]]
        failures["overrides"] = failures["overrides"].map(" ".join)
        failures["job"] = failures["job"].astype("Int64")  # a job number, not 1.000
        failures["folder"] = failures["folder"].fillna("")  # a job that never started
        write_table(failures, out, "failures")
        for status in sweeps:
            if status.not_done:
                log.warning("%s", status.message())
    tables = build_tables(paths, resamples, seed)
    if tables is None:
        print(f"\nno finished run; wrote the failures to {out}")
        return None
    tables.sweeps = sweeps
    tables.runs.to_csv(out / "runs.csv", index=False)
    write_table(tables.overview, out, "overview")
    write_table(tables.layers, out, "layers")
    write_table(tables.expected, out, "expected_layers")
    write_table(tables.summary, out, "summary", echo=False)
    for figure in FIGURES:
        figure(tables, out)
    print(f"\nwrote {out}")
    return tables
