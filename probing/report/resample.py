"""A run's test score on every resample of its test sentences, from its predictions.npz.

`counts` (resamples, n sentences) says how often each test sentence is drawn
(`bootstrap.SentenceDraws`); an item enters a resample as often as its sentence.

- Labelling tasks (`gold`, `predicted`): accuracy, micro-F1 and SemEval's official F1 from
  per-sentence sums of per-item counts (vectorised); any other metric calls the task's
  `Labeling.score` once per resample (slow: seconds a run).
- Structural probes (per-sentence statistics): UUAS, DSpr, root accuracy and NSpr aggregate
  the resampled sentences' sums as the probe aggregates its test set
  (probing/probes/structural/metrics.py), DSpr and NSpr per sentence length, then over lengths.
"""

import warnings
from collections.abc import Callable

import numpy as np
from hydra.utils import get_class

from probing.probes.structural import metrics as tree_metrics
from probing.tasks.semeval import OTHER, relation

Arrays = dict[str, np.ndarray]


def sentence_sums(columns: np.ndarray, sentence: np.ndarray, n: int) -> np.ndarray:
    """Per-item columns (items, k) summed per sentence: (n, k)."""
    columns = np.asarray(columns, dtype=np.float64).reshape(len(sentence), -1)
    return np.stack([np.bincount(sentence, weights=column, minlength=n)
                     for column in columns.T], axis=1)


def _resampled_sums(columns: np.ndarray, sentence: np.ndarray, counts: np.ndarray
                    ) -> np.ndarray:
    """Each resample's sums of per-item columns: (resamples, k)."""
    return counts @ sentence_sums(columns, sentence, counts.shape[1])


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1),
                        np.nan)


def _accuracy(gold: np.ndarray, predicted: np.ndarray, sentence: np.ndarray,
              counts: np.ndarray, labels: list[str]) -> np.ndarray:
    correct = np.stack([gold == predicted, np.ones(len(gold), dtype=bool)], axis=1)
    right, total = _resampled_sums(correct, sentence, counts).T
    return _ratio(right, total)


def _micro_f1(gold: np.ndarray, predicted: np.ndarray, sentence: np.ndarray,
              counts: np.ndarray, labels: list[str]) -> np.ndarray:
    gold, predicted = gold.astype(bool), predicted.astype(bool)
    per_item = np.stack([(gold & predicted).sum(1), (~gold & predicted).sum(1),
                         (gold & ~predicted).sum(1)], axis=1)
    tp, fp, fn = _resampled_sums(per_item, sentence, counts).T
    return np.where(2 * tp + fp + fn > 0, _ratio(2 * tp, 2 * tp + fp + fn), 0.0)


def _semeval_official_f1(gold: np.ndarray, predicted: np.ndarray, sentence: np.ndarray,
                         counts: np.ndarray, labels: list[str]) -> np.ndarray:
    """The official SemEval-2010 Task 8 score (`probing.tasks.semeval.semeval_official_f1`)
    from per-item counts: per relation R (Other left out), correct (exact label, direction
    included), predicted as R in either direction, gold R; F1 averaged over the relations
    that occur in the resample's gold."""
    names = sorted({relation(label) for label in labels} - {OTHER})
    of = np.array([names.index(relation(label)) if relation(label) in names else -1
                   for label in labels])
    gold_r, predicted_r = of[gold], of[predicted]
    columns = [np.stack([(gold == predicted) & (gold_r == r), predicted_r == r, gold_r == r],
                        axis=1) for r in range(len(names))]
    sums = _resampled_sums(np.concatenate(columns, axis=1), sentence, counts)
    correct, n_predicted, n_gold = (sums[:, k::3] for k in range(3))
    precision = np.nan_to_num(_ratio(correct, n_predicted))
    recall = np.nan_to_num(_ratio(correct, n_gold))
    f1 = np.where(correct > 0, np.nan_to_num(_ratio(2 * precision * recall,
                                                    precision + recall)), 0.0)
    present = n_gold > 0
    return np.where(present.any(axis=1), _ratio((f1 * present).sum(axis=1),
                                                present.sum(axis=1)), 0.0)


# metric -> (gold, predicted, sentence, counts, label names) -> (resamples,) scores
LABELLING: dict[str, Callable[..., np.ndarray]] = {
    "accuracy": _accuracy, "micro_f1": _micro_f1, "semeval_official_f1": _semeval_official_f1}

# metric -> (per-sentence statistics, weights (resamples, sentences)) -> (resamples,) scores
STRUCTURAL: dict[str, Callable[..., np.ndarray]] = {
    "uuas": tree_metrics.uuas, "dspr": tree_metrics.distance_spearman,
    "root_accuracy": tree_metrics.root_accuracy, "nspr": tree_metrics.depth_spearman}


def labelling_scores(gold: np.ndarray, predicted: np.ndarray, sentence: np.ndarray,
                     counts: np.ndarray, metric: str, labeling: str | None,
                     labels: list[str]) -> np.ndarray:
    """A labelling metric on every resample of sentences: (resamples,)."""
    sentence = np.asarray(sentence, dtype=np.int64)
    if metric in LABELLING and not (metric == "micro_f1" and gold.ndim == 1):
        return LABELLING[metric](gold, predicted, sentence, counts, labels)
    if labeling is None:
        raise ValueError(f"no vectorised {metric}; the record names no Labeling to score it")
    scorer = get_class(labeling)()
    scores = []
    for row in counts.astype(np.int64):
        items = np.repeat(np.arange(len(gold)), row[sentence])
        scores.append(scorer.score(gold[items], predicted[items], labels)[metric])
    return np.array(scores, dtype=float)


def structural_scores(arrays: Arrays, counts: np.ndarray, metric: str) -> np.ndarray:
    """A tree metric of per-sentence statistics on every resample of sentences."""
    weights = counts[:, np.asarray(arrays["sentence"], dtype=np.int64)].astype(np.float64)
    with warnings.catch_warnings():  # a resample without a sentence of 5-50 words: NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(STRUCTURAL[metric](arrays, weights), dtype=float)


def can_resample(arrays: Arrays, metric: str) -> bool:
    """Whether these predictions hold what `metric` needs."""
    if metric in STRUCTURAL:
        return "length" in arrays
    return "gold" in arrays and "predicted" in arrays
