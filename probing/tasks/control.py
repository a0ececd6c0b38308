"""Control tasks (Hewitt & Liang 2019): the same spans, labels that only memory can predict.

A probe that scores well on a task may have learnt the task from the representation, or may
just have memorised word identities. A control task keeps every target's spans and replaces
its label by a fixed random function of the span's words (their word types): the same words
always get the same label, drawn from the task's training label distribution, so a probe can
only score by memorising words. Selectivity = task score - control score.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # base.py imports this module to build control tasks
    from probing.tasks.base import Example, Label, Target


def span_words(example: Example, target: Target) -> str:
    """The word types a control label is a function of: the words of span 1 (and span 2)."""
    spans = [span for span in (target.span1, target.span2) if span is not None]
    return "\x1e".join("\x1f".join(example.words[start:end]) for start, end in spans)


class ControlLabels:
    """label(words) = the training label whose cumulative share first exceeds u, where
    u in [0, 1) is the sha256 of (seed, words): fixed for a seed, the same on every machine,
    and distributed over labels as the training targets are."""

    def __init__(self, train: list[Example], seed: int) -> None:
        counts = Counter(t.label for ex in train for t in ex.targets)
        self.labels: list[Label] = sorted(counts, key=str)
        shares = np.array([counts[label] for label in self.labels], dtype=np.float64)
        self.cumulative = np.cumsum(shares) / shares.sum()
        self.seed = seed

    def __call__(self, words: str) -> Label:
        digest = hashlib.sha256(f"{self.seed}\x1d{words}".encode()).digest()
        u = int.from_bytes(digest[:8], "big") / 2**64
        index = int(np.searchsorted(self.cumulative, u, side="right"))
        return self.labels[min(index, len(self.labels) - 1)]


def control_task(splits: dict[str, list[Example]], seed: int) -> dict[str, list[Example]]:
    """Every split relabelled by the control function of the training split's labels."""
    label_of = ControlLabels(splits["train"], seed)
    return {split: [replace(ex, targets=[replace(t, label=label_of(span_words(ex, t)))
                                         for t in ex.targets])
                    for ex in examples]
            for split, examples in splits.items()}
