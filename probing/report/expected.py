"""The expected layer of the cumulative gains, E_delta (Tenney, Das & Pavlick 2019), and where
it is defined.

With cumulative scores P(0..l) of layers 0..L, delta_l = P(0..l) - P(0..l-1) and

    E_delta = sum_l l delta_l / sum_l delta_l           (Tenney et al.)
    E_delta clipped = the same with negative delta_l set to 0

The denominator of Tenney's is the total gain P(0..L) - P(0..0), the full mix over layer 0
alone. Where the gain is not positive the quotient is no expected layer (0/0, or outside
[1, L] when gains of both signs nearly cancel): a resample where the denominator is not
positive is counted as undefined, and a configuration whose gain interval includes 0 has no
E_delta at all (the report prints "undefined"), for either variant: there is no gain to
locate. The normalised depth (E_delta - 1) / (L - 1) puts encoders of different depth on one
scale from 0 (the first contextual layer) to 1 (the top); E_delta / L would favour shallow
models, whose floor 1 / L is higher.
"""

from dataclasses import dataclass

import numpy as np

from probing.report.bootstrap import Interval, interval
from probing.report.study import Scores


def cumulative_expected_layer(scores: np.ndarray, clipped: bool = False
                              ) -> np.ndarray | float:
    """E_delta from cumulative scores of layers 0..L along the first axis (a resample axis may
    follow); NaN where a layer is missing, fewer than two layers ran, or the denominator is
    not positive."""
    scores = np.asarray(scores, dtype=float)
    if len(scores) < 2:
        return float("nan") if scores.ndim <= 1 else np.full(scores.shape[1:], np.nan)
    delta = np.diff(scores, axis=0)
    if clipped:
        delta = np.where(np.isnan(delta), np.nan, np.clip(delta, 0, None))
    layers = np.arange(1, len(scores)).reshape((-1,) + (1,) * (scores.ndim - 1))
    total = delta.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(total > 0, (layers * delta).sum(axis=0) / np.where(total > 0, total,
                                                                              1), np.nan)
    return float(value) if np.ndim(value) == 0 else value


def normalised_depth(value: np.ndarray | float, n_layers: int) -> np.ndarray | float:
    """(E_delta - 1) / (L - 1) with L = n_layers - 1 the top layer; NaN for L < 2."""
    top = n_layers - 1
    return (np.asarray(value) - 1) / (top - 1) if top >= 2 else np.full_like(
        np.asarray(value, dtype=float), np.nan)


@dataclass(frozen=True)
class ExpectedLayer:
    """One variant of E_delta for one configuration."""

    point: float
    samples: np.ndarray | None  # (resamples,), NaN where undefined
    interval: Interval
    defined: bool | None  # False: the gain interval includes 0 ("undefined"); None: a layer
    # is missing, so there is nothing to say


@dataclass(frozen=True)
class Gains:
    """What E_delta of one task and encoder is made of."""

    gain: Scores  # P(0..L) - P(0..0), paired
    gain_interval: Interval
    tenney: ExpectedLayer
    clipped: ExpectedLayer
    n_layers: int


def expected_layers_of(cumulative: list[Scores]) -> Gains:
    """Tenney's and the clipped E_delta of a task's cumulative scores (one per layer)."""
    points = np.array([s.point for s in cumulative])
    complete = len(cumulative) >= 2 and all(s.samples is not None for s in cumulative)
    stacked = np.stack([s.samples for s in cumulative]) if complete else None
    gain_point = float(points[-1] - points[0]) if len(points) >= 2 else float("nan")
    gain = Scores(gain_point, None if stacked is None else stacked[-1] - stacked[0],
                  min((s.seeds for s in cumulative), default=0))
    gain_interval = interval(gain.samples)
    defined = bool(gain_interval.lo > 0) if gain.samples is not None else bool(gain_point > 0)
    if np.isnan(points).any() or len(points) < 2:
        defined = None

    def variant(clipped: bool) -> ExpectedLayer:
        samples = None if stacked is None else cumulative_expected_layer(stacked, clipped)
        point = float(cumulative_expected_layer(points, clipped))
        return ExpectedLayer(point, samples, interval(samples),
                             defined and not np.isnan(point) if defined is not None else None)

    return Gains(gain, gain_interval, variant(False), variant(True), len(cumulative))
