"""A labelling's test score on every resample of the test sentences, from per-sentence sums.

`counts` (resamples, n sentences) says how often each test sentence is drawn (the report's
cluster bootstrap); an item enters a resample as often as its sentence. A metric that is a
function of per-item counts summed over the items (accuracy, micro-F1, SemEval's official F1)
is computed in two steps: the per-sentence sums of those counts (n sentences, k), small enough
to commit beside a study's tables, and the metric of each resample's sums, `counts @ sums`. The
report goes through both steps for the runs it reads and for the sums it has committed, so the
two give the same numbers. A labelling whose metric is not such a function is scored once per
resample (`Labeling.resampled`, slow: seconds a run) and has no sums to commit."""

import numpy as np


def sentence_sums(columns: np.ndarray, sentence: np.ndarray, n: int) -> np.ndarray:
    """Per-item columns (items, k) summed per sentence: (n, k)."""
    columns = np.asarray(columns, dtype=np.float64).reshape(len(sentence), -1)
    return np.stack([np.bincount(sentence, weights=column, minlength=n)
                     for column in columns.T], axis=1)


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1),
                        np.nan)


def accuracy_columns(gold: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Per item: right, 1."""
    return np.stack([gold == predicted, np.ones(len(gold), dtype=bool)], axis=1)


def accuracy_of_sums(sums: np.ndarray) -> np.ndarray:
    right, total = sums.T
    return ratio(right, total)


def micro_f1_columns(gold: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Per item of 0/1 rows (n, n_labels): its true positives, false positives, false
    negatives over the label decisions."""
    gold, predicted = gold.astype(bool), predicted.astype(bool)
    return np.stack([(gold & predicted).sum(1), (~gold & predicted).sum(1),
                     (gold & ~predicted).sum(1)], axis=1)


def f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """2 tp / (2 tp + fp + fn), 0 where all three are 0 (as scikit-learn's zero_division=0)."""
    tp, fp, fn = (np.asarray(x, dtype=np.float64) for x in (tp, fp, fn))
    denominator = 2 * tp + fp + fn
    return np.where(denominator > 0, 2 * tp / np.where(denominator > 0, denominator, 1), 0.0)


def macro_f1_of_labels(gold: np.ndarray, predicted: np.ndarray) -> float:
    """The mean F1 over the labels that occur in gold or prediction (label indices, one a
    target)."""
    labels = np.union1d(gold, predicted)
    if len(labels) == 0:
        return 0.0
    n = int(labels.max()) + 1
    tp = np.bincount(gold[gold == predicted], minlength=n)
    fp = np.bincount(predicted, minlength=n) - tp
    fn = np.bincount(gold, minlength=n) - tp
    return float(f1(tp, fp, fn)[labels].mean())


def micro_f1_of_sums(sums: np.ndarray) -> np.ndarray:
    tp, fp, fn = sums.T
    return np.where(2 * tp + fp + fn > 0, ratio(2 * tp, 2 * tp + fp + fn), 0.0)
