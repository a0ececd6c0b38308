"""Softmax layers of the ELMo biLM (the `objective/softmax` config group): `FullSoftmax` over the
vocabulary; `SampledSoftmax` (bilm-tf's); `AdaptiveSoftmax` (PyTorch's, Grave et al. 2017).

Each has `loss(h, targets)`, what training minimises, and `nll(h, targets)`, the exact
-log p(target | h) with which held-out text is scored, per row of h (N, P); and
`matmul_flops(targets)` for the benchmark. The config gives the settings (`_partial_`); the
objective gives the vocabulary size and width.
"""

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from probing.utils.errors import ProbingError

LOGITS_PER_CHUNK = 1 << 22  # bounds the memory of a full softmax over a large vocabulary


class FullSoftmax(nn.Module):
    """p(w | h) = exp(h·W_w + b_w) / sum_v exp(h·W_v + b_v) over the whole vocabulary; W is
    initialised N(0, 1/P) as in bilm-tf. `loss` is what training minimises, `nll` the exact
    -log p(w | h) for held-out text; here they are the same."""

    def __init__(self, vocab_size: int, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(vocab_size, dim) / dim**0.5)
        self.bias = nn.Parameter(torch.zeros(vocab_size))

    def nll(self, h: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """-log p(target | h) per row of h (N, P)."""
        rows = max(1, LOGITS_PER_CHUNK // len(self.bias))
        return torch.cat([F.cross_entropy(F.linear(h[i:i + rows], self.weight, self.bias),
                                          targets[i:i + rows], reduction="none")
                          for i in range(0, len(h), rows)])

    def loss(self, h: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.nll(h, targets)

    def matmul_flops(self, targets: torch.Tensor) -> float:
        """Forward FLOPs of `loss` (multiply-adds x 2), for the benchmark."""
        return 2.0 * len(targets) * self.weight.numel()


class SampledSoftmax(FullSoftmax):
    """bilm-tf's sampled softmax (Jean et al. 2015) in training; the full softmax for `nll`.

    Every step draws `n_samples` words, with replacement, from the log-uniform distribution
    Q(v) = log((v + 2) / (v + 1)) / log(V + 1), which follows word frequency because the
    vocabulary is in frequency order; S is the set of distinct words drawn, shared by the
    batch. Each logit is corrected by the log of its word's chance to be in S,
    q(v) = 1 - (1 - Q(v))^n_samples, so that the softmax over {target} ∪ S estimates the full
    one:

        loss = -s_t + log(exp(s_t) + sum_{v in S, v != t} exp(s_v)),  s_v = h·W_v + b_v - log q(v)

    A sampled word equal to the row's target (an accidental hit) is left out of that row's sum.
    """

    def __init__(self, vocab_size: int, dim: int, n_samples: int) -> None:
        super().__init__(vocab_size, dim)
        self.n_samples = n_samples
        v = torch.arange(vocab_size, dtype=torch.float64)
        q = torch.log((v + 2) / (v + 1)) / math.log(vocab_size + 1)
        log_inclusion = torch.log(-torch.expm1(n_samples * torch.log1p(-q)))
        self.register_buffer("log_inclusion", log_inclusion.float(), persistent=False)

    def loss(self, h: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        sampled = self.sample(h.device)
        true_logits = ((h * self.weight[targets]).sum(-1).float() + self.bias[targets]
                       - self.log_inclusion[targets])
        sampled_logits = ((h @ self.weight[sampled].T).float() + self.bias[sampled]
                          - self.log_inclusion[sampled])
        sampled_logits = sampled_logits.masked_fill(sampled[None] == targets[:, None],
                                                    float("-inf"))
        logits = torch.cat([true_logits[:, None], sampled_logits], dim=1)
        return torch.logsumexp(logits, dim=1) - true_logits

    def sample(self, device: torch.device) -> torch.Tensor:
        """The distinct words of n_samples log-uniform draws: floor((V + 1)^u) - 1, u ~ U[0, 1)
        (torch's random stream, which the loop saves for exact resume)."""
        vocab_size = len(self.bias)
        u = torch.rand(self.n_samples, device=device, dtype=torch.float64)
        draws = (torch.exp(u * math.log(vocab_size + 1)).floor().long() - 1)
        return torch.unique(draws.clamp(0, vocab_size - 1))

    def matmul_flops(self, targets: torch.Tensor) -> float:
        """Expected: one dot product per row for its target, one per distinct sampled word."""
        expected_sampled = float(self.log_inclusion.double().exp().sum())
        return 2.0 * len(targets) * self.weight.shape[1] * (1 + expected_sampled)


class AdaptiveSoftmax(nn.Module):
    """PyTorch's adaptive softmax (Grave et al. 2017): the `cutoffs[0]` most frequent words and
    one entry per tail cluster in the head, each cluster of rarer words behind a projection
    `div_value` times narrower than the last. Its probabilities are normalised, so `loss` and
    `nll` are both the exact -log p(w | h). Cutoffs at or beyond the vocabulary are dropped."""

    def __init__(self, vocab_size: int, dim: int, cutoffs: Sequence[int],
                 div_value: float) -> None:
        super().__init__()
        kept = [c for c in cutoffs if c < vocab_size]
        if not kept:
            raise ProbingError(f"objective.softmax.cutoffs {list(cutoffs)} are all at or beyond "
                               f"the vocabulary of {vocab_size} words; give cutoffs below it (or "
                               "use objective/softmax=full for a vocabulary this small)")
        self.adaptive = nn.AdaptiveLogSoftmaxWithLoss(dim, vocab_size, kept, div_value)

    def nll(self, h: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return -self.adaptive(h, targets).output

    def loss(self, h: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.nll(h, targets)

    def matmul_flops(self, targets: torch.Tensor) -> float:
        """The head for every row; a tail cluster's two projections for the rows it holds."""
        adaptive = self.adaptive
        flops = 2.0 * len(targets) * adaptive.head.weight.numel()
        for i, tail in enumerate(adaptive.tail):
            low, high = adaptive.cutoffs[i], adaptive.cutoffs[i + 1]
            rows = int(((targets >= low) & (targets < high)).sum())
            flops += 2.0 * rows * sum(layer.weight.numel() for layer in tail)
        return flops


Softmax = FullSoftmax | AdaptiveSoftmax
