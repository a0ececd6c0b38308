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

    def pieces(self, starts: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For words whose pieces sit at positions starts[j] .. starts[j] + counts[j] - 1:
        the position of each word's first piece that enters its vector, and (word, position)
        of the others (mean pooling only); a word's vector is the average of its entries."""
        if self is Pooling.first:
            return starts, np.zeros((2, 0), np.int64)
        if self is Pooling.last:
            return starts + counts - 1, np.zeros((2, 0), np.int64)
        words = np.repeat(np.arange(len(counts)), counts - 1)
        offset = np.arange(len(words)) - np.repeat(np.cumsum(counts - 1) - (counts - 1),
                                                    counts - 1)
        return starts, np.stack([words, starts[words] + 1 + offset])


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


@dataclass(frozen=True)
class WordPooling:
    """Where each word's vector comes from in a batch's piece vectors flattened to
    (rows x positions, dim): the first piece of each word (`first`), the other pieces that
    enter a word's average (`extra_words`, `extra_positions`), and 1 / pieces per word
    (`scale`, None where every word is one piece)."""

    first: torch.Tensor
    extra_words: torch.Tensor
    extra_positions: torch.Tensor
    scale: torch.Tensor | None

    @classmethod
    def of(cls, rows: list[Row], pooling: Pooling, first_position: int, width: int
           ) -> "WordPooling":
        """For rows padded to `width` positions whose pieces start at `first_position`
        (after the special tokens); the words kept from each row, row after row."""
        kept, row_of, skipped = [], [], []
        for r, row in enumerate(rows):
            counts = [len(p) for p in row.pieces]
            kept += counts[row.keep_start:row.keep_end]
            row_of += [r] * (row.keep_end - row.keep_start)
            skipped.append(sum(counts[:row.keep_start]))
        counts, row_of = np.array(kept, np.int64), np.array(row_of, np.int64)
        before = np.cumsum(counts) - counts  # pieces of the batch's kept words before each
        row_start = np.searchsorted(row_of, row_of)  # each word's row's first kept word
        starts = (row_of * width + first_position + np.array(skipped, np.int64)[row_of]
                  + before - before[row_start])
        first, extra = pooling.pieces(starts, counts)
        scale = (torch.from_numpy(1 / counts).float()
                 if pooling is Pooling.mean and (counts > 1).any() else None)
        return cls(torch.from_numpy(first), torch.from_numpy(extra[0]),
                   torch.from_numpy(extra[1]), scale)

    def __call__(self, layer: torch.Tensor) -> torch.Tensor:
        """(rows, positions, dim) -> (words, dim)."""
        flat = layer.flatten(0, 1)
        words = flat.index_select(0, self.first.to(flat.device))
        if len(self.extra_words):
            words.index_add_(0, self.extra_words.to(flat.device),
                             flat.index_select(0, self.extra_positions.to(flat.device)))
        return words if self.scale is None else words * self.scale.to(flat.device)[:, None]


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
