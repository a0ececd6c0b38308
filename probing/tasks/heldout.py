"""A dev split held out of the training file, for corpora that have no dev split of their own."""

from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from probing.tasks.base import Example, Task
from probing.utils.errors import ProbingError

T = TypeVar("T")


@dataclass(frozen=True)
class HeldOut:
    """Train and dev read one file: every `every`-th item (index % every == every - 1) is the
    dev split that early stopping watches, the others are train. A fixed rule, not a seeded
    draw, so that the split is the same in every run and can be stated in one line."""

    every: int

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

    def select(self, split: str, items: list[T]) -> list[T]:
        if split == "test":
            return items
        dev = split == "dev"
        return [item for i, item in enumerate(items) if (i % self.every == self.every - 1) == dev]

    def describe(self, files: dict[str, Path]) -> dict:
        return {"split": f"train: {files['train'].name} without every {self.every}th item "
                         f"(index % {self.every} == {self.every - 1}, 0-based), which is the dev "
                         f"split for early stopping; test: {files['test'].name}",
                "heldout_every": self.every}


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
