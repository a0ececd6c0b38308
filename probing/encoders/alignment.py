"""From subword pieces back to words, and from long sentences to model-sized windows."""

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from itertools import accumulate, pairwise

import torch
import torch.nn.functional as F


class Pooling(StrEnum):
    """How a word's vector is made from its pieces' vectors."""

    first = "first"
    mean = "mean"
    last = "last"

    def select(self, word_ids: torch.Tensor) -> torch.Tensor:
        """word_ids: (rows, pieces), the word of each piece or -1 (special tokens, padding).
        True on the pieces whose average is their word's vector."""
        is_word = word_ids >= 0
        starts = word_ids != F.pad(word_ids, (1, 0), value=-1)[:, :-1]
        ends = word_ids != F.pad(word_ids, (0, 1), value=-1)[:, 1:]
        return {"first": is_word & starts, "mean": is_word, "last": is_word & ends}[self.value]


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
