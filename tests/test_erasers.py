"""LEACE and its random control on synthetic vectors whose concept is known: after LEACE a
linear probe (scikit-learn's logistic regression, an independent fitter) is at chance; a
random subspace of the same rank leaves the concept readable; with nothing to erase nothing
changes."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from probing.probes.erasure.erasers import leace, random_like

DIM, CLASSES = 16, 3


def concept(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three classes, each shifting the vectors along its own direction, in Gaussian noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, n)
    shifts = np.random.default_rng(100).normal(0, 2.0, (CLASSES, DIM))
    return (rng.normal(0, 1, (n, DIM)) + shifts[labels]).astype(np.float32), labels


def probe_accuracy(train: tuple, test: tuple) -> float:
    model = LogisticRegression(max_iter=2000).fit(*train)
    return float(model.score(*test))


def erased(eraser, vectors: np.ndarray) -> np.ndarray:
    return eraser(torch.from_numpy(vectors)).numpy()


def test_leace_leaves_a_linear_probe_at_chance():
    (x, y), (x_test, y_test) = concept(6000, 0), concept(3000, 1)
    assert probe_accuracy((x, y), (x_test, y_test)) > 0.9, "the concept is linearly readable"
    eraser = leace(x, y, CLASSES)
    assert eraser.rank == CLASSES - 1
    chance = np.bincount(y_test).max() / len(y_test)
    after = probe_accuracy((erased(eraser, x), y), (erased(eraser, x_test), y_test))
    assert after == pytest.approx(chance, abs=0.03)
    # the control: a random subspace of the same rank leaves the concept where it was
    control = random_like(eraser, x, seed=0)
    assert control.rank == eraser.rank
    assert probe_accuracy((erased(control, x), y), (erased(control, x_test), y_test)) > 0.8


def test_nothing_to_erase_changes_nothing():
    x, _ = concept(500, 2)
    eraser = leace(x, np.zeros(len(x), dtype=np.int64), CLASSES)  # one label only: rank 0
    assert eraser.rank == 0
    np.testing.assert_allclose(erased(eraser, x), x, atol=1e-5)
    control = random_like(eraser, x, seed=0)
    assert control.rank == 0
    np.testing.assert_allclose(erased(control, x), x, atol=1e-6)


def test_an_eraser_is_an_edit_with_a_key_of_its_own():
    x, y = concept(500, 3)
    first, again, other = leace(x, y, CLASSES), leace(x, y, CLASSES), leace(x[:400], y[:400],
                                                                              CLASSES)
    assert first.at(2).layer == 2 and first.at(2).key == again.key != other.key
