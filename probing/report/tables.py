"""Run records -> pandas tables of a study, every score with a 95% bootstrap interval.

Tenney et al.'s (2019) two summaries of where a task lives in the encoder:
- center of gravity of the mixing weights, E_s[l] = sum_l l * s_l (from `mix` runs);
- cumulative expected layer, E_delta[l] = sum_{l>=1} l * delta_l / sum_{l>=1} delta_l with
  delta_l = score(0..l) - score(0..l-1) (from `cumulative` runs over every layer).

A value `x` comes with `x_lo` and `x_hi`, the percentile interval of `probing.report.bootstrap`
(NaN where the runs saved no predictions to resample). Points are the records' own numbers
(means over seeds); the intervals resample test targets, paired across the runs of a task and
encoder, and seeds.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from probing.errors import ProbingError
from probing.report import bootstrap
from probing.report.bootstrap import cumulative_expected_layer, interval
from probing.report.record import RECORD_NAME, Predictions, RunRecord

KEYS = ["task", "encoder", "step"]

__all__ = ["KEYS", "Study", "cumulative_expected_layer", "expected_layers", "find_records",
           "layer_table", "load_records", "load_runs", "overview", "summary"]


class NoRecords(ProbingError):
    """No finished run under the folders given (a sweep whose every job failed, say)."""


def find_records(paths: Iterable[str | Path]) -> list[Path]:
    paths = list(map(Path, paths))
    found = sorted({p for path in paths
                    for p in ([path] if path.is_file() else path.rglob(RECORD_NAME))})
    if not found:
        raise NoRecords(f"no {RECORD_NAME} under {', '.join(map(str, paths))}; give the run "
                        "or sweep folders of finished probe runs")
    return found


def load_records(paths: Iterable[str | Path]) -> list[RunRecord]:
    records = [RunRecord.read(path) for path in find_records(paths)]
    check_one_encoder_per_name(records)
    return records


def check_one_encoder_per_name(records: list[RunRecord]) -> None:
    """Refuse runs that share an encoder name (and pretraining step) but not the encoder: the
    report groups runs by name, so two encoders, or one with two settings (words as the first
    or the mean of their pieces), would be averaged together without a word."""
    seen: dict[tuple, RunRecord] = {}
    for record in records:
        if record.encoder_fingerprint is None:
            continue
        first = seen.setdefault((record.encoder, record.step), record)
        if (first.encoder_fingerprint, first.encoder_settings) != (
                record.encoder_fingerprint, record.encoder_settings):
            raise ProbingError(
                f"runs named encoder {record.encoder!r} come from different encoders or "
                f"settings: {first.folder} ({_identity(first)}) and {record.folder} "
                f"({_identity(record)}); give each its own encoder.name=..., or report them "
                "separately")


def settings_text(record: RunRecord) -> str:
    """The encoder's alignment settings as `pooling=mean, stride=255`."""
    return ", ".join(f"{k}={v}" for k, v in sorted(record.encoder_settings.items()))


def _identity(record: RunRecord) -> str:
    settings = settings_text(record)
    return f"weights {record.encoder_fingerprint[:12]}" + (f", {settings}" if settings else "")


def _step(record: RunRecord) -> int:
    return -1 if record.step is None else int(record.step)


def _layer(record: RunRecord) -> int:
    return -1 if record.layer is None else int(record.layer)


def _with_interval(row: dict, name: str, point: float, samples: np.ndarray | None) -> None:
    lo, hi = interval(samples)
    row[name], row[f"{name}_lo"], row[f"{name}_hi"] = point, float(lo), float(hi)


@dataclass
class Scores:
    """One configuration's test score: the mean of its seeds and its bootstrap samples."""

    point: float
    samples: np.ndarray | None  # (resamples,), None where a run saved no predictions
    seeds: int


class Study:
    """The runs of a report and the bootstrap samples of their scores (computed once a run)."""

    def __init__(self, records: list[RunRecord], resamples: int = bootstrap.RESAMPLES,
                 seed: int = bootstrap.SEED):
        self.records, self.resamples, self.seed = records, resamples, seed
        self._samples: dict[Path, np.ndarray | None] = {}

    def run_samples(self, record: RunRecord) -> np.ndarray | None:
        if record.folder not in self._samples:
            predictions = Predictions.load(record.folder)
            self._samples[record.folder] = None if predictions is None else (
                bootstrap.target_scores(predictions["gold"], predictions["predicted"],
                                        record.metric, record.labeling,
                                        record.labels, self.resamples, self.seed))
        return self._samples[record.folder]

    def scores(self, runs: list[RunRecord]) -> Scores:
        if not runs:
            return Scores(float("nan"), None, 0)
        samples = [self.run_samples(run) for run in runs]
        point = float(np.mean([run.score for run in runs]))
        if any(s is None for s in samples):
            return Scores(point, None, len(runs))
        return Scores(point, bootstrap.over_seeds(np.stack(samples), self.resamples, self.seed),
                      len(runs))

    def baseline(self, runs: list[RunRecord]) -> Scores:
        """The majority baseline on test, resampled like the runs where its label is known."""
        if not runs:
            return Scores(float("nan"), None, 0)
        run = runs[0]
        predictions = Predictions.load(run.folder)
        samples = None
        if predictions is not None and run.baseline_label in run.labels:
            gold = predictions["gold"]
            label = run.labels.index(run.baseline_label)
            if gold.ndim == 1:
                majority = np.full_like(gold, label)
            else:
                majority = np.zeros_like(gold)
                majority[:, label] = 1
            samples = bootstrap.target_scores(gold, majority, run.metric, run.labeling,
                                              run.labels, self.resamples, self.seed)
        return Scores(run.baseline, samples, 1)

    def groups(self, control: bool | None = False) -> dict[tuple, list[RunRecord]]:
        """Runs by (task, encoder, step); only the control runs, only the others, or all."""
        grouped: dict[tuple, list[RunRecord]] = {}
        for record in self.records:
            if control is None or record.control == control:
                grouped.setdefault((record.task, record.encoder, _step(record)), []).append(record)
        return dict(sorted(grouped.items()))

    def select(self, runs: list[RunRecord], mode: str, layer: int | None = None
               ) -> list[RunRecord]:
        return [r for r in runs if r.mode == mode and (layer is None or r.layer == layer)]

    def n_layers(self, runs: list[RunRecord]) -> int:
        return max(r.n_layers for r in runs)

    def by_layer(self, runs: list[RunRecord], mode: str) -> list[Scores]:
        return [self.scores(self.select(runs, mode, layer)) for layer in range(self.n_layers(runs))]

    def weights(self, runs: list[RunRecord]) -> tuple[np.ndarray, np.ndarray | None]:
        """Mean mixing weights of the mix runs, and their seed-bootstrap samples."""
        mix = self.select(runs, "all")
        if not mix:
            return np.full(self.n_layers(runs), np.nan), None
        values = np.array([r.weights for r in mix])
        return values.mean(axis=0), bootstrap.seed_values(values, self.resamples, self.seed)

    def center_of_gravity(self, runs: list[RunRecord]) -> Scores:
        mix = self.select(runs, "all")
        if not mix:
            return Scores(float("nan"), None, 0)
        values = np.array([r.center_of_gravity for r in mix])
        return Scores(float(values.mean()),
                      bootstrap.seed_values(values, self.resamples, self.seed), len(mix))

    def cumulative_expected_layer(self, runs: list[RunRecord]) -> Scores:
        cumulative = self.by_layer(runs, "cumulative")
        point = cumulative_expected_layer(np.array([s.point for s in cumulative]))
        if any(s.samples is None for s in cumulative):
            return Scores(point, None, 0)
        samples = cumulative_expected_layer(np.stack([s.samples for s in cumulative]))
        return Scores(point, samples, 0)


def runs_table(study: Study) -> pd.DataFrame:
    """One row per run: what was probed, how, and what came out."""
    return pd.DataFrame([{
        "task": r.task, "encoder": r.encoder, "encoder_settings": settings_text(r),
        "step": _step(r), "control": r.control, "mode": r.mode, "layer": _layer(r),
        "seed": r.seed, "metric": r.metric, "score": r.score,
        "dev_score": r.dev.get(r.metric, float("nan")), "baseline": r.baseline,
        "center_of_gravity": r.center_of_gravity, "gamma": r.gamma, "n_layers": r.n_layers,
        "run": str(r.folder)} for r in study.records])


def summary(study: Study) -> pd.DataFrame:
    """Test score of every configuration: mean over seeds, spread, interval."""
    configs: dict[tuple, list[RunRecord]] = {}
    for r in study.records:
        key = (r.task, r.encoder, _step(r), r.control, r.mode, _layer(r), r.metric)
        configs.setdefault(key, []).append(r)
    rows = []
    for key, runs in sorted(configs.items()):
        row = dict(zip([*KEYS, "control", "mode", "layer", "metric"], key, strict=True))
        scores = study.scores(runs)
        _with_interval(row, "score", scores.point, scores.samples)
        row["score_std"] = float(np.std([r.score for r in runs], ddof=1)) if len(runs) > 1 \
            else float("nan")
        row["center_of_gravity"] = float(np.mean([r.center_of_gravity for r in runs]))
        row["seeds"] = len({r.seed for r in runs})
        rows.append(row)
    return pd.DataFrame(rows)


def layer_table(study: Study) -> pd.DataFrame:
    """Per task, encoder and step, one row per layer: mixing weight, single-layer score,
    cumulative score and its gain delta_l over layers 0..l-1, each with its interval."""
    rows = []
    for key, runs in study.groups().items():
        weights, weight_samples = study.weights(runs)
        single, cumulative = study.by_layer(runs, "single"), study.by_layer(runs, "cumulative")
        for layer in range(study.n_layers(runs)):
            row = dict(zip(KEYS, key, strict=True), layer=layer)
            _with_interval(row, "weight", float(weights[layer]),
                           None if weight_samples is None else weight_samples[:, layer])
            _with_interval(row, "single", single[layer].point, single[layer].samples)
            _with_interval(row, "cumulative", cumulative[layer].point, cumulative[layer].samples)
            if layer == 0:
                _with_interval(row, "delta", float("nan"), None)
            else:
                before, now = cumulative[layer - 1], cumulative[layer]
                paired = None if before.samples is None or now.samples is None else (
                    now.samples - before.samples)
                _with_interval(row, "delta", now.point - before.point, paired)
            rows.append(row)
    return pd.DataFrame(rows)


def expected_layers(study: Study) -> pd.DataFrame:
    """Score and E_s of the `mix` runs, and E_delta of the `cumulative` runs, per task,
    encoder and step; E_delta is missing until every layer's cumulative run is there."""
    rows = []
    for key, runs in study.groups().items():
        row = dict(zip(KEYS, key, strict=True))
        mix = study.scores(study.select(runs, "all"))
        _with_interval(row, "score", mix.point, mix.samples)
        e_s = study.center_of_gravity(runs)
        _with_interval(row, "E_s", e_s.point, e_s.samples)
        e_delta = study.cumulative_expected_layer(runs)
        _with_interval(row, "E_delta", e_delta.point, e_delta.samples)
        rows.append(row)
    return pd.DataFrame(rows)


def overview(study: Study) -> pd.DataFrame:
    """Per encoder and task (Tenney et al. 2019, Table 1 and 2 in one): majority baseline,
    P0 (layer 0 alone), the full mix, the best single layer, the control task's mix score and
    selectivity (mix - control, paired), E_s and E_delta; each with its interval."""
    controls = study.groups(control=True)
    rows = []
    for key, runs in study.groups().items():
        row = {"encoder": key[1], "task": key[0], "step": key[2], "metric": runs[0].metric,
               "n_layers": study.n_layers(runs)}
        majority = study.baseline(runs)
        _with_interval(row, "majority", majority.point, majority.samples)
        single = study.by_layer(runs, "single")
        _with_interval(row, "P0", single[0].point, single[0].samples)
        mix = study.scores(study.select(runs, "all"))
        _with_interval(row, "mix", mix.point, mix.samples)
        points = np.array([s.point for s in single])
        best = None if np.isnan(points).all() else int(np.nanargmax(points))
        row["best_layer"] = best  # None where no layer ran alone
        _with_interval(row, "best_single", float("nan") if best is None else single[best].point,
                       None if best is None else single[best].samples)
        control = study.scores(study.select(controls.get(key, []), "all"))
        _with_interval(row, "control", control.point, control.samples)
        paired = None if mix.samples is None or control.samples is None else (
            mix.samples - control.samples)
        _with_interval(row, "selectivity", mix.point - control.point, paired)
        for name, scores in (("E_s", study.center_of_gravity(runs)),
                             ("E_delta", study.cumulative_expected_layer(runs))):
            _with_interval(row, name, scores.point, scores.samples)
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame["best_layer"] = frame["best_layer"].astype("Int64")  # a layer number, not 3.000
    return frame


def load_runs(paths: Iterable[str | Path]) -> pd.DataFrame:
    """One row per run under `paths` (see `runs_table`)."""
    return runs_table(Study(load_records(paths)))


def with_intervals(frame: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """For reading: each `x` with `x_lo`, `x_hi` becomes one column "x [lo, hi]"."""
    shown = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        if column.endswith(("_lo", "_hi")) and column[:-3] in frame.columns:
            continue
        values = frame[column]
        if f"{column}_lo" in frame.columns:
            lo, hi = frame[f"{column}_lo"], frame[f"{column}_hi"]
            shown[column] = [_format(v, a, b, digits) for v, a, b in zip(values, lo, hi,
                                                                           strict=True)]
        elif pd.api.types.is_float_dtype(values):
            shown[column] = [_format(v, None, None, digits) for v in values]
        else:
            shown[column] = ["–" if v is None or v is pd.NA else str(v) for v in values]
    return shown


def _format(value: float, lo: float | None, hi: float | None, digits: int) -> str:
    if value is None or np.isnan(value):
        return "–"
    text = f"{value:.{digits}f}"
    # no interval where there is nothing to resample (E_s from one seed: every draw the same)
    if lo is not None and not np.isnan(lo) and lo != hi:
        text += f" [{lo:.{digits}f}, {hi:.{digits}f}]"
    return text
