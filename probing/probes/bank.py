"""Layers of K probes stacked along a leading dimension, so that K probes train as one module.

Probes trained side by side (each layer alone, each prefix, the mix) read the same batch of
activations; stacking their weights makes each of their layers one batched matrix product
instead of K small ones, which on a CPU removes most of the per-probe overhead. Every
parameter of a bank has the probe as its first dimension, which is what lets the trainer keep
a learning rate, early stopping and a best epoch per probe (`probing.probes.trainer`).

Every probe of a bank starts from the same weights: those a bank of one draws from the same
seed, so a probe starts as it would in a run of its own.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def uniform(generator: torch.Generator, n_probes: int, shape: tuple[int, ...], fan_in: int
            ) -> nn.Parameter:
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as torch initialises nn.Linear, drawn once and
    repeated for every probe."""
    bound = 1 / math.sqrt(fan_in)
    one = torch.empty(shape).uniform_(-bound, bound, generator=generator)
    return nn.Parameter(one.expand(n_probes, *shape).clone())


class Linear(nn.Module):
    """K affine maps x_k W_k + b_k: (K, n, fan_in) -> (K, n, fan_out)."""

    def __init__(self, n_probes: int, fan_in: int, fan_out: int,
                 generator: torch.Generator) -> None:
        super().__init__()
        self.weight = uniform(generator, n_probes, (fan_in, fan_out), fan_in)
        self.bias = uniform(generator, n_probes, (1, fan_out), fan_in)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias, x, self.weight)


class LayerNorm(nn.Module):
    """Layer normalisation over the last dimension, with a gain and bias per probe."""

    def __init__(self, n_probes: int, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n_probes, 1, dim))
        self.bias = nn.Parameter(torch.zeros(n_probes, 1, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, x.shape[-1:]) * self.weight + self.bias


class Dropout(nn.Module):
    """Inverted dropout, each bank with its own random stream (seeded with the bank).

    On a CPU the mask comes from 16 random bits a unit drawn by numpy's PCG64, a unit kept
    where its bits are >= p * 2^16 (p exact to 2^-16): torch's CPU generator draws one float at
    a time from a single thread, and a bank draws K masks a batch, so torch.rand took a third
    of a 13-probe bank's step (docs/performance.md). On a GPU torch's own generator runs on the
    device."""

    def __init__(self, p: float, seed: int) -> None:
        super().__init__()
        self.p = p
        self.rng = np.random.default_rng(seed)
        self.threshold = round(p * 2**16) - 2**15  # the bits are read as int16

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if x.is_cuda:
            keep = torch.rand_like(x) >= self.p
        else:
            n = x.numel()
            bits = self.rng.bit_generator.random_raw(-(-n // 4)).view(np.int16)[:n]
            keep = torch.from_numpy(bits).view(x.shape) >= self.threshold
        return x * keep.to(x.dtype).mul_(1 / (1 - self.p))
