"""The sentences of a split with their dependency trees, as rows of its activations, and
batches of whole sentences."""

from dataclasses import dataclass

import numpy as np
import torch

from probing.features import Activations
from probing.probes.family import sentence_batches
from probing.probes.structural.metrics import tree_depths, tree_distances
from probing.tasks import Example
from probing.utils.errors import ProbingError


@dataclass
class TreeBatch:
    """Sentences of one batch: their words' activations, layer first, and where each sentence's
    words sit among those rows (padded to the longest sentence)."""

    layers: torch.Tensor     # (n_layers, rows, dim), float32
    positions: torch.Tensor  # (sentences, longest): row of each word, 0 where padded
    mask: torch.Tensor       # (sentences, longest): true on real words
    gold: torch.Tensor       # (sentences, longest, longest) distances or (sentences, longest)
    lengths: torch.Tensor    # (sentences,)


@dataclass
class TreeTable:
    """Every sentence of a split: its rows in `vectors`, its gold tree distances or depths and
    which of its words are punctuation. Its length is its number of words, the items a
    structural probe is scored on."""

    offsets: np.ndarray  # sentence i is rows offsets[i]:offsets[i + 1] of `vectors`
    gold: list[np.ndarray]
    heads: list[tuple[int, ...]]
    punct: list[tuple[bool, ...]]
    vectors: np.ndarray

    @classmethod
    def build(cls, examples: list[Example], activations: Activations, depth: bool,
              split: str) -> "TreeTable":
        trees = [example.tree for example in examples]
        if any(tree is None for tree in trees):
            missing = next(ex for ex, tree in zip(examples, trees, strict=True) if tree is None)
            raise ProbingError(
                f"{missing.source or split}: the structural probes need a dependency tree for "
                f"every sentence, and this task gives none; probe a Universal Dependencies task "
                f"(task=deps, upos or xpos)")
        gold = [(tree_depths if depth else tree_distances)(tree.heads) for tree in trees]
        return cls(activations.offsets, gold, [tree.heads for tree in trees],
                   [tree.punct for tree in trees], activations.vectors)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def batches(self, rng: np.random.Generator, batch_size: int) -> list[np.ndarray]:
        """Sentences in random order, whole, about `batch_size` words a batch."""
        return self._grouped(rng.permutation(len(self.gold)), batch_size)

    def eval_batches(self, batch_size: int) -> list[np.ndarray]:
        return self._grouped(np.arange(len(self.gold)), batch_size)

    def _grouped(self, order: np.ndarray, batch_size: int) -> list[np.ndarray]:
        return sentence_batches(order, np.diff(self.offsets), batch_size)

    def batch(self, index: np.ndarray, device: torch.device) -> TreeBatch:
        starts, lengths = self.offsets[index], np.diff(self.offsets)[index]
        longest = int(lengths.max())
        mask = np.arange(longest)[None, :] < lengths[:, None]
        rows = np.concatenate([np.arange(s, s + n) for s, n in zip(starts, lengths, strict=True)])
        positions = np.zeros(mask.shape, dtype=np.int64)
        positions[mask] = np.arange(len(rows))
        words = torch.from_numpy(self.vectors[rows])
        layers = torch.empty(words.shape[1], words.shape[0], words.shape[2])
        layers.copy_(words.permute(1, 0, 2))
        pairs = self.gold[index[0]].ndim == 2  # distances between words, or depths
        gold = np.zeros((len(index), longest, longest) if pairs else mask.shape, np.float32)
        for i, (sentence, n) in enumerate(zip(index, lengths, strict=True)):
            if pairs:
                gold[i, :n, :n] = self.gold[sentence]
            else:
                gold[i, :n] = self.gold[sentence]
        return TreeBatch(layers.to(device), torch.from_numpy(positions).to(device),
                         torch.from_numpy(mask).to(device), torch.from_numpy(gold).to(device),
                         torch.from_numpy(lengths).to(device))
