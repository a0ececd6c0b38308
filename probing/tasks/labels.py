"""How a task's targets are labelled: the loss, the decision rule, the metrics and the
majority baseline.

Logits come from K probes side by side, (K, n, n_labels), for n targets whose gold labels are
shared by every probe. A single-label task gives each target one label: softmax over the labels,
cross-entropy,
accuracy and macro-F1. A multi-label task gives a span every label it carries (a unary chain
of constituents such as (S (VP ...)) is one span labelled S and VP): one sigmoid per label,
binary cross-entropy, and F1 over the individual label decisions (Tenney et al. 2019).
"""

from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from probing.tasks import resampled


class Labeling:
    """Gold labels of n targets are an array: (n,) label indices, or (n, n_labels) 0/1."""

    metric: ClassVar[str]

    def gold(self, indices: list[list[int]], n_labels: int) -> np.ndarray:
        raise NotImplementedError

    def target_nll(self, logits: torch.Tensor, gold: torch.Tensor) -> torch.Tensor:
        """Each probe's negative log-likelihood of each target's gold label(s), in nats: (K, n)."""
        raise NotImplementedError

    def loss(self, logits: torch.Tensor, gold: torch.Tensor) -> torch.Tensor:
        """Each probe's mean loss over the targets: (K,)."""
        raise NotImplementedError

    def null_nll_bits(self, train: np.ndarray, test: np.ndarray, n_labels: int) -> np.ndarray:
        """Each test target's negative log-likelihood in bits under the best guess that reads
        no input: the training label shares (add-one smoothed, so that no label has
        probability 0). Its mean is H_V(Y | nothing), where V-information starts."""
        raise NotImplementedError

    def decide(self, logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def score(self, gold: np.ndarray, predicted: np.ndarray, labels: list[str]
              ) -> dict[str, float]:
        """Metrics of predicted against gold; `labels` names the label indices."""
        raise NotImplementedError

    def count_columns(self, metric: str, gold: np.ndarray, predicted: np.ndarray,
                      labels: list[str]) -> np.ndarray | None:
        """Per item, the counts whose sums over the items `metric` is a function of (items, k):
        accuracy and a multi-label micro-F1 here; None for any other metric (macro-F1)."""
        if metric == "accuracy":
            return resampled.accuracy_columns(gold, predicted)
        if metric == "micro_f1" and gold.ndim > 1:
            return resampled.micro_f1_columns(gold, predicted)
        return None

    def of_sums(self, metric: str, sums: np.ndarray, labels: list[str]) -> np.ndarray:
        """`metric` of summed counts (`count_columns`): (..., k) -> (...)."""
        if metric == "accuracy":
            return resampled.accuracy_of_sums(sums)
        if metric == "micro_f1":
            return resampled.micro_f1_of_sums(sums)
        raise ValueError(f"{metric} is not a function of summed counts")

    def sentence_sums(self, metric: str, gold: np.ndarray, predicted: np.ndarray,
                      sentence: np.ndarray, n: int, labels: list[str]) -> np.ndarray | None:
        """Per test sentence (n of them), the sums of the counts `metric` is a function of:
        (n, k), what the report resamples and commits; None where it is no such function."""
        columns = self.count_columns(metric, gold, predicted, labels)
        if columns is None:
            return None
        return resampled.sentence_sums(columns, np.asarray(sentence, dtype=np.int64), n)

    def resampled(self, metric: str, gold: np.ndarray, predicted: np.ndarray,
                  sentence: np.ndarray, counts: np.ndarray, labels: list[str]) -> np.ndarray:
        """`metric` on every resample of the test sentences (`counts`, resamples x sentences):
        (resamples,). From per-sentence sums at once where the metric allows it; any other
        metric by scoring each resample (probing/tasks/resampled.py)."""
        sentence = np.asarray(sentence, dtype=np.int64)
        sums = self.sentence_sums(metric, gold, predicted, sentence, counts.shape[1], labels)
        if sums is not None:
            return self.of_sums(metric, counts @ sums, labels)
        scores = []
        for row in counts.astype(np.int64):
            items = np.repeat(np.arange(len(gold)), row[sentence])
            scores.append(self.score(gold[items], predicted[items], labels)[metric])
        return np.array(scores, dtype=float)

    def majority_baseline(self, train: np.ndarray, test: np.ndarray, labels: list[str]) -> dict:
        """The test scores of always answering the most frequent training label (label set);
        of labels equally frequent, the first in the label order."""
        values, counts = np.unique(train, axis=0, return_counts=True)
        majority = values[counts.argmax()]
        names = ([labels[i] for i in np.flatnonzero(majority)] if majority.ndim
                 else labels[int(majority)])
        return {"label": names,
                "test": self.score(test, np.broadcast_to(majority, test.shape), labels)}


class SingleLabel(Labeling):
    """One label a target: softmax, cross-entropy; accuracy (the dev metric) and macro-F1."""

    metric: ClassVar[str] = "accuracy"

    def gold(self, indices: list[list[int]], n_labels: int) -> np.ndarray:
        return np.array([index for (index,) in indices], dtype=np.int64)

    def target_nll(self, logits: torch.Tensor, gold: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.transpose(1, 2), gold.expand(len(logits), -1),
                               reduction="none")

    def null_nll_bits(self, train: np.ndarray, test: np.ndarray, n_labels: int) -> np.ndarray:
        shares = (np.bincount(train, minlength=n_labels) + 1) / (len(train) + n_labels)
        return (-np.log2(shares[test])).astype(np.float32)

    def loss(self, logits: torch.Tensor, gold: torch.Tensor) -> torch.Tensor:
        return self.target_nll(logits, gold).mean(-1)

    def decide(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.argmax(-1)

    def score(self, gold: np.ndarray, predicted: np.ndarray, labels: list[str]
              ) -> dict[str, float]:
        """Accuracy, and macro-F1 over the labels that occur in gold or prediction."""
        gold, predicted = np.asarray(gold), np.asarray(predicted)
        return {"accuracy": float((gold == predicted).mean()) if len(gold) else 0.0,
                "macro_f1": resampled.macro_f1_of_labels(gold, predicted)}


class MultiLabel(Labeling):
    """Any number of labels a target: a sigmoid per label, binary cross-entropy, a label is
    predicted where its logit is positive; micro-F1 over all label decisions (the dev metric)
    and macro-F1 over the labels."""

    metric: ClassVar[str] = "micro_f1"

    def gold(self, indices: list[list[int]], n_labels: int) -> np.ndarray:
        gold = np.zeros((len(indices), n_labels), dtype=np.float32)
        for row, labels in enumerate(indices):
            gold[row, labels] = 1.0
        return gold

    def null_nll_bits(self, train: np.ndarray, test: np.ndarray, n_labels: int) -> np.ndarray:
        """Summed over the labels: each one present with its training share."""
        present = (train.sum(0) + 1) / (len(train) + 2)
        return -(test * np.log2(present) + (1 - test) * np.log2(1 - present)).sum(
            -1).astype(np.float32)

    def target_nll(self, logits: torch.Tensor, gold: torch.Tensor) -> torch.Tensor:
        """Summed over the labels, each one's presence a yes/no decision."""
        return F.binary_cross_entropy_with_logits(logits, gold.expand_as(logits),
                                                  reduction="none").sum(-1)

    def loss(self, logits: torch.Tensor, gold: torch.Tensor) -> torch.Tensor:
        """The mean over targets and labels."""
        return self.target_nll(logits, gold).mean(-1) / logits.shape[-1]

    def decide(self, logits: torch.Tensor) -> torch.Tensor:
        return (logits > 0).float()

    def score(self, gold: np.ndarray, predicted: np.ndarray, labels: list[str]
              ) -> dict[str, float]:
        gold, predicted = gold.astype(bool), predicted.astype(bool)
        seen = gold.any(axis=0) | predicted.any(axis=0)  # macro over labels that occur, as above
        tp, fp, fn = ((g & p).sum(0) for g, p in ((gold, predicted), (~gold, predicted),
                                                   (gold, ~predicted)))
        return {"micro_f1": float(resampled.f1(tp.sum(), fp.sum(), fn.sum())),
                "macro_f1": float(resampled.f1(tp[seen], fp[seen], fn[seen]).mean())
                if seen.any() else 0.0,
                "exact_match": float((gold == predicted).all(axis=1).mean())}
