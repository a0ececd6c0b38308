"""What every task gives the probe: sentences as words, and labelled spans over them."""

import os
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from probing.tasks.control import control_record, control_task
from probing.tasks.labels import Labeling, SingleLabel
from probing.utils.errors import ProbingError
from probing.utils.text_files import unreadable

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


@dataclass(frozen=True, slots=True)
class DependencyTree:
    """The basic dependency tree of a sentence, for structural probes: `heads[i]` is the index
    of word i's head (0-based), -1 for the root; `punct[i]` whether word i is punctuation
    (UPOS PUNCT), which tree metrics leave out."""

    heads: tuple[int, ...]
    punct: tuple[bool, ...]


@dataclass
class Example:
    """A sentence and its targets; `source` is "file:line" of the sentence, for error messages,
    `id` the corpus's own name for it where it has one (SemEval sentence numbers); `tree` its
    dependency tree where the corpus gives one (CoNLL-U), else None; `document` the document it
    belongs to where the corpus marks documents (UNER's `# newdoc id`), else ""."""

    words: list[str]
    targets: list[Target]
    source: str = ""
    id: str = ""
    tree: DependencyTree | None = None
    document: str = ""


@dataclass(kw_only=True, eq=False)
class Task(ABC):
    """A probing task reads its corpus files into examples, one per sentence, in file order.

    Its settings are its fields, every one given by name by the task's YAML file (which holds
    every value: no field has a default here); `__post_init__` checks them. `train`, `dev` and
    `test` are the files of the splits (`files`); `corpus` names the corpus in `probing.data`
    so that a missing file can say how to fetch it. With `control`, every split is relabelled
    as the task's control task (tasks/control.py), drawn with `control_seed`.

    Class-level, not settings: `labeling` owns the loss, the decision rule and the metrics
    (`labeling.metric` is the dev metric that early stopping watches); `n_spans` is 1 for
    one-span targets and 2 for relations between two spans.
    """

    name: str
    corpus: str
    train: Path
    dev: Path
    test: Path
    control: bool
    control_seed: int

    n_spans: ClassVar[int] = 1
    labeling: ClassVar[Labeling] = SingleLabel()
    has_trees: ClassVar[bool] = False  # every example has its dependency tree (Example.tree)

    def __post_init__(self) -> None:
        self.train, self.dev, self.test = Path(self.train), Path(self.dev), Path(self.test)
        self.control_summary: dict = {}
        self.split_summary: dict = {}
        self.control_labels: list[str] = []

    @property
    def files(self) -> dict[str, Path]:
        """The file (or folder) each split is read from."""
        return {"train": self.train, "dev": self.dev, "test": self.test}

    @property
    def metric(self) -> str:
        return self.labeling.metric

    def read(self, split: str) -> list[Example]:
        if split not in SPLITS:
            raise ProbingError(f"task {self.name} has no split {split!r}; splits: {SPLITS}")
        return self.read_file(require_file(self.files[split], self.corpus, f"task.{split}"))

    def read_splits(self) -> dict[str, list[Example]]:
        """Train, dev and test, each with at least one target; relabelled as the control task
        where `control` is set (and the control's key statistics kept for `describe`)."""
        self.check_split_files()
        splits = {split: self.read(split) for split in SPLITS}
        for split, examples in splits.items():
            self._require_targets(split, examples)
        self.split_summary = self.summarize_splits(splits)
        if not self.control:
            return splits
        self.control_summary = control_record(splits)
        # the control function's labels: a key seen only in dev or test may get any of them,
        # also one that no relabelled training target got (a rare label, for some seed)
        self.control_labels = sorted({name for ex in splits["train"] for t in ex.targets
                                      for name in _names(t.label)})
        return control_task(splits, self.control_seed)

    def vocabulary(self, splits: dict[str, list[Example]]) -> "LabelVocab":
        """The labels a probe of this task predicts: the training split's, or for a control
        task every label its function can give."""
        if self.control:
            return LabelVocab(self.control_labels)
        return LabelVocab.from_examples(splits["train"])

    @property
    def dev_held_out(self) -> bool:
        """Whether dev is held out of the training file (then train and dev name one file)."""
        return False

    def split_sources(self) -> dict[str, set[str]]:
        """The files each split reads, as real paths (links followed)."""
        return {split: {os.path.realpath(path)} for split, path in self.files.items()}

    def check_split_files(self) -> None:
        """Refuse splits that share a file where they must not: test with train or dev (the
        probe would train or early-stop on what it is tested on), and dev with train unless dev
        is held out of it. Links are followed, so two names of one file are one file."""
        sources = self.split_sources()
        pairs = [("train", "test"), ("dev", "test")]
        if not self.dev_held_out:
            pairs.append(("train", "dev"))
        for first, second in pairs:
            shared = sorted(sources[first] & sources[second])
            if shared:
                raise ProbingError(
                    f"task {self.name}: the {first} split (task.{first}={self.files[first]}) "
                    f"and the {second} split (task.{second}={getattr(self, second)}) both read "
                    f"{shared[0]}{f' and {len(shared) - 1} more' if len(shared) > 1 else ''}, "
                    f"so the probe would {'train' if first == 'train' else 'early-stop'} on "
                    f"what it is {'tested' if second == 'test' else 'early-stopped'} on. Give "
                    f"each split its own file")

    @abstractmethod
    def read_file(self, path: Path) -> list[Example]:
        """Examples of one corpus file, in file order."""

    def describe(self) -> dict:
        """What the run record says of the task beyond its name and files: a subclass adds how
        it reads its corpus (its split rule, its options); a control task adds its key rule and
        the share of dev and test targets whose key occurs in training; `summarize_splits`
        what a task says of its splits once read."""
        return {**self.control_summary, **self.split_summary}

    def summarize_splits(self, splits: dict[str, list[Example]]) -> dict:
        """What the record says of the splits read (the entity task: how many of dev's and
        test's entities were seen in training); nothing by default."""
        return {}

    def write_predictions(  # noqa: B027 (a hook: most corpora have no answer format)
            self, folder: Path, examples: list[Example], predicted: list[Label]) -> None:
        """Write test predictions in the corpus's own answer format, where it has one."""

    def _require_targets(self, split: str, examples: list[Example]) -> None:
        rule = self.describe().get("split")
        held_out = isinstance(rule, str)  # a split rule in words: dev held out of a file
        where = (f"task {self.name}: the {split} split (task.{split}={self.files[split]}"
                 f"{'; ' + rule if held_out else ''})")
        if not examples:
            raise ProbingError(f"{where} holds no sentences; give a larger file"
                               f"{' or a smaller task.heldout_every' if held_out else ''}")
        if not any(example.targets for example in examples):
            raise ProbingError(f"{where} holds {len(examples)} sentences but no target to "
                               f"probe; give a file with labelled items")


def require_file(path: Path, corpus: str, setting: str) -> Path:
    """The path itself, or an error that says where we looked and what to do: for a file of
    the corpus's own folder (the configs' default paths), how to get the corpus; for a path
    the user gave, which setting names it; for a link that leads nowhere, the link."""
    try:
        if path.is_file():
            return path
        path.stat()
    except OSError as e:
        if not isinstance(e, FileNotFoundError) or path.is_symlink():
            raise ProbingError(f"{setting}: {unreadable(path, f'a {corpus} file', e)}") from None
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
