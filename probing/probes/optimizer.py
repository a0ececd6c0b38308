"""Adam for the K probes of a bank, each with its own learning rate."""

import torch
from torch import nn
from torch.optim.adam import adam

BETAS = (0.9, 0.999)
EPS = 1e-8


class BankAdam:
    """Adam (Kingma & Ba 2015, with L2 weight decay as torch.optim.Adam applies it) over the
    parameters of a bank, whose first dimension is the probe. Probe k's slice of every
    parameter is updated with probe k's own learning rate; a probe whose rate is None has
    stopped and is left alone. As in torch.optim.Adam, a parameter without a gradient is not
    stepped.

    Probes that share a rate are updated by one call of torch's fused Adam, over one slice of
    each parameter per run of consecutive probes (all K at once while none has decayed or
    stopped: per-probe slices would cost a call's overhead per probe and parameter, twice the
    step itself for 13 probes). Adam is elementwise, so a probe takes the same steps in a bank
    as alone. Every probe still training has taken every step, so one step count a parameter
    serves them all."""

    def __init__(self, bank: nn.Module, n_probes: int, lr: float, weight_decay: float) -> None:
        self.params = list(bank.parameters())
        for p in self.params:
            if p.shape[0] != n_probes:
                raise ValueError(f"a bank parameter of shape {tuple(p.shape)} has no leading "
                                 f"dimension of {n_probes} probes")
        self.rates: list[float | None] = [lr] * n_probes
        self.weight_decay = weight_decay
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.steps = [0] * len(self.params)

    @torch.no_grad()
    def step(self) -> None:
        stepped = [i for i, p in enumerate(self.params) if p.grad is not None]
        for rate in {r for r in self.rates if r is not None}:
            for start, end in consecutive_runs([k for k, r in enumerate(self.rates)
                                                if r == rate]):
                parts = [(self.params[i][start:end], self.params[i].grad[start:end],
                          self.exp_avg[i][start:end], self.exp_avg_sq[i][start:end],
                          torch.tensor(float(self.steps[i]), device=self.params[i].device))
                         for i in stepped]
                params, grads, exp_avgs, exp_avg_sqs, steps = map(list, zip(*parts,
                                                                            strict=True))
                adam(params, grads, exp_avgs, exp_avg_sqs, [], steps, fused=True,
                     amsgrad=False, beta1=BETAS[0], beta2=BETAS[1], lr=rate,
                     weight_decay=self.weight_decay, eps=EPS, maximize=False)
        for i in stepped:
            self.steps[i] += 1

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None


def consecutive_runs(indices: list[int]) -> list[tuple[int, int]]:
    """Sorted indices as half-open runs of consecutive ones: [0, 1, 2, 5, 6] -> [(0, 3), (5, 7)]."""
    runs: list[tuple[int, int]] = []
    for k in indices:
        if runs and runs[-1][1] == k:
            runs[-1] = (runs[-1][0], k + 1)
        else:
            runs.append((k, k + 1))
    return runs
