"""Hewitt & Manning's (2019) structural probes, K side by side: a rank-k linear map B of (a
scalar mix of) the encoder's layers, under which squared distances between words match their
distances in the parse tree (distance probe), or squared norms their depths (depth probe)."""

import torch
from torch import nn

from probing.probes.scalar_mix import ScalarMix
from probing.probes.structural.trees import TreeBatch


class StructuralProbes(nn.Module):
    """B: (K, dim, rank), initialised U(-0.05, 0.05) as in the authors' code; each probe reads
    its layers through a scalar mix (one layer alone: the layer itself, times gamma)."""

    def __init__(self, layer_sets: list[tuple[int, ...]], n_layers: int, dim: int, rank: int,
                 depth: bool, mix_lr_scale: float, seed: int) -> None:
        super().__init__()
        self.n_probes = len(layer_sets)
        generator = torch.Generator().manual_seed(seed)
        self.mix = ScalarMix(n_layers, layer_sets, layer_norm=False, lr_scale=mix_lr_scale)
        one = torch.empty(dim, rank).uniform_(-0.05, 0.05, generator=generator)
        self.proj = nn.Parameter(one.expand(self.n_probes, dim, rank).clone())
        self.depth = depth

    def forward(self, batch: TreeBatch) -> torch.Tensor:
        """Squared depths (K, sentences, longest) or squared distances (K, sentences, longest,
        longest) of every word (pair) of the batch; padding is left to the loss to mask."""
        words = self.mix(batch.layers, self.proj, None)[:, batch.positions]  # (K, S, n, rank)
        norms = (words * words).sum(-1)
        if self.depth:
            return norms
        # ||a - b||^2 = |a|^2 + |b|^2 - 2 a.b, one batched product instead of (n, n, rank)
        # differences; rounding can take a distance of ~0 below zero
        gram = words @ words.transpose(-1, -2)
        return (norms[..., :, None] + norms[..., None, :] - 2 * gram).clamp_min(0)


def l1_loss(predicted: torch.Tensor, batch: TreeBatch) -> torch.Tensor:
    """The authors' loss: per sentence, the summed absolute error over its words (depths) or
    word pairs (distances) divided by its length (squared for pairs); averaged over the
    sentences: (K,)."""
    pairs = predicted.dim() == 4
    mask = batch.mask[:, :, None] & batch.mask[:, None, :] if pairs else batch.mask
    error = ((predicted - batch.gold).abs() * mask).flatten(2).sum(-1)
    return (error / batch.lengths.float() ** (2 if pairs else 1)).mean(-1)
