"""Online-code arithmetic: block ends, and codelengths in bits for the two extreme probes."""

import math
from itertools import pairwise

import numpy as np
import pytest

from probing.probes.mdl.online_code import (
    block_ends,
    compression,
    online_codelength,
    uniform_codelength,
)
from probing.utils.errors import ProbingError

# Voita & Titov's block ends as shares of the training targets (conf/probe/mdl.yaml)
BLOCK_FRACTIONS = (0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.0625, 0.125, 0.25, 0.5, 1.0)


def block_sizes(ends: list[int]) -> list[int]:
    return [end - start for start, end in pairwise([0, *ends])]


def uniform_model_nll(sizes: list[int], n_labels: int, multilabel: bool) -> list[float]:
    """Summed NLL (nats) of each later block under a model that predicts uniformly: a
    softmax over K equal logits, or 0.5 for each of K labels."""
    if multilabel:
        p = np.full((sum(sizes), n_labels), 0.5)
        per_target = -np.log(p).sum(axis=1)
    else:
        logits = np.zeros((sum(sizes), n_labels))
        probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        per_target = -np.log(probabilities[:, 0])
    bounds = np.cumsum([0, *sizes])
    return [float(per_target[a:b].sum()) for a, b in pairwise(bounds)]


def test_block_ends_for_ten_thousand():
    assert block_ends(10_000, BLOCK_FRACTIONS) == [10, 20, 40, 80, 160, 320, 625, 1250, 2500,
                                                   5000, 10000]


@pytest.mark.parametrize("n", [2, 3, 10, 100, 1000, 1500, 12_345])
def test_block_ends_rise_strictly_to_n(n):
    ends = block_ends(n, BLOCK_FRACTIONS)
    assert ends[0] >= 1 and ends[-1] == n
    assert all(a < b for a, b in pairwise(ends))
    assert len(ends) <= len(BLOCK_FRACTIONS)


def test_block_ends_drop_repeats_for_small_n():
    assert block_ends(10, BLOCK_FRACTIONS) == [1, 3, 5, 10]
    assert block_ends(2, BLOCK_FRACTIONS) == [1, 2]


def test_block_ends_refused():
    with pytest.raises(ProbingError, match="at least 2"):
        block_ends(1, BLOCK_FRACTIONS)
    with pytest.raises(ProbingError, match="exactly 1"):
        block_ends(100, (0.1, 0.5))
    with pytest.raises(ProbingError, match="rise strictly"):
        block_ends(100, (0.5, 0.1, 1.0))


def test_uniform_codelength():
    assert uniform_codelength(1000, 45) == pytest.approx(1000 * math.log2(45))
    assert uniform_codelength(1000, 2) == 1000.0
    assert uniform_codelength(1000, 7, multilabel=True) == 7000.0
    with pytest.raises(ProbingError, match="at least 2"):
        uniform_codelength(10, 1)


@pytest.mark.parametrize(("n_labels", "multilabel"), [(45, False), (17, False), (7, True)])
def test_uniform_probe_gives_the_uniform_codelength(n_labels, multilabel):
    ends = block_ends(10_000, BLOCK_FRACTIONS)
    nll = uniform_model_nll(block_sizes(ends)[1:], n_labels, multilabel)
    codelength = online_codelength(ends[0], n_labels, nll, multilabel)
    assert codelength == pytest.approx(uniform_codelength(10_000, n_labels, multilabel),
                                       rel=1e-12)
    assert compression(10_000, n_labels, codelength, multilabel) == pytest.approx(1.0, rel=1e-12)


def test_perfect_probe_compresses_by_n_over_first_block():
    ends = block_ends(10_000, BLOCK_FRACTIONS)
    nll = [1e-9] * (len(ends) - 1)
    codelength = online_codelength(ends[0], 45, nll)
    assert codelength == pytest.approx(10 * math.log2(45))
    assert compression(10_000, 45, codelength) == pytest.approx(1000.0)
    multilabel = online_codelength(ends[0], 7, nll, multilabel=True)
    assert compression(10_000, 7, multilabel, multilabel=True) == pytest.approx(1000.0)


def test_losses_in_nats_are_converted_to_bits():
    """100 ln 2 nats are 100 bits; adding the nats as they are would give 10 + 69.3."""
    assert online_codelength(10, 2, [40 * math.log(2), 60 * math.log(2)]) == pytest.approx(110.0)


def test_bad_losses_and_codelengths_refused():
    with pytest.raises(ProbingError, match="non-negative"):
        online_codelength(10, 2, [1.0, -0.5])
    with pytest.raises(ProbingError, match="finite"):
        online_codelength(10, 2, [float("nan")])
    with pytest.raises(ProbingError, match="positive"):
        compression(100, 2, 0.0)
