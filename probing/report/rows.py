"""Table rows: a statistic as `x`, `x_lo`, `x_hi` (and `x_undefined_share` where some resamples
had no value), and how an interval was made, in words."""

import numpy as np

from probing.report.bootstrap import interval, seed_interval
from probing.report.study import Scores

# what an interval resampled, per row of a table (column `interval`)
BOOTSTRAP = "sentences x seeds"
SEEDS_T = "t over seeds"
NO_INTERVAL = "none"


def with_interval(row: dict, name: str, point: float, samples: np.ndarray | None,
                  always_share: bool = False) -> None:
    """The percentile interval of bootstrap samples; the share of resamples without a value
    beside it where there was any (always, with `always_share`)."""
    found = interval(samples)
    row[name], row[f"{name}_lo"], row[f"{name}_hi"] = float(point), found.lo, found.hi
    if always_share or found.undefined > 0:
        row[f"{name}_undefined_share"] = found.undefined


def with_scores(row: dict, name: str, scores: Scores) -> None:
    with_interval(row, name, scores.point, scores.samples)


def with_difference(row: dict, name: str, a: Scores, b: Scores) -> None:
    """a - b, its interval from the paired resamples (none where either has none)."""
    paired = None if a.samples is None or b.samples is None else a.samples - b.samples
    with_interval(row, name, a.point - b.point, paired)


def with_seed_interval(row: dict, name: str, values: list[float]) -> None:
    """Mean and Student-t interval over seeds (no bounds from one seed)."""
    if not values:
        row[name], row[f"{name}_lo"], row[f"{name}_hi"] = (float("nan"),) * 3
        return
    mean, lo, hi = seed_interval(np.array(values, dtype=float))
    row[name], row[f"{name}_lo"], row[f"{name}_hi"] = float(mean), float(lo), float(hi)


def interval_kind(scores: Scores) -> str:
    return BOOTSTRAP if scores.samples is not None else NO_INTERVAL


def seed_kind(k: int) -> str:
    return SEEDS_T if k > 1 else NO_INTERVAL
