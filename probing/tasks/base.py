"""What every task gives the probe: sentences as words, and labelled spans over them."""

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from probing.errors import ProbingError

SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class Target:
    """One labelled item: a span, or a pair of spans, of half-open word ranges [start, end)."""

    span1: tuple[int, int]
    span2: tuple[int, int] | None
    label: str


@dataclass
class Example:
    """A sentence and its targets; `source` is "file:line" of the sentence, for error messages."""

    words: list[str]
    targets: list[Target]
    source: str = ""


class Task(ABC):
    """A probing task reads its corpus files into examples, one per sentence, in file order.

    `files` maps each split (train, dev, test) to a path; `corpus` names the corpus in
    `probing.data` so that a missing file can say how to fetch it. `metric` is the dev metric
    that early stopping and model selection watch.
    """

    n_spans: int = 1
    metric: str = "accuracy"

    def __init__(self, name: str, corpus: str, train: str, dev: str, test: str) -> None:
        self.name = name
        self.corpus = corpus
        self.files = {"train": Path(train), "dev": Path(dev), "test": Path(test)}

    def read(self, split: str) -> list[Example]:
        if split not in self.files:
            raise ProbingError(f"task {self.name} has no split {split!r}; splits: {SPLITS}")
        return self.read_file(require_file(self.files[split], self.corpus))

    @abstractmethod
    def read_file(self, path: Path) -> list[Example]:
        """Examples of one corpus file, in file order."""


def require_file(path: Path, corpus: str) -> Path:
    """The path itself, or an error that says where we looked and how to get the corpus."""
    if path.is_file():
        return path
    raise ProbingError(
        f"corpus file not found: {path}\n"
        f"Point PROBING_DATA_DIR at the folder that holds the corpora, or download {corpus} "
        f"there with: python -m probing.data fetch {corpus}"
    )


class LabelVocab:
    """Label <-> index, taken from the training split so that every split shares one mapping."""

    def __init__(self, labels: Iterable[str]) -> None:
        self.labels = sorted(set(labels))
        self.index = {label: i for i, label in enumerate(self.labels)}

    @classmethod
    def from_examples(cls, examples: list[Example]) -> "LabelVocab":
        return cls(t.label for ex in examples for t in ex.targets)

    def __len__(self) -> int:
        return len(self.labels)

    def encode(self, example: Example, target: Target) -> int:
        try:
            return self.index[target.label]
        except KeyError:
            raise ProbingError(
                f"{example.source}: label {target.label!r} does not occur in the training split "
                f"(training labels: {', '.join(self.labels)}). Train on data that covers it, or "
                f"map it to a training label in the task's reader."
            ) from None


def label_counts(examples: list[Example]) -> Counter:
    return Counter(t.label for ex in examples for t in ex.targets)
