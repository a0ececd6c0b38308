"""From subword pieces back to words, and from long sentences to model-sized windows."""

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import accumulate, pairwise

import numpy as np
import torch


class Pooling(StrEnum):
    """How a word's vector is made from its pieces' vectors."""

    first = "first"
    mean = "mean"
    last = "last"

    def pieces(self, starts: np.ndarray, counts: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For words whose pieces sit at positions starts[j] .. starts[j] + counts[j] - 1:
        (word j, position, weight) of every piece that enters a word's vector; a word's vector
        is the weighted sum over its entries."""
        words = np.arange(len(counts))
        if self is Pooling.first:
            return words, starts, np.ones(len(counts), np.float32)
        if self is Pooling.last:
            return words, starts + counts - 1, np.ones(len(counts), np.float32)
        positions = np.arange(starts[0], starts[-1] + counts[-1]) if len(counts) else starts
        return (np.repeat(words, counts), positions,
                np.repeat(1 / counts, counts).astype(np.float32))


class LongWords(StrEnum):
    """What to do with a single word that has more pieces than the model's window."""

    error = "error"        # stop, naming the word
    truncate = "truncate"  # encode its leading characters that fit, with a warning


@dataclass(frozen=True)
class Row:
    """One pass through the model: the piece ids of each of its words, and which of its words
    take their vectors from it (words [keep_start, keep_end) of the row)."""

    pieces: list[list[int]]
    keep_start: int
    keep_end: int


def pooling_matrix(rows: list[Row], pooling: Pooling, first_position: int, n_positions: int
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights (rows, kept words, positions) that turn a row's piece vectors into its kept
    words' vectors by one batched matrix product, and a mask (rows, kept words) of the slots
    that hold a word. A row's pieces start at `first_position` (after its special tokens)."""
    width = max(row.keep_end - row.keep_start for row in rows)
    weights = np.zeros((len(rows), width, n_positions), np.float32)
    mask = np.zeros((len(rows), width), bool)
    for r, row in enumerate(rows):
        counts = np.array([len(p) for p in row.pieces[row.keep_start:row.keep_end]])
        skipped = sum(len(p) for p in row.pieces[:row.keep_start])
        starts = first_position + skipped + np.concatenate([[0], np.cumsum(counts)[:-1]])
        words, positions, values = pooling.pieces(starts.astype(np.int64), counts)
        weights[r, words, positions] = values
        mask[r, :len(counts)] = True
    return torch.from_numpy(weights), torch.from_numpy(mask)


@dataclass(frozen=True)
class Window:
    """Words [start, end) go through the model together; words [keep_start, keep_end) take
    their vectors from this pass."""

    start: int
    end: int
    keep_start: int
    keep_end: int


def plan_windows(piece_counts: Sequence[int], max_pieces: int, stride: int) -> list[Window]:
    """Cover a sentence with windows of whole words, each at most `max_pieces` pieces long.

    A sentence that fits is one window. Otherwise window i+1 starts about `stride` pieces after
    window i, so neighbours overlap by about max_pieces - stride pieces, and each overlap is
    split at its middle: every word is kept from exactly one window, the one that gives it the
    most context on both sides. The caller guarantees that no single word exceeds max_pieces.
    """
    if not 0 < stride <= max_pieces:
        raise ValueError(f"stride must be in 1..{max_pieces}, got {stride}")
    offsets = [0, *accumulate(piece_counts)]
    n_words = len(piece_counts)
    if offsets[-1] <= max_pieces:
        return [Window(0, n_words, 0, n_words)]
    spans = []
    start = 0
    while True:
        end = bisect_right(offsets, offsets[start] + max_pieces) - 1
        spans.append((start, end))
        if end == n_words:
            break
        # Advance by about `stride` pieces, at least one word, and never past `end`, so that
        # consecutive windows always share or touch a word boundary and cover the sentence.
        start = min(max(bisect_left(offsets, offsets[start] + stride), start + 1), end)
    cuts = [0]
    for (_, left_end), (right_start, _) in pairwise(spans):
        middle = (offsets[right_start] + offsets[left_end]) / 2
        cuts.append(min(max(bisect_left(offsets, middle), right_start, cuts[-1]), left_end))
    cuts.append(n_words)
    return [Window(s, e, cuts[i], cuts[i + 1]) for i, (s, e) in enumerate(spans)]
