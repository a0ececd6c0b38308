"""The interface every encoder offers the extraction stage."""

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from probing.utils.errors import ProbingError


@dataclass(frozen=True)
class LayerEdit:
    """An edit of layer `layer`'s hidden states on their way through the encoder (an eraser of
    a concept, say): `apply` maps a batch of them, (batch, positions, dim), to the same shape,
    and every layer above reads the edited states. `key` names the edit (its parameters'
    hash): an edited encoder's fingerprint includes it, so its vectors never mix with the
    unedited encoder's in the cache."""

    layer: int
    apply: Callable[[torch.Tensor], torch.Tensor]
    key: str


class Encoder(ABC):
    """Turns sentences (lists of words) into every layer's word vectors.

    `encode` returns, per sentence, a tensor (n_layers, n_words, dim) on the CPU in float32;
    layer 0 is the non-contextual embedding layer. `fingerprint()` identifies the weights,
    configuration and tokenizer, and `settings` the alignment choices that change the vectors;
    together they key the activation cache.

    Encoding a batch is three steps, so that extraction can time and overlap them: `prepare`
    (tokenise and align, on the CPU), `forward` (the model alone) and `words` (the model's
    output pooled into word vectors, every word of the batch in order).
    """

    name: str
    n_layers: int
    dim: int

    @abstractmethod
    def prepare(self, sentences: list[list[str]]) -> Any:
        """The model's inputs for a batch of sentences, and what `words` needs to align."""

    @abstractmethod
    def forward(self, prepared: Any) -> Any:
        """The model's output for a prepared batch."""

    @abstractmethod
    def words(self, prepared: Any, output: Any, dtype: torch.dtype) -> torch.Tensor:
        """(n_words, n_layers, dim) in `dtype` on the CPU: the batch's words, sentence after
        sentence, each word's vector of each layer."""

    @contextmanager
    def edited(self, edit: LayerEdit) -> Iterator["Encoder"]:
        """The encoder with `edit` applied while the block runs: the one way a family that
        intervenes (erasing a concept at layer l and running on) changes the encoder."""
        raise ProbingError(f"encoder {self.name} cannot edit its hidden states on the way "
                           f"through; use an encoder that can (encoder=hf)")
        yield self

    def masked_lm(self, sentences: list[list[str]], seed: int) -> np.ndarray | None:
        """The model's own masked-LM objective on `sentences`, under the edit in force: per
        sentence the masked pieces' cross-entropy summed (nats), their number and how many the
        model predicts right, (n, 3); None where the model has no masked-LM head (a sentence
        encoder, random weights, an ELMo). The masks are drawn from (seed, sentence), so that
        an edited and an unedited encoder are scored on the same ones."""
        return None

    def encode(self, sentences: list[list[str]]) -> list[torch.Tensor]:
        prepared = self.prepare(sentences)
        vectors = self.words(prepared, self.forward(prepared), torch.float32)
        return [v.transpose(0, 1) for v in vectors.split([len(w) for w in sentences])]

    @abstractmethod
    def fingerprint(self) -> str: ...

    @property
    def settings(self) -> dict[str, Any]:
        return {}

    def provenance(self) -> dict[str, Any]:
        """Where the weights come from, where known (the step of a pretraining checkpoint),
        for the run record."""
        return {}

    def sizes(self, sentences: list[list[str]]) -> list[int]:
        """What each sentence costs to encode, in the unit that batches are budgeted in
        (model positions for a Transformer); extraction sorts and batches by it."""
        return [len(words) for words in sentences]

    def check_words(  # noqa: B027 (a hook: most encoders encode every word as written)
            self, sentences: list[list[str]], desc: str) -> None:
        """Log a warning about words of a corpus that this encoder cannot encode as written
        (and what it does with them instead). Extraction calls it once per corpus, `desc`
        naming the corpus, before encoding it. Nothing to say by default."""


def hash_module(module: nn.Module, digest: "hashlib._Hash") -> None:
    """Feed every parameter and buffer (name, dtype, shape, bytes) into the digest."""
    for name, tensor in sorted(module.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(tensor.view(-1).view(torch.uint8).numpy().tobytes())
