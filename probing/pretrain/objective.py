"""What the pretraining loop needs from an objective (BERT's MLM + NSP, ELMo's biLM): the
model, its batches and its checkpoints. An objective is the `objective` config group, built by
`_target_`."""

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from probing.pretrain.corpus import TextCorpus

# name -> (sum, count) over the examples of a batch; the reported value is sum / count, pooled
# over micro-batches, steps and processes.
Metrics = dict[str, tuple[torch.Tensor, torch.Tensor | float]]


@dataclass
class Batch:
    inputs: dict[str, torch.Tensor]
    n_tokens: int  # the positions the model reads, for throughput


class Objective(ABC):
    """What the loop needs from a pretraining objective."""

    @abstractmethod
    def prepare(self, corpus: TextCorpus, cache_dir: Path) -> None:
        """Make the vocabulary and training data from the corpus, or find them in `cache_dir`.
        Runs on the main process first, then on the others, which find the cache."""

    @abstractmethod
    def build_model(self) -> nn.Module:
        """A freshly initialised model; `model(**batch.inputs)` returns (loss, Metrics)."""

    @abstractmethod
    def load_model(self, folder: Path) -> nn.Module:
        """The model of a checkpoint folder written by `save`."""

    @abstractmethod
    def save(self, model: nn.Module, folder: Path) -> None:
        """Write the model (and its vocabulary) into `folder` in the model's own format."""

    @abstractmethod
    def train_batches(self, epoch: int, batch_size: int, rank: int, world_size: int
                      ) -> Sequence[Batch]:
        """This process's batches of one epoch, in order. A pure function of its arguments and
        the seed, with as many batches for every rank."""

    @abstractmethod
    def heldout_batches(self, batch_size: int, rank: int, world_size: int) -> Sequence[Batch]:
        """This process's share of the fixed held-out batches."""

    def derived_metrics(self, means: dict[str, float]) -> dict[str, float]:
        """Metrics that are functions of the pooled means rather than means themselves (a
        perplexity is exp of the mean loss); logged beside them. None by default."""
        return {}
