"""The structural probes' reports: how their tree metrics are resampled, and their columns of
the layer profile (UUAS and DSpr of the distance probe, root accuracy and NSpr of the depth
probe, each layer alone).

A structural probe saves per-sentence statistics, not labels; a resample of the test sentences
aggregates the drawn sentences' sums as the probe aggregates its test set (metrics.py), DSpr
and NSpr per sentence length, then over lengths."""

import warnings
from typing import Any, ClassVar

import numpy as np

from probing.probes.structural import metrics
from probing.report.family import Arrays, FamilyReport, Panel
from probing.report.rows import with_scores
from probing.report.study import Study
from probing.runs.record import RunRecord

# metric -> (per-sentence statistics, weights (resamples, sentences)) -> (resamples,) scores
TREE_METRICS = {"uuas": metrics.uuas, "dspr": metrics.distance_spearman,
                "root_accuracy": metrics.root_accuracy, "nspr": metrics.depth_spearman}


def tree_scores(arrays: Arrays, counts: np.ndarray, metric: str) -> np.ndarray:
    """A tree metric of per-sentence statistics on every resample of sentences."""
    weights = counts[:, np.asarray(arrays["sentence"], dtype=np.int64)].astype(np.float64)
    with warnings.catch_warnings():  # a resample without a sentence of 5-50 words: NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(TREE_METRICS[metric](arrays, weights), dtype=float)


class StructuralReport(FamilyReport):
    measures: ClassVar[tuple[str, ...]]  # its metrics, as the layer profile shows them
    statistics_by_metric = False  # its per-sentence values give every tree metric

    def can_resample(self, arrays: Arrays, metric: str) -> bool:
        return metric in TREE_METRICS and "length" in arrays

    def statistics(self, record: RunRecord, arrays: Arrays, metric: str, n: int,
                   predicted: np.ndarray | None = None) -> Arrays | None:
        """Its predictions are per-sentence statistics already."""
        return dict(arrays)

    def resample_statistics(self, record: RunRecord, statistics: Arrays, counts: np.ndarray,
                            metric: str) -> np.ndarray:
        return tree_scores(statistics, counts, metric)

    def profile(self, study: Study, runs: list[RunRecord], n_layers: int
                ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = [{} for _ in range(n_layers)]
        for layer, row in enumerate(rows):
            for name in self.measures:
                with_scores(row, name, study.scores(study.select(runs, "single", layer), name))
        return rows


class DistanceReport(StructuralReport):
    family = "distance"
    rank = 20
    measures = ("uuas", "dspr")
    panels = (Panel(measures, "distance probe:\nUUAS, DSpr", legend=("UUAS", "DSpr")),)
    profile_resampled, per_length = ("UUAS", "DSpr"), ("DSpr",)



class DepthReport(StructuralReport):
    family = "depth"
    rank = 30
    measures = ("root_accuracy", "nspr")
    panels = (Panel(measures, "depth probe:\nroot acc., NSpr",
                    legend=("root accuracy", "NSpr")),)
    profile_resampled, per_length = ("root accuracy", "NSpr"), ("NSpr",)

