"""Structural-probe metrics on hand-made trees whose answers are worked out by hand."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from probing.probes.structural import metrics
from probing.probes.structural.metrics import (
    depth_statistics,
    distance_statistics,
    mst_edges,
    tree_depths,
    tree_distances,
)
from probing.utils.errors import ProbingError

# word:   0 -> 1, 1 is the root, 2 -> 1, 3 -> 4, 4 -> 1
FIVE = [1, -1, 1, 4, 1]
FIVE_EDGES = {(0, 1), (1, 2), (1, 4), (3, 4)}
# "the cat sat quickly ." : the -> cat -> sat (root) <- quickly, "." -> sat
PUNCTUATED = [1, 2, -1, 2, 2]
PUNCTUATED_FLAGS = [False, False, False, False, True]


def no_punct(heads: list) -> list[list[bool]]:
    return [[False] * len(h) for h in heads]


def uuas(predicted, heads, punct, weights=None):
    return metrics.uuas(distance_statistics(predicted, heads, punct), weights)


def distance_spearman(predicted, heads, weights=None, lengths=metrics.SPEARMAN_LENGTHS):
    return metrics.distance_spearman(distance_statistics(predicted, heads, no_punct(heads)),
                                     weights, lengths)


def root_accuracy(predicted, heads, punct, weights=None):
    return metrics.root_accuracy(depth_statistics(predicted, heads, punct), weights)


def depth_spearman(predicted, heads, weights=None, lengths=metrics.SPEARMAN_LENGTHS):
    return metrics.depth_spearman(depth_statistics(predicted, heads, no_punct(heads)),
                                  weights, lengths)


def chain(n: int) -> list[int]:
    """Each word headed by the next, the last the root."""
    return [*range(1, n), -1]


def kruskal_row_major(distances: np.ndarray, keep: np.ndarray) -> set[tuple[int, int]]:
    """What the reference computes: pairs of kept words in row-major order, stably sorted by
    distance, each joined where it links two components."""
    component = list(range(len(distances)))

    def find(i: int) -> int:
        while component[i] != i:
            i = component[i]
        return i

    pairs = [(i, j) for i in range(len(distances)) for j in range(len(distances))
             if keep[i] and keep[j]]
    edges = set()
    for i, j in sorted(pairs, key=lambda pair: distances[pair]):
        if find(i) != find(j):
            component[find(i)] = find(j)
            edges.add((min(i, j), max(i, j)))
    return edges


def test_depths_and_distances_by_hand():
    np.testing.assert_array_equal(tree_depths(FIVE), [1, 0, 1, 2, 1])
    np.testing.assert_array_equal(tree_distances(FIVE), [[0, 1, 2, 3, 2],
                                                         [1, 0, 1, 2, 1],
                                                         [2, 1, 0, 3, 2],
                                                         [3, 2, 3, 0, 1],
                                                         [2, 1, 2, 1, 0]])
    np.testing.assert_array_equal(tree_depths([-1]), [0])
    np.testing.assert_array_equal(tree_distances(chain(4))[0], [0, 1, 2, 3])


@pytest.mark.parametrize(("heads", "message"), [
    ([1, -1, -1], "2 roots"),
    ([1, 2, 0], "0 roots"),
    ([1, 2, 0, -1], "cycle"),
    ([-1, 5, 0], "word 1 has head 5"),
    ([-1, 1, 0], "word 1 has head 1"),
    ([-1, -2, 0], "word 1 has head -2"),
])
def test_not_a_tree_refused(heads, message):
    with pytest.raises(ProbingError, match=message):
        tree_distances(heads)


def test_mst_of_gold_distances_is_the_gold_tree():
    assert mst_edges(tree_distances(FIVE), np.ones(5, bool)) == FIVE_EDGES


def test_mst_keeps_exact_zero_distances_as_edges():
    """scipy reads a 0 as 'no edge'; identical vectors must still be joined."""
    distances = np.full((4, 4), 5.0)
    for i in range(3):
        distances[i, i + 1] = distances[i + 1, i] = 0.0
    np.fill_diagonal(distances, 0.0)
    assert mst_edges(distances, np.ones(4, bool)) == {(0, 1), (1, 2), (2, 3)}
    assert mst_edges(np.zeros((4, 4)), np.ones(4, bool)) == {(0, 1), (0, 2), (0, 3)}


def test_mst_breaks_ties_as_the_reference_does():
    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(2, 12))
        upper = np.triu(rng.integers(0, 3, size=(n, n)), k=1).astype(float)
        distances = upper + upper.T
        keep = rng.random(n) < 0.8
        assert mst_edges(distances, keep) == kruskal_row_major(distances, keep)


def test_mst_over_kept_words_only():
    gold = tree_distances(PUNCTUATED)
    keep = ~np.array(PUNCTUATED_FLAGS)
    assert mst_edges(gold, keep) == {(0, 1), (1, 2), (2, 3)}
    assert mst_edges(gold, [True, False, False, False, False]) == set()


def test_uuas_of_gold_distances_is_one():
    sentences = [FIVE, PUNCTUATED, chain(7)]
    flags = [[False] * 5, PUNCTUATED_FLAGS, [False] * 7]
    assert uuas([tree_distances(h) for h in sentences], sentences, flags) == 1.0


def test_uuas_micro_averages_edges():
    """Predicting the linear chain for FIVE finds 3 of its 4 edges; with a perfect 3-word
    sentence that is 5 of 6 edges (a per-sentence mean would say 0.875)."""
    linear = np.abs(np.subtract.outer(np.arange(5), np.arange(5))).astype(float)
    score = uuas([linear, tree_distances(chain(3))], [FIVE, chain(3)], [[False] * 5, [False] * 3])
    assert score == pytest.approx(5 / 6)


def test_uuas_excludes_punctuation():
    """The "." is predicted next to every word: with punctuation excluded the score is untouched;
    counted as a word it would take every edge of the predicted tree."""
    predicted = tree_distances(PUNCTUATED).astype(float)
    predicted[4, :4] = predicted[:4, 4] = 0.1
    assert uuas([predicted], [PUNCTUATED], [PUNCTUATED_FLAGS]) == 1.0
    assert uuas([predicted], [PUNCTUATED], [[False] * 5]) == pytest.approx(1 / 4)


def test_uuas_ignores_sentences_without_two_words():
    one_word = [[-1, 0], [False, True]]
    linear = np.abs(np.subtract.outer(np.arange(5), np.arange(5))).astype(float)
    score = uuas([linear, np.zeros((2, 2))], [FIVE, one_word[0]], [[False] * 5, one_word[1]])
    assert score == pytest.approx(3 / 4)
    with pytest.raises(ProbingError, match="UUAS is undefined"):
        uuas([np.zeros((2, 2))], [one_word[0]], [one_word[1]])


def test_dspr_is_one_for_a_monotone_transform_of_gold():
    sentences = [FIVE, PUNCTUATED, chain(6), chain(9)]
    predicted = [np.sqrt(tree_distances(h)) * 3 + tree_distances(h) ** 2 for h in sentences]
    assert distance_spearman(predicted, sentences) == pytest.approx(1.0)


def test_dspr_averages_per_length_then_over_lengths():
    """Lengths 5: +1; 6: +1, +1, -1 (mean 1/3); 7: -1; length 4 (outside 5-50): -1.
    Per length then over lengths: (1 + 1/3 - 1) / 3 = 1/9 (per sentence it would be 1/5, per
    word 4/29)."""
    sentences = [chain(5), chain(6), chain(6), chain(6), chain(7), chain(4)]
    signs = [1, 1, 1, -1, -1, -1]
    predicted = [sign * tree_distances(h) for sign, h in zip(signs, sentences, strict=True)]
    assert distance_spearman(predicted, sentences) == pytest.approx(1 / 9)
    assert distance_spearman(predicted, sentences, lengths=(4, 4)) == pytest.approx(-1.0)


def test_spearman_rows_are_scipy_spearmanr_and_constant_rows_count_zero():
    """Tied predictions too: scipy's spearmanr ranks ties by their average, and so must we."""
    rng = np.random.default_rng(1)
    predicted = rng.integers(0, 4, size=(5, 5)).astype(float)
    predicted[2] = 0.7
    gold = tree_distances(FIVE)
    rows = [0.0 if i == 2 else spearmanr(predicted[i], gold[i]).statistic for i in range(5)]
    assert distance_spearman([predicted], [FIVE]) == pytest.approx(np.mean(rows))
    assert distance_spearman([np.zeros((5, 5))], [FIVE]) == 0.0
    depths = rng.integers(0, 3, size=5).astype(float)
    assert depth_spearman([depths], [FIVE]) == pytest.approx(
        spearmanr(depths, tree_depths(FIVE)).statistic)


def test_spearman_needs_a_sentence_in_the_window():
    with pytest.raises(ProbingError, match="no sentence of 5 to 50 words"):
        distance_spearman([tree_distances(chain(3))], [chain(3)])
    with pytest.raises(ProbingError, match="no sentence of 5 to 50 words"):
        depth_spearman([np.arange(3.0)], [chain(3)])


def test_root_accuracy():
    """Right; right once the shallower "." is passed over; wrong (word 0 shallower than the
    root 1)."""
    depths = [np.array([1.0, 0.1, 1.2, 2.0, 0.9]),
              np.array([2.0, 1.0, 0.5, 1.0, 0.0]),
              np.array([0.0, 0.5, 1.0, 2.0, 1.0])]
    heads = [FIVE, PUNCTUATED, FIVE]
    flags = [[False] * 5, PUNCTUATED_FLAGS, [False] * 5]
    assert root_accuracy(depths, heads, flags) == pytest.approx(2 / 3)
    assert root_accuracy(depths[1:2], heads[1:2], [[False] * 5]) == 0.0


def test_nspr():
    """Lengths 5: +1 and -1 (mean 0), 6: +1, 3 (outside): -1; so (0 + 1) / 2."""
    sentences = [FIVE, PUNCTUATED, chain(6), chain(3)]
    signs = [1, -1, 1, -1]
    predicted = [sign * (2 * tree_depths(h) + 1.0)
                 for sign, h in zip(signs, sentences, strict=True)]
    assert depth_spearman(predicted, sentences) == pytest.approx(0.5)
    assert depth_spearman([np.ones(5)], [FIVE]) == 0.0


def test_bad_predictions_refused():
    with pytest.raises(ProbingError, match="3 keep flags"):
        mst_edges(np.zeros((4, 4)), [True] * 3)
    with pytest.raises(ProbingError, match=r"shape \(4, 4\)"):
        uuas([np.zeros((4, 4))], [FIVE], [[False] * 5])
    with pytest.raises(ProbingError, match="NaN"):
        distance_spearman([np.full((5, 5), np.nan)], [FIVE])
    with pytest.raises(ProbingError, match="4 punctuation flags"):
        root_accuracy([np.zeros(5)], [FIVE], [[False] * 4])
    with pytest.raises(ProbingError, match="one entry per sentence"):
        depth_spearman([np.zeros(5)], [FIVE, FIVE])


def test_a_resample_of_sentences_scores_as_the_sentences_it_draws():
    sentences = [FIVE, chain(5), PUNCTUATED]
    rng = np.random.default_rng(0)
    predicted = [tree_distances(h) + rng.random((5, 5)) for h in sentences]
    flags = [[False] * 5, [False] * 5, PUNCTUATED_FLAGS]
    stats = distance_statistics(predicted, sentences, flags)
    weights = np.array([[1, 1, 1], [2, 0, 1], [0, 3, 0]])
    for row, draw in zip(weights, ([0, 1, 2], [0, 0, 2], [1, 1, 1]), strict=True):
        drawn = ([predicted[i] for i in draw], [sentences[i] for i in draw],
                 [flags[i] for i in draw])
        assert metrics.uuas(stats, row[None])[0] == pytest.approx(uuas(*drawn))
        assert metrics.distance_spearman(stats, row[None])[0] == pytest.approx(
            distance_spearman(drawn[0], drawn[1]))
    assert metrics.uuas(stats, weights).shape == (3,)
