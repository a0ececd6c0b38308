"""A labelling's test score on every resample of the test sentences, from per-item counts.

`counts` (resamples, n sentences) says how often each test sentence is drawn (the report's
cluster bootstrap); an item enters a resample as often as its sentence. A metric that is a
ratio of per-item counts (accuracy, micro-F1, SemEval's official F1) is computed for every
resample at once from per-sentence sums; a labelling whose metric is not is scored once per
resample (`Labeling.resampled`, slow: seconds a run)."""

import numpy as np


def sentence_sums(columns: np.ndarray, sentence: np.ndarray, n: int) -> np.ndarray:
    """Per-item columns (items, k) summed per sentence: (n, k)."""
    columns = np.asarray(columns, dtype=np.float64).reshape(len(sentence), -1)
    return np.stack([np.bincount(sentence, weights=column, minlength=n)
                     for column in columns.T], axis=1)


def resampled_sums(columns: np.ndarray, sentence: np.ndarray, counts: np.ndarray
                   ) -> np.ndarray:
    """Each resample's sums of per-item columns: (resamples, k)."""
    return counts @ sentence_sums(columns, sentence, counts.shape[1])


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1),
                        np.nan)


def accuracy(gold: np.ndarray, predicted: np.ndarray, sentence: np.ndarray,
             counts: np.ndarray) -> np.ndarray:
    correct = np.stack([gold == predicted, np.ones(len(gold), dtype=bool)], axis=1)
    right, total = resampled_sums(correct, sentence, counts).T
    return ratio(right, total)


def micro_f1(gold: np.ndarray, predicted: np.ndarray, sentence: np.ndarray,
             counts: np.ndarray) -> np.ndarray:
    """F1 over the individual label decisions of 0/1 rows (n, n_labels)."""
    gold, predicted = gold.astype(bool), predicted.astype(bool)
    per_item = np.stack([(gold & predicted).sum(1), (~gold & predicted).sum(1),
                         (gold & ~predicted).sum(1)], axis=1)
    tp, fp, fn = resampled_sums(per_item, sentence, counts).T
    return np.where(2 * tp + fp + fn > 0, ratio(2 * tp, 2 * tp + fp + fn), 0.0)
