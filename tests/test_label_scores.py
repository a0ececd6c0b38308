"""The labellings' metrics, computed with numpy, against scikit-learn's as the oracle (the
package itself does not import scikit-learn: it costs a second on every start)."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from probing.tasks.labels import MultiLabel, SingleLabel


@pytest.mark.parametrize("seed", range(5))
def test_single_label_scores_equal_scikit_learns(seed):
    rng = np.random.default_rng(seed)
    gold = rng.integers(0, 7, 300)
    predicted = np.where(rng.random(300) < 0.6, gold, rng.integers(0, 9, 300))  # 7, 8 unseen
    scores = SingleLabel().score(gold, predicted, [str(i) for i in range(9)])
    assert scores["accuracy"] == pytest.approx(accuracy_score(gold, predicted))
    assert scores["macro_f1"] == pytest.approx(
        f1_score(gold, predicted, average="macro", zero_division=0))


@pytest.mark.parametrize("seed", range(5))
def test_multi_label_scores_equal_scikit_learns(seed):
    rng = np.random.default_rng(seed)
    gold = (rng.random((200, 6)) < 0.3).astype(np.float32)
    gold[:, 5] = 0  # a label nobody has
    predicted = np.where(rng.random((200, 6)) < 0.8, gold, 1 - gold)
    predicted[:, 4] = 0
    scores = MultiLabel().score(gold, predicted, list("abcdef"))
    seen = (gold.any(0) | predicted.any(0))
    assert scores["micro_f1"] == pytest.approx(
        f1_score(gold, predicted, average="micro", zero_division=0))
    assert scores["macro_f1"] == pytest.approx(
        f1_score(gold[:, seen], predicted[:, seen], average="macro", zero_division=0))


def test_nothing_to_score_is_zero_not_an_error():
    assert SingleLabel().score(np.array([], int), np.array([], int), ["a"]) == {
        "accuracy": 0.0, "macro_f1": 0.0}
    empty = np.zeros((3, 2), np.float32)
    assert MultiLabel().score(empty, empty, ["a", "b"])["micro_f1"] == 0.0
