"""The runs of a report and their resampled scores: a configuration's score is the mean of its
seeds, with bootstrap samples over test sentences and seeds (probing/report/bootstrap.py),
computed once a run and metric."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from probing.report.archive import BASELINE, Statistics
from probing.report.bootstrap import SentenceDraws, seed_interval
from probing.report.family import FamilyReport, reports_of
from probing.report.pipeline import task_rank
from probing.runs.record import PREDICTIONS_NAME, Predictions, RunRecord
from probing.utils.errors import ProbingError

KEYS = ["task", "encoder", "step"]


def step_of(record: RunRecord) -> int:
    """The pretraining step, -1 for an encoder that has none."""
    return -1 if record.step is None else int(record.step)


def layer_of(record: RunRecord) -> int:
    return -1 if record.layer is None else int(record.layer)


@dataclass(frozen=True)
class Scores:
    """One configuration's statistic: the mean of its seeds and its bootstrap samples."""

    point: float
    samples: np.ndarray | None  # (resamples,), None where a run saved no predictions
    seeds: int
    draws: tuple[str, int] | None = None  # the sentence draws (equal: paired resamples)


NONE = Scores(float("nan"), None, 0)


class Study:
    """The runs of a report, grouped, with resampled scores, and the reports of their
    families (probing/report/family.py), in rank order."""

    def __init__(self, records: list[RunRecord], resamples: int, seed: int,
                 statistics: Statistics | None = None,
                 archived: frozenset[Path] = frozenset()) -> None:
        """`resamples` is the fewest drawn: a family whose tests need more (the edge report's
        orders, so that the p-value floor decides none) raises it (`requested` keeps it).
        `statistics`: per-sentence statistics of runs whose predictions are not at hand (a
        committed report's, probing/report/archive.py), and `archived` the folders of records
        read from one, whose predictions are never read (a newer run may sit at that folder
        now); `used` collects the statistics every resampled score came from, for the report to
        commit."""
        self.records, self.requested, self.seed = records, resamples, seed
        self.reports: dict[str, FamilyReport] = reports_of(records)
        self.resamples = max(resamples, *(
            report.resamples_needed([r for r in records if r.family == family])
            for family, report in self.reports.items()))
        self.draws = SentenceDraws(self.resamples, seed)
        self._predictions: dict[Path, Predictions | None] = {}
        self._samples: dict[tuple[Path, str], np.ndarray | None] = {}
        self.stored: Statistics = statistics or {}
        self.archived = archived
        self.used: Statistics = {}
        # runs whose predictions hold too little for a metric asked of them, and those metrics
        self.unusable: dict[Path, list[str]] = {}

    def predictions(self, record: RunRecord) -> Predictions | None:
        if record.folder not in self._predictions:
            self._predictions[record.folder] = (None if record.folder in self.archived
                                                else Predictions.load(record.folder))
        return self._predictions[record.folder]

    def report_of(self, record: RunRecord) -> FamilyReport:
        return self.reports[record.family]

    @property
    def main_family(self) -> str | None:
        """The family of lowest rank among the runs (the edge probe where it ran): whose seeds
        the notes on intervals count."""
        return next(iter(self.reports), None)

    @property
    def without_predictions(self) -> list[RunRecord]:
        """Runs of a family that saves predictions whose predictions.npz is missing (an MDL
        run's holds its final probe's, for the interval of its final score)."""
        stored = {run for run, _ in self.stored}
        return [r for r in self.records if self.report_of(r).saves_predictions
                and self.predictions(r) is None and str(r.folder) not in stored]

    def test_sentences(self, record: RunRecord) -> tuple[str, int]:
        """The key of a run's sentence draws: its test file and its number of sentences."""
        test = (record.task_info.get("files") or {}).get("test") or record.corpus
        n = (record.sizes.get("test") or {}).get("sentences")
        if n is None:
            predictions = self.predictions(record)
            n = 0 if predictions is None else int(predictions["sentence"].max(initial=-1)) + 1
        return str(test), int(n)

    def run_samples(self, record: RunRecord, metric: str) -> np.ndarray | None:
        """One run's `metric` on every resample of its test sentences; None where it saved no
        predictions or none that give this metric, and no statistics of it are stored."""
        key = (record.folder, metric)
        if key not in self._samples:
            predictions = self.predictions(record)
            usable = predictions is not None and self.report_of(record).can_resample(
                predictions.arrays, metric)
            if predictions is not None and not usable:
                self.unusable.setdefault(record.folder, []).append(metric)
            self._samples[key] = (self._resampled(record, predictions, metric) if usable
                                  else self._from_stored(record, metric, baseline=False))
        return self._samples[key]

    def _resampled(self, record: RunRecord, predictions: Predictions, metric: str,
                   predicted: np.ndarray | None = None) -> np.ndarray:
        """From the run's predictions, through its per-sentence statistics where the metric
        has them (kept in `used`), so that a committed report recomputes the same numbers."""
        counts = self.draws.counts(*self.test_sentences(record))
        sentence = predictions["sentence"]
        if len(sentence) and (sentence.min() < 0 or sentence.max() >= counts.shape[1]):
            raise ProbingError(f"{record.folder / PREDICTIONS_NAME}: sentence indices "
                               f"{sentence.min()}..{sentence.max()} outside the test split's "
                               f"{counts.shape[1]} sentences; rerun that run")
        report = self.report_of(record)
        statistics = report.statistics(record, predictions.arrays, metric, counts.shape[1],
                                       predicted)
        if statistics is None:
            return report.resample(record, predictions.arrays, counts, metric, predicted)
        self.used[self._statistics_key(record, metric, predicted is not None)] = statistics
        return report.resample_statistics(record, statistics, counts, metric)

    def _statistics_key(self, record: RunRecord, metric: str, baseline: bool
                        ) -> tuple[str, str]:
        """Where a run's statistics of `metric` (of the majority baseline's answers, with
        `baseline`) are kept: one entry per metric, or one for all of a family's metrics."""
        name = metric if self.report_of(record).statistics_by_metric else "per_sentence"
        return str(record.folder), f"{BASELINE}{name}" if baseline else name

    def _from_stored(self, record: RunRecord, metric: str, baseline: bool
                     ) -> np.ndarray | None:
        key = self._statistics_key(record, metric, baseline)
        statistics = self.stored.get(key)
        if statistics is None:
            return None
        self.used[key] = statistics
        counts = self.draws.counts(*self.test_sentences(record))
        rows = {len(v) for v in statistics.values()}
        if rows != {counts.shape[1]}:
            raise ProbingError(f"{record.folder}: its stored statistics of {key[1]} have "
                               f"{sorted(rows)} rows, its record {counts.shape[1]} test "
                               f"sentences; write the report again from the run folders")
        return self.report_of(record).resample_statistics(record, statistics, counts, metric)

    def scores(self, runs: list[RunRecord], metric: str | None = None) -> Scores:
        """The configuration's `metric` (default: each run's own) on test: the mean of its
        seeds, resampled over sentences and seeds."""
        if not runs:
            return NONE
        name = metric or runs[0].metric
        runs = sorted(runs, key=lambda r: r.seed)  # seed j of every configuration drawn alike
        values = [self.report_of(r).point(r, name) for r in runs]
        samples = [self.run_samples(run, name) for run in runs]
        draws = self.test_sentences(runs[0])
        if any(s is None for s in samples):
            return Scores(float(np.mean(values)), None, len(runs), draws)
        return Scores(float(np.mean(values)), self.draws.over_seeds(np.stack(samples)),
                      len(runs), draws)

    def baseline(self, runs: list[RunRecord]) -> Scores:
        """The majority baseline on test, resampled like the runs where its label is known."""
        if not runs:
            return NONE
        run = runs[0]
        predictions = self.predictions(run)
        samples = None
        if (predictions is not None and run.baseline_label in run.labels
                and "gold" in predictions.arrays):
            gold = predictions["gold"]
            label = run.labels.index(run.baseline_label)
            majority = np.full_like(gold, label) if gold.ndim == 1 else np.zeros_like(gold)
            if gold.ndim > 1:
                majority[:, label] = 1
            samples = self._resampled(run, predictions, run.metric, majority)
        elif predictions is None:
            samples = self._from_stored(run, run.metric, baseline=True)
        return Scores(run.baseline, samples, 1, self.test_sentences(run))

    def groups(self, family: str, control: bool | None = False
               ) -> dict[tuple, list[RunRecord]]:
        """A family's runs by (task, encoder, step), tasks in pipeline order; only the control
        runs, only the others, or all."""
        grouped: dict[tuple, list[RunRecord]] = {}
        for r in self.records:
            if r.family == family and (control is None or r.control == control):
                grouped.setdefault((r.task, r.encoder, step_of(r)), []).append(r)
        return dict(sorted(grouped.items(), key=lambda kv: (kv[0][1], kv[0][2],
                                                            task_rank(kv[0][0]))))

    @staticmethod
    def select(runs: list[RunRecord], mode: str, layer: int | None = None) -> list[RunRecord]:
        return [r for r in runs if r.mode == mode and (layer is None or r.layer == layer)]

    @staticmethod
    def n_layers(runs: list[RunRecord]) -> int:
        return max(r.n_layers for r in runs)

    def by_layer(self, runs: list[RunRecord], mode: str, metric: str | None = None
                 ) -> list[Scores]:
        return [self.scores(self.select(runs, mode, layer), metric)
                for layer in range(self.n_layers(runs))]

    def weights(self, runs: list[RunRecord], field: str = "mixing_weights"
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """A per-layer field of the mix runs (the mixing weights; `layer_norms`,
        `weighted_norms`): mean, t-interval bounds over seeds, seeds; NaN where no mix run
        has it."""
        mix = [r.family_fields[field] for r in self.select(runs, "all")
               if r.family_fields.get(field) is not None]
        if not mix:
            nan = np.full(self.n_layers(runs), np.nan)
            return nan, nan, nan, 0
        return (*seed_interval(np.array(mix)), len(mix))

    def center_of_gravity(self, runs: list[RunRecord]) -> tuple[float, float, float, int]:
        """E_s of the mix runs: mean, t-interval bounds over seeds, seeds."""
        mix = [r for r in self.select(runs, "all") if r.weights is not None]
        if not mix:
            return float("nan"), float("nan"), float("nan"), 0
        mean, lo, hi = seed_interval(np.array([r.center_of_gravity for r in mix]))
        return float(mean), float(lo), float(hi), len(mix)

    def seeds(self, family: str | None) -> dict[str, list[int]]:
        """How many seeds each kind of configuration ran with: {kind: sorted distinct k}."""
        configs: dict[tuple, int] = {}
        for r in self.records:
            if r.family == family:
                key = (r.task, r.encoder, step_of(r), r.control, r.mode, layer_of(r),
                       self.report_of(r).variant(r))
                configs[key] = configs.get(key, 0) + 1
        kinds: dict[str, set[int]] = {}
        for (_, _, _, control, mode, _, _), k in configs.items():
            kinds.setdefault("control" if control else mode, set()).add(k)
        return {kind: sorted(ks) for kind, ks in sorted(kinds.items())}
