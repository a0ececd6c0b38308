"""The learned softmax mix over an encoder's layers, for K probes side by side, and the linear
map that reads it."""

import torch
import torch.nn.functional as F
from torch import nn


class ScalarMix(nn.Module):
    """K learned, softmax-normalised weighted sums of layers, each scaled by a learned gamma:

        h_k = gamma_k * sum_{l in L_k} s_kl * h_l,   s_k = softmax(c * a_k) over L_k,
        s_kl = 0 for l not in L_k,

    with one scalar a_kl per probe and layer (initialised equal, so a mix starts as the mean of
    its layers) and L_k the layers probe k may read (one layer alone: s_kl = 1 exactly).

    c (`lr_scale`) is the mixing weights' learning rate relative to the probe's. Adam moves
    every parameter by about its learning rate a step, whatever the gradient's scale, so the
    logits c * a move c times as far as a. At c = 1 and the probe's 2e-3, putting 0.9 of 7
    layers' weight on one needs a logit gap of ln(54) = 4, some 1,000 steps of one sign (the
    chosen logit rises by lr a step while the others fall by as much): a probe on a small task
    fits its training set long before, its gradient vanishes, and the mix stays near the mean
    of its layers and scores below its own best layer (docs/estimator.md).

    With `layer_norm`, each h_l is first normalised over its features to zero mean and unit
    variance, which keeps layers of very different scales from being compared by magnitude
    rather than content.

    A probe reads its mix only through a linear map, so the module returns h_k W_k + b_k: all K
    mixes are one matrix product over the layers, and the gradient of a probe that reads one
    layer skips the (rows x dim x proj) product that only its mixing weights would need
    (`MixThenProject`).
    """

    def __init__(self, n_layers: int, layer_sets: list[tuple[int, ...]], layer_norm: bool,
                 lr_scale: float = 1.0) -> None:
        super().__init__()
        allowed = torch.zeros(len(layer_sets), n_layers, dtype=torch.bool)
        for k, layers in enumerate(layer_sets):
            allowed[k, list(layers)] = True
        self.register_buffer("allowed", allowed)
        self.scalars = nn.Parameter(torch.zeros(len(layer_sets), n_layers))
        self.gamma = nn.Parameter(torch.ones(len(layer_sets)))
        self.layer_norm = layer_norm
        self.lr_scale = lr_scale

    def weights(self) -> torch.Tensor:
        """s: (K, n_layers), each row summing to 1, zero outside the probe's layers."""
        logits = (self.lr_scale * self.scalars).masked_fill(~self.allowed, float("-inf"))
        return torch.softmax(logits, dim=-1)

    def forward(self, layers: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None
                ) -> torch.Tensor:
        """layers: (n_layers, rows, dim); weight (K, dim, out), bias (K, 1, out) or None ->
        h_k W_k + b_k: (K, rows, out)."""
        if self.layer_norm:
            layers = F.layer_norm(layers, layers.shape[-1:])
        mixes = self.allowed.sum(-1) > 1
        out = MixThenProject.apply(self.weights(), self.gamma, layers, weight, mixes)
        return out if bias is None else out + bias


class MixThenProject(torch.autograd.Function):
    """gamma_k * (sum_l s_kl h_l) W_k for every probe k, with a hand-written gradient.

    Autograd would compute dL/d(mix) = G W^T for every probe, a product as large as the
    projection itself, to get the gradients of s and gamma. gamma's is <G, u W> (u the unscaled
    mix, its product kept from the forward pass) and needs none of it; s's is only needed for
    probes that mix several layers (`mixes`): a probe that reads one layer has s = 1 fixed."""

    @staticmethod
    def forward(ctx, weights: torch.Tensor, gamma: torch.Tensor, layers: torch.Tensor,
                proj: torch.Tensor, mixes: torch.Tensor) -> torch.Tensor:
        n_layers, rows, dim = layers.shape
        flat = layers.reshape(n_layers, rows * dim)
        unscaled = (weights @ flat).view(-1, rows, dim)
        projected = torch.bmm(unscaled, proj)
        ctx.save_for_backward(gamma, flat, proj, unscaled, projected, mixes)
        return gamma[:, None, None] * projected

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        # Under bfloat16 autocast the forward's products were bfloat16 and the incoming
        # gradient is float32: each product here runs in the forward's dtype, and every
        # gradient leaves in its input's dtype.
        gamma, flat, proj, unscaled, projected, mixes = ctx.saved_tensors
        scaled = (grad * gamma[:, None, None]).to(unscaled.dtype)
        grad_proj = torch.bmm(unscaled.transpose(1, 2), scaled).to(proj.dtype)
        grad_gamma = (grad * projected).sum((1, 2)).to(gamma.dtype)
        grad_weights = torch.zeros(len(gamma), len(flat), dtype=gamma.dtype, device=grad.device)
        mixing = mixes.nonzero().squeeze(1)
        if len(mixing):
            into_mix = torch.bmm(scaled[mixing],
                                 proj[mixing].transpose(1, 2).to(scaled.dtype))
            grad_weights[mixing] = (into_mix.flatten(1) @ flat.T.to(into_mix.dtype)).to(
                gamma.dtype)
        return grad_weights, grad_gamma, None, grad_proj, None


def center_of_gravity(weights: list[float]) -> float:
    """E_s[l] = sum_l l * s_l: the mixing weights' expected layer (Tenney et al. 2019)."""
    return float(sum(layer * weight for layer, weight in enumerate(weights)))


def weighted_norms(weights: list[float], norms: list[float]) -> list[float]:
    """s_l * |h_l| / sum_j s_j * |h_j|: each layer's share of the mix once the layers' scale is
    counted (|h_l| the layer's mean vector norm). A weight says how much of a layer the mix
    takes, this how much of the mix's magnitude comes from it; where the norms differ, the two
    rank layers differently (Fayyaz et al. 2021)."""
    scaled = [w * n for w, n in zip(weights, norms, strict=True)]
    total = sum(scaled)
    return [x / total for x in scaled] if total > 0 else [float("nan")] * len(scaled)
