"""The targets of a split as word rows of its activations, and batches of them."""

from dataclasses import dataclass

import numpy as np
import torch

from probing.features import Activations
from probing.probes.family import sentence_batches
from probing.tasks import Example, LabelVocab
from probing.tasks.labels import Labeling
from probing.utils.errors import ProbingError


@dataclass
class SpanBatch:
    """The targets of one batch. The activation rows they read are gathered once, distinct,
    in `layers`; each span says where its words sit among those rows. A probe mixes and
    projects each distinct word once, however many spans of the batch cover it (the nested
    constituents of a sentence share most of their words)."""

    layers: torch.Tensor                           # (n_layers, rows, dim), float32
    spans: list[tuple[torch.Tensor, torch.Tensor]]  # per span: positions (batch, width) into
    labels: torch.Tensor                           # the rows, and the mask of real words


@dataclass
class SpanTable:
    """Every target of a split: per span, (n_targets, 2) half-open rows of `vectors`, and the
    gold labels as the task's labeling encodes them ((n,) indices, or (n, L) 0/1 for
    multi-label tasks). Targets are in sentence order; `sentence[i]` is target i's sentence. A
    missing second span is never mixed with a present one."""

    spans: list[np.ndarray]
    labels: np.ndarray
    sentence: np.ndarray
    vectors: np.ndarray  # (n_words, n_layers, dim), memory-mapped

    def __len__(self) -> int:
        return len(self.labels)

    @classmethod
    def build(cls, examples: list[Example], activations: Activations, vocab: LabelVocab,
              n_spans: int, labeling: Labeling) -> "SpanTable":
        _check_alignment(examples, activations)
        spans: list[list[tuple[int, int]]] = [[] for _ in range(n_spans)]
        labels, sentence = [], []
        for i, example in enumerate(examples):
            base = int(activations.offsets[i])
            for target in example.targets:
                pair = (target.span1, target.span2)[:n_spans]
                for k, span in enumerate(pair):
                    _check_span(example, span, n_spans)
                    spans[k].append((base + span[0], base + span[1]))
                labels.append(vocab.encode(example, target))
                sentence.append(i)
        return cls([np.array(s, dtype=np.int64).reshape(-1, 2) for s in spans],
                   labeling.gold(labels, len(vocab)), np.array(sentence, dtype=np.int64),
                   activations.vectors)

    def subset(self, index: np.ndarray) -> "SpanTable":
        """The targets `index` (kept in sentence order), over the same activations."""
        index = np.sort(index)
        return SpanTable([s[index] for s in self.spans], self.labels[index],
                         self.sentence[index], self.vectors)

    def batches(self, rng: np.random.Generator, batch_size: int) -> list[np.ndarray]:
        """One epoch: sentences in random order, each batch whole sentences with about
        `batch_size` targets in all (as in jiant's edge probing)."""
        starts = np.flatnonzero(np.r_[True, self.sentence[1:] != self.sentence[:-1]])
        ends = np.r_[starts[1:], len(self.sentence)]
        groups = sentence_batches(rng.permutation(len(starts)), ends - starts, batch_size)
        return [np.concatenate([np.arange(starts[s], ends[s]) for s in group])
                for group in groups]

    def eval_batches(self, batch_size: int) -> list[np.ndarray]:
        return [np.arange(start, min(start + batch_size, len(self)))
                for start in range(0, len(self), batch_size)]

    def batch(self, index: np.ndarray, device: torch.device) -> SpanBatch:
        """Targets `index`, with their distinct activation rows read once, layer first."""
        rows, masks = [], []
        for spans in self.spans:
            start, end = spans[index, 0], spans[index, 1]
            offsets = np.arange((end - start).max())
            mask = offsets[None, :] < (end - start)[:, None]
            rows.append(np.where(mask, start[:, None] + offsets[None, :], start[:, None]))
            masks.append(mask)
        distinct, positions = np.unique(np.concatenate([r.ravel() for r in rows]),
                                        return_inverse=True)
        words = torch.from_numpy(self.vectors[distinct])  # (rows, n_layers, dim), float16
        layers = torch.empty(words.shape[1], words.shape[0], words.shape[2])
        layers.copy_(words.permute(1, 0, 2))  # one pass: transposed and made float32
        spans, at = [], 0
        for r, mask in zip(rows, masks, strict=True):
            where = torch.from_numpy(positions[at:at + r.size].reshape(r.shape))
            spans.append((where.to(device), torch.from_numpy(mask).to(device)))
            at += r.size
        return SpanBatch(layers.to(device), spans, torch.from_numpy(self.labels[index]).to(device))


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
