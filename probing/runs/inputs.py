"""What a run hands its probe family and gets back: the task's splits with their activations
(`Inputs`), and one `Outcome` per probe, which becomes one run record (probing/runs/record.py)."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from probing.encoders.base import Encoder, LayerEdit
from probing.features import Activations, extract
from probing.features.cache import scratch_folder
from probing.runs.selection import LayerSelection
from probing.tasks import Example, LabelVocab, Task
from probing.tasks.base import SPLITS
from probing.utils.errors import ProbingError
from probing.utils.timer import Laps


@dataclass
class Inputs:
    """A task's three splits and their activations: what every family starts from; `others`:
    the test activations of the encoders a family compares with (`other_encoders`), by name."""

    task: Task
    encoder: Encoder
    examples: dict[str, list[Example]]
    activations: dict[str, Activations]
    vocab: LabelVocab
    others: dict[str, Activations] = field(default_factory=dict)
    beside: dict[str, "Inputs"] = field(default_factory=dict)  # other tasks' (`other_tasks`)
    cache_dir: str | None = None  # where the activations are cached, and how extracted
    features: dict[str, Any] = field(default_factory=dict)

    @property
    def n_layers(self) -> int:
        """Layers of the activations (layer 0 the embeddings): what a family sizes its probes by;
        a family reads activations, never the encoder (which is here for the record)."""
        return self.activations["train"].n_layers

    @property
    def dim(self) -> int:
        return self.activations["train"].dim

    @classmethod
    def read(cls, task: Task, encoder: Encoder, cache_dir: str, features: dict[str, Any],
             laps: Laps, others: list[Encoder] = (), beside: list[Task] = ()) -> "Inputs":
        """Read the splits, check their labels against train's, then extract (or reuse) every
        layer's activations of each split, and of the test split for each of `others`; the
        inputs of each task `beside` the same way."""
        examples = task.read_splits()
        vocab = task.vocabulary(examples)
        for split in ("dev", "test"):
            vocab.check(examples[split])
        laps("read")
        activations = {split: extract(encoder, [ex.words for ex in examples[split]], cache_dir,
                                      desc=f"{task.corpus}/{split}", **features)
                       for split in SPLITS}
        test = [ex.words for ex in examples["test"]]
        compared = {other.name: extract(other, test, cache_dir, desc=f"{task.corpus}/test",
                                        **features) for other in others}
        laps("extract")
        return cls(task, encoder, examples, activations, vocab, compared,
                   {other.name: cls.read(other, encoder, cache_dir, features, laps)
                    for other in beside}, cache_dir, dict(features))

    @contextmanager
    def edited(self, edit: LayerEdit, split: str) -> Iterator[Activations]:
        """Every layer's activations of `split` with the encoder edited on the way through
        (`Encoder.edited`: a concept erased at a layer), while the block runs. They are
        extracted into a temporary folder in the cache folder and removed after: edited
        vectors serve one measurement, and kept they would hold a copy of the split per edit."""
        if self.cache_dir is None:
            raise ProbingError("these inputs were not read by Inputs.read, so they name no "
                               "cache folder to extract edited activations into")
        with scratch_folder(Path(self.cache_dir).expanduser()) as folder, \
                self.encoder.edited(edit) as encoder:
            yield extract(encoder, [ex.words for ex in self.examples[split]], folder,
                          desc=f"{self.task.corpus}/{split} edited at layer {edit.layer}",
                          **self.features)

    def masked_lm(self, split: str, seed: int, edit: LayerEdit | None = None
                  ) -> np.ndarray | None:
        """The encoder's own masked-LM objective on `split`'s sentences, with `edit` applied
        where given: per sentence nats, masked pieces, pieces right (`Encoder.masked_lm`);
        None where the encoder has no masked-LM head."""
        sentences = [ex.words for ex in self.examples[split]]
        if edit is None:
            return self.encoder.masked_lm(sentences, seed)
        with self.encoder.edited(edit) as encoder:
            return encoder.masked_lm(sentences, seed)

    def with_activations(self, split: str, activations: Activations) -> "Inputs":
        """These inputs with `split`'s activations replaced (by edited ones, say)."""
        return replace(self, activations={**self.activations, split: activations})


@dataclass
class Outcome:
    """One probe's result, which becomes one run record.

    `test_arrays` are per-item arrays of the test split for the report's bootstrap, all with
    the same first dimension and one of them `sentence` (the item's test sentence), so that
    intervals resample sentences; `answers` are the test predictions in the task's own label
    names, for its answer file. A family that gives several outcomes for one selection (MDL,
    one per shuffling seed) names each one's `seed` and `folder`."""

    selection: LayerSelection
    metric: str
    metrics: dict[str, dict[str, float]]
    fields: dict[str, Any]
    history: list[dict] = field(default_factory=list)
    baseline: dict[str, Any] | None = None
    test_arrays: dict[str, np.ndarray] | None = None
    answers: list | None = None
    seed: int | None = None  # where not the run's
    folder: str | None = None  # where not the selection's name

    @property
    def name(self) -> str:
        """Its folder in a run of several outcomes."""
        return self.folder or self.selection.name
