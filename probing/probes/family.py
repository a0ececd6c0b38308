"""What a probe family gives the run and the trainer.

A run reads its task and activations into `Inputs` and hands them to its family (`probe=` in
the config), which returns one `Outcome` per layer selection: the metrics, the test
predictions the report resamples and the fields its record adds. Most families train: they
subclass `TrainedFamily`, which supplies batching of a split, a bank of probes (one per
distinct set of layers, trained side by side), the loss, the decisions and their scores, and
the one trainer does the rest. A family that trains differently (the MDL online code) or not
at all (layer similarity) implements `run` itself. `run.py` knows none of them.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from probing.encoders.base import Encoder
from probing.runs.inputs import Inputs, Outcome
from probing.runs.selection import EveryLayer, LayerSelection, distinct_layer_sets
from probing.tasks import Task


class ProbeFamily(ABC):
    """A way of probing: turns a run's inputs into one outcome per layer selection.

    Its constructor refuses settings out of range, naming them (`probe.rank`, ...); `check`
    refuses a task or mix it cannot serve, before anything is read or extracted."""

    name: str
    report: str  # qualified name of its FamilyReport (probing/report/family.py), in its folder
    trains: bool = True  # False: no probe is trained, and every trainer setting is ignored

    def check(self, task: Task, mix: LayerSelection | EveryLayer) -> None:  # noqa: B027 (a hook)
        """Raise ProbingError where this family cannot probe `task` with `mix`."""

    def check_encoder(self, encoder: Encoder) -> None:  # noqa: B027 (a hook)
        """Raise ProbingError where this family cannot probe `encoder` (its layers, whether it
        can be edited), once it is built and before anything is extracted."""

    def other_encoders(self) -> list[Encoder]:
        """Encoders besides the run's whose test activations the family compares with: the run
        extracts them (`Inputs.others`); a family never builds or runs an encoder itself."""
        return []

    def other_tasks(self) -> list[str]:
        """Tasks besides the run's, by name (conf/task/<name>.yaml), whose splits and
        activations the family reads too (`Inputs.beside`): the run reads and extracts them."""
        return []

    @abstractmethod
    def run(self, inputs: Inputs, selections: list[LayerSelection], trainer: Any, seed: int
            ) -> list[Outcome]: ...


class SplitTable(Protocol):
    """The items of one split as a family batches them (targets, sentences, ...)."""

    def __len__(self) -> int: ...

    def batches(self, rng: np.random.Generator, batch_size: int) -> list[np.ndarray]:
        """One training epoch: item indices, shuffled by rng, about batch_size a batch."""

    def eval_batches(self, batch_size: int) -> list[np.ndarray]:
        """Every item once, in order."""

    def batch(self, index: np.ndarray, device: torch.device) -> Any:
        """What the bank and the loss read for these items."""


def sentence_batches(order: np.ndarray, sizes: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Sentences in `order`, cut into batches of whole sentences: a batch is closed once its
    sentences' `sizes` (targets, words) reach `batch_size`, so a sentence is never split."""
    batches, current, count = [], [], 0
    for sentence in order:
        current.append(sentence)
        count += sizes[sentence]
        if count >= batch_size:
            batches.append(np.array(current))
            current, count = [], 0
    if current:
        batches.append(np.array(current))
    return batches


def mean_bits(nll_bits: np.ndarray) -> float:
    """The cross-entropy of a split in bits per target, from each target's."""
    return float(np.mean(nll_bits, dtype=np.float64))


class TrainedFamily(ProbeFamily):
    """A family trained with the one trainer: a bank of probes over the distinct layer sets of
    the selections, fitted on train with early stopping on dev, then scored on dev and test.
    Where the family gives each target's negative log-likelihood (`target_nll`, in nats: the
    edge probe does), every record also holds the probe's dev and test cross-entropy in bits
    per target (`cross_entropy_bits`), from which information measures (V-information, Xu et
    al. 2020) can be computed later."""

    metric: str  # the dev metric that early stopping maximises

    @abstractmethod
    def table(self, inputs: Inputs, split: str) -> SplitTable: ...

    @abstractmethod
    def bank(self, inputs: Inputs, layer_sets: list[tuple[int, ...]], seed: int) -> nn.Module:
        """K probes, one per layer set, each parameter with the probe as first dimension."""

    @abstractmethod
    def loss(self, outputs: torch.Tensor, batch: Any) -> torch.Tensor:
        """The mean loss of each probe on the batch: (K,)."""

    @abstractmethod
    def decide(self, outputs: torch.Tensor, batch: Any) -> list[Any]:
        """Each probe's predictions for the batch, on the CPU."""

    @abstractmethod
    def score(self, table: SplitTable, predicted: list[Any]) -> dict[str, float]:
        """Metrics of one probe's predictions (its per-batch parts, in order) on a split."""

    @abstractmethod
    def outcome(self, selection: LayerSelection, tables: dict[str, SplitTable],
                bank: nn.Module, k: int, predicted: dict[str, list[Any]], history: list[dict]
                ) -> Outcome:
        """Probe k's outcome, from its dev and test predictions."""

    def prepare(self, inputs: Inputs) -> None:
        """Take what the family needs from the inputs (the task's labeling, say) before the
        tables are built."""

    def fit(self, inputs: Inputs, selections: list[LayerSelection], trainer: Any, seed: int
            ) -> "Fitted":
        """The bank of the selections' probes, trained on train, and its dev and test
        predictions."""
        self.prepare(inputs)
        layer_sets = distinct_layer_sets(selections, inputs.n_layers)
        tables = {split: self.table(inputs, split) for split in ("train", "dev", "test")}
        bank = self.bank(inputs, layer_sets, seed)
        histories = trainer.fit(bank, self, tables["train"], tables["dev"], seed)
        evaluated = {split: trainer.evaluate(bank, self, tables[split])
                     for split in ("dev", "test")}
        return Fitted(layer_sets, inputs.n_layers, tables, bank, histories, evaluated)

    def outcomes(self, fitted: "Fitted", selections: list[LayerSelection]) -> list[Outcome]:
        """Each selection's outcome, from the fitted bank's predictions."""
        outcomes = []
        for selection in selections:
            k = fitted.probe(selection)
            outcome = self.outcome(selection, fitted.tables, fitted.bank, k,
                                   {split: parts[k] for split, (parts, _)
                                    in fitted.evaluated.items()}, fitted.histories[k])
            if all(nll is not None for _, nll in fitted.evaluated.values()):
                outcome.fields["cross_entropy_bits"] = {
                    split: mean_bits(nll[k]) for split, (_, nll) in fitted.evaluated.items()}
                if outcome.test_arrays is not None:  # for intervals over test sentences
                    outcome.test_arrays["nll_bits"] = fitted.evaluated["test"][1][k]
            outcomes.append(outcome)
        return outcomes

    def run(self, inputs: Inputs, selections: list[LayerSelection], trainer: Any, seed: int
            ) -> list[Outcome]:
        return self.outcomes(self.fit(inputs, selections, trainer, seed), selections)


@dataclass
class Fitted:
    """A trained bank: one probe per distinct layer set, the split tables it read, each probe's
    training history and its dev and test predictions (with each target's bits, where the
    family gives them: `Trainer.evaluate`)."""

    layer_sets: list[tuple[int, ...]]
    n_layers: int
    tables: dict[str, SplitTable]
    bank: nn.Module
    histories: list[list[dict]]
    evaluated: dict[str, tuple[list[list], list[np.ndarray] | None]]

    def probe(self, selection: LayerSelection) -> int:
        """The index in the bank of the probe that reads `selection`'s layers."""
        return self.layer_sets.index(tuple(selection.layers(self.n_layers)))
