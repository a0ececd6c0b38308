"""Control tasks (Hewitt & Liang 2019): the same spans, labels that only memory can predict.

A probe that scores well on a task may have learnt the task from the representation, or may
just have memorised word identities. A control task keeps every target's spans and replaces
its label by a fixed random function of a key word of the target: the same key always gets the
same label, drawn from the task's training label distribution, so a probe can only score by
memorising key words. Selectivity = task score - control score.

The key is a word type that recurs, so that the control can be learnt at all (a key made of a
whole span or a word pair is mostly unseen at test, and its control mostly unlearnable):
  - a one-word target: its word (Hewitt & Liang's design);
  - a longer span: its last word (the span's head would be the linguist's choice, but the
    corpora with longer spans here, PTB constituents and UNER entities, give no heads);
  - a pair of spans (dependency arcs, relations): span 1's key.
The run record states the rule and how many dev and test targets have a key seen in training.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # base.py imports this module to build control tasks
    from probing.tasks.base import Example, Label, Target

KEY_RULE = ("one-word span: its word; longer span: its last word (no head words in these "
            "corpora); pair of spans: span 1's key")


def control_key(example: Example, target: Target) -> str:
    """The word type a target's control label is a function of (the rule above): the last word
    of span 1, which for a one-word span is the word itself."""
    return example.words[target.span1[1] - 1]


class ControlLabels:
    """label(key) = the training label whose cumulative share first exceeds u, where
    u in [0, 1) is the sha256 of (seed, key): fixed for a seed, the same on every machine,
    and distributed over labels as the training targets are."""

    def __init__(self, train: list[Example], seed: int) -> None:
        counts = Counter(t.label for ex in train for t in ex.targets)
        self.labels: list[Label] = sorted(counts, key=str)
        shares = np.array([counts[label] for label in self.labels], dtype=np.float64)
        self.cumulative = np.cumsum(shares) / shares.sum()
        self.seed = seed

    def __call__(self, key: str) -> Label:
        digest = hashlib.sha256(f"{self.seed}\x1d{key}".encode()).digest()
        u = int.from_bytes(digest[:8], "big") / 2**64
        index = int(np.searchsorted(self.cumulative, u, side="right"))
        return self.labels[min(index, len(self.labels) - 1)]


def control_task(splits: dict[str, list[Example]], seed: int) -> dict[str, list[Example]]:
    """Every split relabelled by the control function of the training split's labels."""
    label_of = ControlLabels(splits["train"], seed)
    return {split: [replace(ex, targets=[replace(t, label=label_of(control_key(ex, t)))
                                         for t in ex.targets])
                    for ex in examples]
            for split, examples in splits.items()}


def key_seen_in_train(splits: dict[str, list[Example]], split: str) -> float:
    """The share of a split's targets whose control key is the key of some training target:
    only those can be predicted above chance by a probe that memorises keys."""
    seen = {control_key(ex, t) for ex in splits["train"] for t in ex.targets}
    keys = [control_key(ex, t) for ex in splits[split] for t in ex.targets]
    return sum(key in seen for key in keys) / len(keys)


def control_record(splits: dict[str, list[Example]]) -> dict:
    """What the run record says of a control task: its key rule and the seen shares."""
    return {"control_key": KEY_RULE,
            "control_key_seen_in_train": key_seen_in_train(splits, "test"),
            "control_key_seen_in_train_dev": key_seen_in_train(splits, "dev")}
