"""A dev split held out of the training file, for corpora that have no dev split of their own."""

from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from probing.tasks.base import Example, Task
from probing.utils.errors import ProbingError

T = TypeVar("T")


@dataclass(frozen=True)
class HeldOut:
    """Train and dev read one file: every `every`-th unit (index % every == every - 1) is the
    dev split that early stopping watches, the others are train. A unit is an item, or, where
    items are grouped (the sentences of a document), a group, so that no document is split
    between train and dev and dev measures what the probe does on text it has not seen. A
    fixed rule, not a seeded draw, so that the split is the same in every run and can be stated
    in one line."""

    every: int
    unit: str = "item"  # what `every` counts, in words: "item", "sentence", "document"

    def __post_init__(self) -> None:
        if not isinstance(self.every, int) or self.every < 2:
            raise ProbingError(f"task.heldout_every must be an integer of at least 2, "
                               f"got {self.every!r}")

    def check(self, files: dict[str, Path], task: str) -> None:
        if files["train"] != files["dev"]:
            raise ProbingError(
                f"task {task}: dev is held out of the training file (task.heldout_every), so "
                f"task.dev must name the same file as task.train; got {files['dev']} and "
                f"{files['train']}")

    def select(self, split: str, items: list[T], groups: list[str] | None = None) -> list[T]:
        """The items of `split`; `groups` (one name an item, consecutive items of a group
        together) makes the group the unit held out."""
        if split == "test":
            return items
        units = _unit_numbers(groups) if groups is not None else range(len(items))
        dev = split == "dev"
        return [item for unit, item in zip(units, items, strict=True)
                if (unit % self.every == self.every - 1) == dev]

    def describe(self, files: dict[str, Path]) -> dict:
        return {"split": f"train: {files['train'].name} without every {ordinal(self.every)} "
                         f"{self.unit} (index % {self.every} == {self.every - 1}, 0-based), "
                         f"which is the dev split for early stopping; test: {files['test'].name}",
                "heldout_every": self.every, "heldout_unit": self.unit}


def ordinal(n: int) -> str:
    """2 -> "2nd", 10 -> "10th", 12 -> "12th", 23 -> "23rd"."""
    suffix = "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _unit_numbers(groups: list[str]) -> list[int]:
    """Each item's group as a number: 0 for the first group, 1 for the next one, ..."""
    numbers: list[int] = []
    for i, group in enumerate(groups):
        numbers.append(0 if i == 0 else numbers[-1] + (group != groups[i - 1]))
    return numbers


@dataclass(kw_only=True, eq=False)
class HeldOutDevTask(Task):
    """A task whose corpus has no dev split of its own: train and dev read one file, and every
    `heldout_every`-th item of it is the dev split that early stopping watches (`HeldOut`)."""

    heldout_every: int

    def __post_init__(self) -> None:
        super().__post_init__()
        self.heldout = HeldOut(self.heldout_every)
        self.heldout.check(self.files, self.name)

    @property
    def dev_held_out(self) -> bool:
        return True

    def read(self, split: str) -> list[Example]:
        return self.heldout.select(split, super().read(split))

    def describe(self) -> dict:
        return {**self.heldout.describe(self.files), **super().describe()}
