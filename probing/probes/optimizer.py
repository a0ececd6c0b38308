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
    stopped and is left alone. Probes that share a rate are updated by one call of torch's fused
    Adam over their slices, so a probe trained in a bank takes the same steps as alone. As in
torch.optim.Adam, a parameter without a gradient is not stepped."""

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
        self.steps = [[torch.zeros((), device=p.device) for p in self.params]
                      for _ in range(n_probes)]

    @torch.no_grad()
    def step(self) -> None:
        for rate in {r for r in self.rates if r is not None}:
            probes = [k for k, r in enumerate(self.rates) if r == rate]
            slices = [(p[k], p.grad[k], m[k], v[k], self.steps[k][i])
                      for k in probes
                      for i, (p, m, v) in enumerate(zip(self.params, self.exp_avg,
                                                         self.exp_avg_sq, strict=True))
                      if p.grad is not None]  # unused this batch (the pooling of 1-word spans)
            params, grads, exp_avgs, exp_avg_sqs, steps = map(list, zip(*slices, strict=True))
            adam(params, grads, exp_avgs, exp_avg_sqs, [], steps, fused=True, amsgrad=False,
                 beta1=BETAS[0], beta2=BETAS[1], lr=rate, weight_decay=self.weight_decay,
                 eps=EPS, maximize=False)

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None
