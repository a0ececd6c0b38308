"""Percentile bootstrap intervals over test targets and seeds, vectorised with numpy.

- Targets: resample i draws n of a task's n test targets with replacement. The draws depend
  only on (seed, n, i), so every run scored on the same test file gets the same resample:
  differences between runs (delta_l, selectivity) and E_delta are paired.
- Seeds: where a configuration ran with k seeds, resample i also draws k of its seeds with
  replacement and averages their scores on that resample of targets (a two-level bootstrap:
  test sampling and training randomness). Mixing weights and E_s do not depend on the test
  targets; their intervals come from the seed draws alone (a point where one seed ran).
- Interval: the 2.5th and 97.5th percentiles of the resampled statistic (percentile method).

Accuracy, micro-F1 and SemEval's official F1 are computed from per-target counts; any other
metric calls the task's `Labeling.score` once per resample (slow: seconds a run).
"""

from collections.abc import Callable, Iterator

import numpy as np
from hydra.utils import get_class

from probing.tasks.semeval import OTHER, relation

RESAMPLES = 1000
SEED = 0
LEVEL = 0.95
CHUNK = 2_000_000  # targets drawn per chunk of resamples: bounds memory at ~8 MB of indices


def indices(n: int, resamples: int = RESAMPLES, seed: int = SEED) -> Iterator[np.ndarray]:
    """The resamples of n targets, in chunks of rows of int32 indices; the same for the same
    (n, resamples, seed)."""
    rows = max(1, CHUNK // max(n, 1))
    for start in range(0, resamples, rows):
        rng = np.random.default_rng([seed, n, start])
        yield rng.integers(0, n, size=(min(rows, resamples - start), n), dtype=np.int32)


def _counts(per_target: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """Sums of per-target columns (n, k) over each resample: (resamples, k)."""
    n = per_target.shape[0]
    return np.concatenate([per_target[idx].sum(axis=1) for idx in indices(n, resamples, seed)])


def _accuracy(gold: np.ndarray, predicted: np.ndarray, labels: list[str], resamples: int,
              seed: int) -> np.ndarray:
    correct = (gold == predicted).astype(np.float32)[:, None]
    return _counts(correct, resamples, seed)[:, 0] / len(gold)


def _micro_f1(gold: np.ndarray, predicted: np.ndarray, labels: list[str], resamples: int,
              seed: int) -> np.ndarray:
    gold, predicted = gold.astype(bool), predicted.astype(bool)
    if gold.ndim == 1:
        raise ValueError("micro_f1 of single-label predictions is accuracy")
    per_target = np.stack([(gold & predicted).sum(1), (~gold & predicted).sum(1),
                           (gold & ~predicted).sum(1)], axis=1).astype(np.float32)
    tp, fp, fn = _counts(per_target, resamples, seed).T
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)


def _semeval_official_f1(gold: np.ndarray, predicted: np.ndarray, labels: list[str],
                         resamples: int, seed: int) -> np.ndarray:
    """The official SemEval-2010 Task 8 score (`probing.tasks.semeval.semeval_official_f1`)
    from per-target counts: per relation R (Other left out), correct (exact label, direction
    included), predicted as R in either direction, gold R; F1 averaged over the relations
    that occur in the resample's gold."""
    names = sorted({relation(label) for label in labels} - {OTHER})
    of = np.array([names.index(relation(label)) if relation(label) in names else -1
                   for label in labels])
    gold_r, predicted_r = of[gold], of[predicted]
    columns = [np.stack([(gold == predicted) & (gold_r == r), predicted_r == r, gold_r == r],
                        axis=1) for r in range(len(names))]
    counts = _counts(np.concatenate(columns, axis=1).astype(np.float32), resamples, seed)
    correct, n_predicted, n_gold = (counts[:, k::3] for k in range(3))
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(n_predicted > 0, correct / n_predicted, 0.0)
        recall = np.where(n_gold > 0, correct / n_gold, 0.0)
        f1 = np.where(correct > 0, 2 * precision * recall / (precision + recall), 0.0)
    present = n_gold > 0
    return np.where(present.any(axis=1), (f1 * present).sum(axis=1) / present.sum(axis=1), 0.0)


# metric -> (gold, predicted, label names, resamples, seed) -> (resamples,) scores
FAST: dict[str, Callable[[np.ndarray, np.ndarray, list[str], int, int], np.ndarray]] = {
    "accuracy": _accuracy, "micro_f1": _micro_f1, "semeval_official_f1": _semeval_official_f1}


def target_scores(gold: np.ndarray, predicted: np.ndarray, metric: str, labeling: str | None = None,
                  labels: list[str] | None = None, resamples: int = RESAMPLES,
                  seed: int = SEED) -> np.ndarray:
    """The metric on every resample of the test targets: (resamples,)."""
    if metric in FAST and not (metric == "micro_f1" and gold.ndim == 1):
        return FAST[metric](gold, predicted, labels or [], resamples, seed)
    if labeling is None:
        raise ValueError(f"no vectorised {metric}; the record names no Labeling to score it")
    scorer = get_class(labeling)()
    return np.array([scorer.score(gold[rows], predicted[rows], labels or [])[metric]
                     for idx in indices(len(gold), resamples, seed) for rows in idx])


def over_seeds(samples: np.ndarray, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """(k seeds, resamples) scores -> (resamples,): resample i averages k seeds drawn with
    replacement; one seed passes through."""
    samples = np.atleast_2d(samples)
    k = samples.shape[0]
    if k == 1:
        return samples[0]
    pick = np.random.default_rng([seed, k, resamples]).integers(0, k, size=(samples.shape[1], k))
    return samples[pick, np.arange(samples.shape[1])[:, None]].mean(axis=1)


def seed_values(values: np.ndarray, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """(k seeds, ...) values that do not depend on the test targets (mixing weights, E_s) ->
    (resamples, ...): means of k seeds drawn with replacement."""
    values = np.asarray(values, dtype=float)
    k = values.shape[0]
    pick = np.random.default_rng([seed, k, resamples, 1]).integers(0, k, size=(resamples, k))
    return values[pick].mean(axis=1)


def interval(samples: np.ndarray | None, level: float = LEVEL, axis: int = 0
             ) -> tuple[np.ndarray | float, np.ndarray | float]:
    """Percentile interval (lo, hi) of bootstrap samples along `axis`; NaN where none."""
    if samples is None or np.size(samples) == 0:
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    with np.errstate(invalid="ignore"):
        lo, hi = np.nanpercentile(samples, [tail, 100 - tail], axis=axis) \
            if not np.isnan(samples).all() else (np.nan, np.nan)
    return lo, hi


def cumulative_expected_layer(scores: np.ndarray) -> np.ndarray | float:
    """E_delta[l] = sum_l l * delta_l / sum_l delta_l from cumulative scores of layers 0..L-1
    along the first axis (delta_l = score(0..l) - score(0..l-1)); a resample axis may follow.
    NaN where a layer is missing or fewer than two layers ran."""
    scores = np.asarray(scores, dtype=float)
    if len(scores) < 2:
        return float("nan") if scores.ndim <= 1 else np.full(scores.shape[1:], np.nan)
    delta = np.diff(scores, axis=0)
    layers = np.arange(1, len(scores)).reshape((-1,) + (1,) * (scores.ndim - 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        value = (layers * delta).sum(axis=0) / delta.sum(axis=0)
    return float(value) if np.ndim(value) == 0 else value
