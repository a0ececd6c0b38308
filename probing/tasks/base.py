"""What every task gives the probe: sentences as words, and labelled spans over them."""

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from probing.errors import ProbingError
from probing.tasks.control import control_task
from probing.tasks.labels import Labeling, SingleLabel

SPLITS = ("train", "dev", "test")

# One label, or for a multi-label task the sorted tuple of a span's labels.
Label = str | tuple[str, ...]


@dataclass(frozen=True)
class Target:
    """One labelled item: a span, or a pair of spans, of half-open word ranges [start, end).

    `source` is "file:line" of the item where the reader knows it, for error messages."""

    span1: tuple[int, int]
    span2: tuple[int, int] | None
    label: Label
    source: str = ""


@dataclass
class Example:
    """A sentence and its targets; `source` is "file:line" of the sentence, for error messages,
    `id` the corpus's own name for it where it has one (SemEval sentence numbers)."""

    words: list[str]
    targets: list[Target]
    source: str = ""
    id: str = ""


class Task(ABC):
    """A probing task reads its corpus files into examples, one per sentence, in file order.

    `files` maps each split (train, dev, test) to a path; `corpus` names the corpus in
    `probing.data` so that a missing file can say how to fetch it. `labeling` owns the loss,
    the decision rule and the metrics (`labeling.metric` is the dev metric that early stopping
    watches); `n_spans` is 1 for one-span targets and 2 for relations between two spans.
    With `control`, every split is relabelled as the task's control task (tasks/control.py).
    A subclass takes its own settings and passes the rest (`**common`) on.
    """

    n_spans: int = 1
    labeling: Labeling = SingleLabel()

    def __init__(self, name: str, corpus: str, train: str, dev: str, test: str,
                 control: bool, control_seed: int) -> None:
        self.name = name
        self.corpus = corpus
        self.files = {"train": Path(train), "dev": Path(dev), "test": Path(test)}
        self.control = control
        self.control_seed = control_seed

    @property
    def metric(self) -> str:
        return self.labeling.metric

    def read(self, split: str) -> list[Example]:
        if split not in self.files:
            raise ProbingError(f"task {self.name} has no split {split!r}; splits: {SPLITS}")
        return self.read_file(require_file(self.files[split], self.corpus, f"task.{split}"))

    def read_splits(self) -> dict[str, list["Example"]]:
        """Train, dev and test; relabelled as the control task where `control` is set."""
        splits = {split: self.read(split) for split in SPLITS}
        return control_task(splits, self.control_seed) if self.control else splits

    @abstractmethod
    def read_file(self, path: Path) -> list[Example]:
        """Examples of one corpus file, in file order."""

    def describe(self) -> dict:
        """What the run record says of the task beyond its name and files."""
        return {}

    def write_predictions(  # noqa: B027 (a hook: most corpora have no answer format)
            self, folder: Path, examples: list[Example], predicted: list[Label]) -> None:
        """Write test predictions in the corpus's own answer format, where it has one."""


def require_file(path: Path, corpus: str, setting: str) -> Path:
    """The path itself, or an error that says where we looked and what to do: for a file of
    the corpus's own folder (the configs' default paths), how to get the corpus; for a path
    the user gave, which setting names it."""
    if path.is_file():
        return path
    if path.is_dir():
        raise ProbingError(f"{setting}={path} is a folder, not a corpus file; give the path of "
                           f"the {corpus} file in it")
    if corpus not in path.parts:
        raise ProbingError(f"{setting}={path}: no such file; check the path")
    raise ProbingError(
        f"corpus file not found: {path} ({setting})\n"
        f"Point PROBING_DATA_DIR at the folder that holds the corpora, or download {corpus} "
        f"there with: python -m probing.data fetch {corpus}"
    )


def _names(label: Label) -> tuple[str, ...]:
    return label if isinstance(label, tuple) else (label,)


class LabelVocab:
    """Label <-> index, taken from the training split so that every split shares one mapping.

    Multi-label targets (tuples) contribute each of their labels."""

    def __init__(self, labels: Iterable[str]) -> None:
        self.labels = sorted(set(labels))
        self.index = {label: i for i, label in enumerate(self.labels)}

    @classmethod
    def from_examples(cls, examples: list[Example]) -> "LabelVocab":
        return cls(name for ex in examples for t in ex.targets for name in _names(t.label))

    def __len__(self) -> int:
        return len(self.labels)

    def encode(self, example: Example, target: Target) -> list[int]:
        """Indices of the target's labels (one for a single-label task)."""
        try:
            return [self.index[name] for name in _names(target.label)]
        except KeyError as e:
            raise ProbingError(
                f"{target.source or example.source}: label {e.args[0]!r} does not occur in the "
                f"training split (training labels: {', '.join(self.labels)}). Train on data "
                f"that covers it, or map it to a training label in the task's reader."
            ) from None

    def decode(self, predicted: np.ndarray) -> list[Label]:
        """Label names of predictions: indices (n,), or 0/1 rows (n, L) -> sorted tuples."""
        if predicted.ndim == 1:
            return [self.labels[i] for i in predicted]
        return [tuple(self.labels[i] for i in np.flatnonzero(row)) for row in predicted]

    def check(self, examples: list[Example]) -> None:
        """Fail on the first target with a label the training split lacks."""
        for example in examples:
            for target in example.targets:
                self.encode(example, target)
