"""What a probe family brings to the report: how its scores are resampled, its tables with
their notes, its figures, and its columns of the layer profile.

A family names its report in every record it writes (`probe.report` in results.json: the
qualified name of a `FamilyReport` subclass, kept in the family's own folder); the report
loads the reports its records name and never imports a family itself. A record written
before records named their report names its family's class in its config
(`probe._target_`), whose `report` attribute says the same.

The default report is a trained family's whose predictions are a labelling (gold and
predicted label indices): its scores are resampled by the labelling the record names
(`Labeling.resampled`), so a task's own metric needs nothing here either.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from hydra.utils import get_class

from probing.runs.record import RunRecord
from probing.utils.errors import ProbingError

if TYPE_CHECKING:  # the notes and the study read the reports: only their types here
    from probing.report.figures import Tables
    from probing.report.notes import Notes
    from probing.report.study import Study

Arrays = dict[str, np.ndarray]
Figure = Callable[["Tables", Path], list[Path]]


@dataclass(frozen=True)
class Table:
    """A table of the report: `build` makes it from the study (empty: not written), `notes`
    says what its intervals resampled and how its columns are defined; `echo`: printed."""

    name: str
    build: Callable[["Study"], pd.DataFrame]
    notes: Callable[["Notes"], list[str]]
    echo: bool = False


@dataclass(frozen=True)
class Panel:
    """A panel of the layer-profile figure: columns of the profile drawn against the layer.
    `elsewhere`: another figure shows it already, so it alone calls for no profile figure."""

    columns: tuple[str, ...]
    label: str  # the y axis; `{metric}` is the edge probe's metric
    bars: bool = False
    legend: tuple[str, ...] = ()  # a name for each column where there are several
    elsewhere: bool = False


class FamilyReport:
    """The report of one probe family (`family`, as its records name it)."""

    family: str
    rank: int = 100  # where its tables, figures and profile columns come among the families'
    score_resampled: bool = True  # False: its score (the record's metric) is a mean over
    # seeds with a t interval, not resampled over test sentences
    saves_predictions: bool = True  # its runs save predictions.npz (else none is missing)
    statistics_by_metric: bool = True  # False: one set of statistics serves all its metrics
    variants: tuple[str, ...] = ()  # its fields that set runs of one selection apart
    tables: tuple[Table, ...] = ()
    figures: tuple[Figure, ...] = ()
    panels: tuple[Panel, ...] = ()  # its part of the layer-profile figure
    # what the layer profile's notes say of its columns: measures resampled over sentences
    # (in words; those aggregated per sentence length), and those with t intervals over seeds
    profile_resampled: tuple[str, ...] = ()
    per_length: tuple[str, ...] = ()
    profile_seed_only: tuple[str, ...] = ()

    def point(self, record: RunRecord, metric: str) -> float:
        """The run's test value of `metric` (one its report resamples)."""
        return float(record.test.get(metric, float("nan")))

    def can_resample(self, arrays: Arrays, metric: str) -> bool:
        """Whether these predictions hold what `metric` needs."""
        return "gold" in arrays and "predicted" in arrays

    def statistics(self, record: RunRecord, arrays: Arrays, metric: str, n: int,
                   predicted: np.ndarray | None = None) -> Arrays | None:
        """Per test sentence (n of them), what resampling `metric` needs of the run's test
        predictions (`predicted` in place of the run's: a baseline's answers): the sums of the
        counts the metric is a function of. Small enough to commit (probing/report/archive.py);
        None where the metric is no such function (then it is resampled from the predictions
        alone)."""
        sums = labeling_of(record).sentence_sums(
            metric, arrays["gold"], arrays["predicted"] if predicted is None else predicted,
            arrays["sentence"], n, record.labels)
        return None if sums is None else {"sums": sums}

    def resample_statistics(self, record: RunRecord, statistics: Arrays, counts: np.ndarray,
                            metric: str) -> np.ndarray:
        """The run's `metric` on every resample of its test sentences (`counts`, resamples x
        sentences) from its `statistics`: (resamples,)."""
        return labeling_of(record).of_sums(metric, counts @ statistics["sums"], record.labels)

    def resample(self, record: RunRecord, arrays: Arrays, counts: np.ndarray, metric: str,
                 predicted: np.ndarray | None = None) -> np.ndarray:
        """The run's `metric` on every resample from its predictions, where it has no
        statistics (a metric that is no function of summed counts)."""
        labeling = labeling_of(record)
        return labeling.resampled(metric, arrays["gold"], arrays["predicted"] if predicted is
                                  None else predicted, arrays["sentence"], counts,
                                  record.labels)

    def resamples_needed(self, records: list[RunRecord]) -> int:
        """The fewest bootstrap resamples its tests need on these records (its own): the
        report draws at least this many (0: no test of its own needs more than asked)."""
        return 0

    def profile(self, study: "Study", runs: list[RunRecord], n_layers: int
                ) -> list[dict[str, Any]]:
        """Its columns of the layer profile, one dict a layer, for one task and encoder (`runs`:
        its runs there, none where it has none: then NaN columns of the same names)."""
        return [{} for _ in range(n_layers)]

    def variant(self, record: RunRecord) -> str:
        """What else sets a run apart from another of the same selection: `against=bert`."""
        given = {k: record.family_fields.get(k) for k in self.variants}
        return ", ".join(f"{k}={v}" for k, v in given.items()
                         if v is not None and v is not False and v != "")


def one_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {' '.join(str(error).split())}"


def labeling_of(record: RunRecord) -> Any:
    """The task's Labeling the record names (its `resampled` and `score`)."""
    try:
        return _labeling(record.labeling)
    except Exception as e:
        raise ProbingError(f"{record.folder}: its labeling {record.labeling!r} cannot be "
                           f"imported ({one_line(e)}), so its scores cannot be "
                           f"resampled; install the package that made it, or rerun it") from None


def report_name(record: RunRecord) -> str:
    """The qualified name of the record's family report."""
    if record.report:
        return record.report
    target = ((record.config or {}).get("probe") or {}).get("_target_")
    name = None
    if target:
        try:
            name = get_class(str(target)).report
        except Exception:  # a family class that is gone: said below
            name = None
    if not isinstance(name, str):
        raise ProbingError(
            f"{record.folder}: the record names no family report (probe.report) and its config "
            f"no family class with one (probe._target_ {target!r}); rerun that run, or move it "
            f"out of the report's folders")
    return name


@cache
def _labeling(name: str) -> Any:
    return get_class(name)()


@cache
def load_report(name: str) -> FamilyReport:
    try:
        report = get_class(name)()
    except Exception as e:
        raise ProbingError(f"the family report {name!r} cannot be loaded ({one_line(e)}); "
                           f"install the package that holds it") from None
    if not isinstance(report, FamilyReport):
        raise ProbingError(f"{name} is not a family report (a subclass of "
                           f"probing.report.family.FamilyReport)")
    return report


def reports_of(records: list[RunRecord]) -> dict[str, FamilyReport]:
    """family -> its report, for the families of these records, in rank order; two records of
    one family that name different reports are refused."""
    named: dict[str, tuple[str, RunRecord]] = {}
    for record in records:
        name = report_name(record)
        first = named.setdefault(record.family, (name, record))
        if first[0] != name:
            raise ProbingError(f"runs of probe family {record.family!r} name two reports: "
                               f"{first[0]} ({first[1].folder}) and {name} ({record.folder}); "
                               f"report them separately")
    reports = {family: load_report(name) for family, (name, _) in named.items()}
    return dict(sorted(reports.items(), key=lambda kv: (kv[1].rank, kv[0])))
