"""Targets of a split as arrays of word rows into its activations, and batches of them."""

from dataclasses import dataclass

import numpy as np
import torch

from probing.errors import ProbingError
from probing.features import Activations
from probing.tasks import Example, LabelVocab
from probing.tasks.labels import Labeling


@dataclass
class SpanTable:
    """Every target of a split: per span, (n_targets, 2) half-open rows of the activation
    matrix, and the gold labels as the task's labeling encodes them ((n,) indices, or (n, L)
    0/1 for multi-label tasks). A missing second span is never mixed with a present one."""

    spans: list[np.ndarray]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    @classmethod
    def build(cls, examples: list[Example], activations: Activations, vocab: LabelVocab,
              n_spans: int, labeling: Labeling) -> "SpanTable":
        _check_alignment(examples, activations)
        spans: list[list[tuple[int, int]]] = [[] for _ in range(n_spans)]
        labels = []
        for i, example in enumerate(examples):
            base = int(activations.offsets[i])
            for target in example.targets:
                pair = (target.span1, target.span2)[:n_spans]
                for k, span in enumerate(pair):
                    _check_span(example, span, n_spans)
                    spans[k].append((base + span[0], base + span[1]))
                labels.append(vocab.encode(example, target))
        return cls([np.array(s, dtype=np.int64).reshape(-1, 2) for s in spans],
                   labeling.gold(labels, len(vocab)))

    def batch(self, index: np.ndarray, vectors: np.ndarray, device: torch.device
              ) -> tuple[list[tuple[torch.Tensor, torch.Tensor]], torch.Tensor]:
        """Targets `index`: per span (layers (batch, width, n_layers, dim), mask), labels."""
        inputs = []
        for spans in self.spans:
            start, end = spans[index, 0], spans[index, 1]
            offsets = np.arange((end - start).max())
            mask = offsets[None, :] < (end - start)[:, None]
            rows = np.where(mask, start[:, None] + offsets[None, :], start[:, None])
            layers = torch.from_numpy(vectors[rows.ravel()]).reshape(*rows.shape,
                                                                     *vectors.shape[1:])
            inputs.append((layers.to(device).float(), torch.from_numpy(mask).to(device)))
        return inputs, torch.from_numpy(self.labels[index]).to(device)


def _check_alignment(examples: list[Example], activations: Activations) -> None:
    lengths = np.diff(activations.offsets)
    if len(lengths) != len(examples) or any(
            len(ex.words) != n for ex, n in zip(examples, lengths, strict=True)):
        raise ProbingError(f"activations {activations.meta.get('key')} do not match the "
                           "task's sentences; delete that cache folder and run again")


def _check_span(example: Example, span: tuple[int, int] | None, n_spans: int) -> None:
    if span is None or not 0 <= span[0] < span[1] <= len(example.words):
        raise ProbingError(
            f"{example.source}: target span {span} is not a non-empty word range of this "
            f"{len(example.words)}-word sentence (the task expects {n_spans} span(s) a target)")
