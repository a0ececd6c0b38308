"""The evaluation metrics of Hewitt & Manning's (2019) structural probes: gold tree distances and
depths, UUAS, distance Spearman (DSpr), root accuracy and norm Spearman (NSpr).

Each metric is computed as the authors' code computes it (john-hewitt/structural-probes,
reporter.py), with one change of rule: punctuation is a word whose UPOS tag is PUNCT (the callers
pass one boolean per word), where the reference tests PTB XPOS tags ('' , . : `` -LRB- -RRB-).
Where the reference would average a NaN (a constant row of predictions), the docstrings say what
is done instead. Spanning trees, ranks and correlations come from scipy.

Heads are 0-based word indices, -1 for the root (CoNLL-U HEAD minus 1).
"""

from collections.abc import Sequence

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import minimum_spanning_tree, shortest_path
from scipy.stats import pearsonr, rankdata

from probing.utils.errors import ProbingError

SPEARMAN_LENGTHS = (5, 50)  # the sentence lengths, inclusive, whose averages DSpr/NSpr average


def tree_depths(heads: Sequence[int]) -> np.ndarray:
    """The number of edges from each word to the root (root 0). Refuses heads that are not one
    tree: not exactly one root, a head out of range or the word itself, a cycle."""
    heads = np.asarray(heads, dtype=int)
    _check_heads(heads)
    depths = np.full(len(heads), -1)
    depths[heads == -1] = 0
    for start in range(len(heads)):
        path, node = [], start
        while depths[node] < 0:
            path.append(node)
            node = heads[node]
            if len(path) > len(heads):
                raise ProbingError(f"heads {heads.tolist()} hold a cycle through word {start} "
                                   f"(0-based): not a tree")
        for steps, walked in enumerate(reversed(path), start=1):
            depths[walked] = depths[node] + steps
    return depths


def tree_distances(heads: Sequence[int]) -> np.ndarray:
    """n x n numbers of edges on the path between two words in the undirected tree."""
    heads = np.asarray(heads, dtype=int)
    tree_depths(heads)  # refuses anything but one tree
    children = np.flatnonzero(heads >= 0)
    n = len(heads)
    edges = csr_matrix((np.ones(len(children)), (children, heads[children])), shape=(n, n))
    return shortest_path(edges, directed=False, unweighted=True).astype(int)


def mst_edges(distances: np.ndarray, keep: np.ndarray | Sequence[bool]) -> set[tuple[int, int]]:
    """The undirected minimum spanning tree of the words where `keep` is true, as sorted pairs of
    their original indices; empty for fewer than two kept words.

    Reads the upper triangle (the matrices are symmetric). The tree depends only on the order of
    the weights, so they are replaced by their ranks (1, 2, ...) before scipy's
    minimum_spanning_tree, which takes a 0 for a missing edge: exact-zero distances (identical
    vectors) stay edges. Ties are ranked in row-major order of the pairs, which picks the tree
    the reference's Kruskal with a stable sort picks.
    """
    distances = _finite(distances, "distances")
    keep = np.asarray(keep, dtype=bool)
    if distances.ndim != 2 or distances.shape != (len(keep), len(keep)):
        raise ProbingError(f"distances of shape {distances.shape} with {len(keep)} keep flags: "
                           f"expected a square matrix with one row per word")
    kept = np.flatnonzero(keep)
    if len(kept) < 2:
        return set()
    upper = np.triu_indices(len(kept), k=1)
    ranks = np.zeros((len(kept), len(kept)))
    ranks[upper] = rankdata(distances[np.ix_(kept, kept)][upper], method="ordinal")
    pairs = np.sort(kept[np.column_stack(minimum_spanning_tree(ranks).nonzero())], axis=1)
    return {(int(i), int(j)) for i, j in pairs}


def distance_statistics(predicted: list[np.ndarray], heads: list[Sequence[int]],
                        punct: list[Sequence[bool]]) -> dict[str, np.ndarray]:
    """Per sentence, what UUAS and DSpr are made of: `uuas_correct` (edges of the MST of the
    predicted distances that are gold edges), `uuas_total` (gold edges), `length` (words),
    `spearman_sum` and `spearman_count` (the sum of its words' Spearman correlations and their
    number). `uuas` and `distance_spearman` aggregate them, over any resample of sentences.

    As in the reference, both trees span the non-punctuation words only (UPOS PUNCT excluded),
    and the gold tree is the MST of the gold tree distances over those words (the gold edges
    themselves where punctuation is a leaf); a sentence with fewer than two non-punctuation
    words has no edge. DSpr correlates each word's row of predicted distances with its row of
    gold distances, every word included (punctuation and the word itself, as in the reference).
    A constant predicted row has no Spearman correlation (scipy gives NaN, and the reference's
    mean would turn the whole score into NaN); it counts as 0 here: it orders nothing, so it is
    scored as no better than chance, and one collapsed row does not blank out a whole score.
    """
    _same_number(predicted=predicted, heads=heads, punct=punct)
    rows = []
    for matrix, sentence_heads, sentence_punct in zip(predicted, heads, punct, strict=True):
        gold = tree_distances(sentence_heads)
        matrix = _shaped(matrix, gold.shape)
        keep = ~_flags(sentence_punct, len(gold))
        gold_edges = mst_edges(gold, keep)
        rho = _row_spearman(matrix, gold)
        rows.append((len(gold_edges & mst_edges(matrix, keep)), len(gold_edges), len(gold),
                     rho.sum(), len(rho)))
    return _columns(rows, ("uuas_correct", "uuas_total", "length", "spearman_sum",
                           "spearman_count"))


def depth_statistics(predicted_depths: list[np.ndarray], heads: list[Sequence[int]],
                     punct: list[Sequence[bool]]) -> dict[str, np.ndarray]:
    """Per sentence, what root accuracy and NSpr are made of: `root_correct` (1 where the gold
    root is the shallowest non-punctuation word by the predicted depths, the first on a tie; a
    sentence of punctuation only falls back to the shallowest word, as in the reference),
    `length`, and `nspr`, the Spearman correlation of predicted with gold depths over every word
    (0 for constant predictions, as in `distance_statistics`)."""
    _same_number(predicted_depths=predicted_depths, heads=heads, punct=punct)
    rows = []
    for depths, sentence_heads, sentence_punct in zip(predicted_depths, heads, punct,
                                                      strict=True):
        gold = tree_depths(sentence_heads)
        depths = _shaped(depths, gold.shape)
        candidates = np.flatnonzero(~_flags(sentence_punct, len(gold)))
        if len(candidates) == 0:
            candidates = np.arange(len(gold))
        root = int(gold[candidates[np.argmin(depths[candidates])]] == 0)
        rows.append((root, len(gold), _row_spearman(depths[None], gold[None])[0]))
    return _columns(rows, ("root_correct", "length", "nspr"))


def uuas(stats: dict[str, np.ndarray], weights: np.ndarray | None = None) -> np.ndarray:
    """Micro-averaged UUAS from `distance_statistics`: correct over gold edges of all sentences.
    `weights` (resamples, sentences) counts each sentence in each resample (None: once each);
    the result has one value per resample, or is a float."""
    w = _weights(weights, stats["length"])
    total = w @ stats["uuas_total"]
    if (total == 0).any():
        raise ProbingError("no sentence has two non-punctuation words: UUAS is undefined")
    return _result(w @ stats["uuas_correct"] / total, weights)


def distance_spearman(stats: dict[str, np.ndarray], weights: np.ndarray | None = None,
                      lengths: tuple[int, int] = SPEARMAN_LENGTHS) -> np.ndarray:
    """DSpr from `distance_statistics`: the words' correlations averaged over all words of the
    sentences of one length, then those averages over the lengths in `lengths` (inclusive) that
    occur. `weights` as in `uuas`."""
    return _mean_over_lengths(stats, "spearman_sum", "spearman_count", weights, lengths)


def root_accuracy(stats: dict[str, np.ndarray], weights: np.ndarray | None = None
                  ) -> np.ndarray:
    """The share of sentences whose root is found, from `depth_statistics`."""
    w = _weights(weights, stats["length"])
    if (w.sum(axis=1) == 0).any():
        raise ProbingError("no sentences: root accuracy is undefined")
    return _result(w @ stats["root_correct"] / w.sum(axis=1), weights)


def depth_spearman(stats: dict[str, np.ndarray], weights: np.ndarray | None = None,
                   lengths: tuple[int, int] = SPEARMAN_LENGTHS) -> np.ndarray:
    """NSpr from `depth_statistics`: averaged over the sentences of one length, then over the
    lengths in `lengths` (inclusive) that occur."""
    return _mean_over_lengths(stats, "nspr", None, weights, lengths)


def _columns(rows: list[tuple], names: tuple[str, ...]) -> dict[str, np.ndarray]:
    values = np.array(rows, dtype=np.float64).reshape(len(rows), len(names))
    return {name: values[:, i] for i, name in enumerate(names)}


def _weights(weights: np.ndarray | None, length: np.ndarray) -> np.ndarray:
    return np.ones((1, len(length))) if weights is None else np.atleast_2d(weights)


def _result(values: np.ndarray, weights: np.ndarray | None) -> np.ndarray:
    return float(values[0]) if weights is None else values


def _mean_over_lengths(stats: dict[str, np.ndarray], sums: str, counts: str | None,
                       weights: np.ndarray | None, lengths: tuple[int, int]) -> np.ndarray:
    w = _weights(weights, stats["length"])
    means = []
    for length in np.unique(stats["length"]):
        if not lengths[0] <= length <= lengths[1]:
            continue
        of_length = (stats["length"] == length).astype(np.float64)
        count = w @ (of_length * (stats[counts] if counts else 1.0))
        with np.errstate(invalid="ignore", divide="ignore"):
            means.append(np.where(count > 0, w @ (of_length * stats[sums]) / count, np.nan))
    if not means:
        raise ProbingError(f"no sentence of {lengths[0]} to {lengths[1]} words: the Spearman "
                           f"average over sentence lengths is undefined")
    return _result(np.nanmean(np.stack(means), axis=0), weights)


def _row_spearman(predicted: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """The Spearman correlation of each row of `predicted` with the same row of `gold` (gold rows
    vary), 0 for a constant predicted row. Computed as scipy.stats.spearmanr computes it, the
    Pearson correlation of average ranks, but with scipy's rankdata and pearsonr over all rows
    at once: spearmanr ranks row by row in Python, four times slower on a test set
    (tests/test_structural_metrics.py checks the two agree)."""
    rho = np.zeros(len(predicted))
    varying = np.flatnonzero(np.ptp(predicted, axis=1) > 0)
    if len(varying):
        rho[varying] = pearsonr(rankdata(predicted[varying], axis=1),
                                rankdata(gold[varying], axis=1), axis=1).statistic
    return rho


def _check_heads(heads: np.ndarray) -> None:
    roots = np.flatnonzero(heads == -1)
    if heads.ndim != 1 or len(roots) != 1:
        raise ProbingError(f"heads {heads.tolist()} have {len(roots)} roots (-1): a tree has "
                           f"exactly one")
    bad = np.flatnonzero((heads < -1) | (heads >= len(heads)) | (heads == np.arange(len(heads))))
    if len(bad):
        raise ProbingError(f"heads {heads.tolist()}: word {bad[0]} has head {heads[bad[0]]}, "
                           f"not another word's 0-based index (-1 for the root)")


def _shaped(prediction: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    prediction = _finite(prediction, "predictions")
    if prediction.shape != shape:
        raise ProbingError(f"predictions of shape {prediction.shape} for a sentence whose gold "
                           f"tree needs {shape}: one value per word (pair)")
    return prediction


def _finite(values: np.ndarray, name: str) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if not np.isfinite(values).all():
        raise ProbingError(f"{name} hold NaN or infinite values: the probe's training diverged")
    return values


def _flags(flags: Sequence[bool], n: int) -> np.ndarray:
    flags = np.asarray(flags, dtype=bool)
    if flags.shape != (n,):
        raise ProbingError(f"{len(flags)} punctuation flags for a sentence of {n} words")
    return flags


def _same_number(**sequences: Sequence) -> None:
    counts = {name: len(values) for name, values in sequences.items()}
    if len(set(counts.values())) != 1:
        raise ProbingError(f"one entry per sentence expected, got {counts}")
