"""The learned softmax mix over an encoder's layers, for K probes side by side."""

import torch
import torch.nn.functional as F
from torch import nn


class ScalarMix(nn.Module):
    """K learned, softmax-normalised weighted sums of layers, each scaled by a learned gamma:

        h_k = gamma_k * sum_{l in L_k} s_kl * h_l,   s_k = softmax(a_k) over L_k,
        s_kl = 0 for l not in L_k,

    with one scalar a_kl per probe and layer (initialised equal, so a mix starts as the mean of
    its layers) and L_k the layers probe k may read (one layer alone: s_kl = 1 exactly). With
    `layer_norm`, each h_l is first normalised over its features to zero mean and unit variance,
    which keeps layers of very different scales from being compared by magnitude rather than
    content. All K mixes are one matrix product over the layers.
    """

    def __init__(self, n_layers: int, layer_sets: list[tuple[int, ...]], layer_norm: bool
                 ) -> None:
        super().__init__()
        allowed = torch.zeros(len(layer_sets), n_layers, dtype=torch.bool)
        for k, layers in enumerate(layer_sets):
            allowed[k, list(layers)] = True
        self.register_buffer("allowed", allowed)
        self.scalars = nn.Parameter(torch.zeros(len(layer_sets), n_layers))
        self.gamma = nn.Parameter(torch.ones(len(layer_sets)))
        self.layer_norm = layer_norm

    def weights(self) -> torch.Tensor:
        """s: (K, n_layers), each row summing to 1, zero outside the probe's layers."""
        return torch.softmax(self.scalars.masked_fill(~self.allowed, float("-inf")), dim=-1)

    def forward(self, layers: torch.Tensor) -> torch.Tensor:
        """layers: (n_layers, rows, dim) -> (K, rows, dim)."""
        if self.layer_norm:
            layers = F.layer_norm(layers, layers.shape[-1:])
        n_layers, rows, dim = layers.shape
        mixed = (self.gamma[:, None] * self.weights()) @ layers.reshape(n_layers, rows * dim)
        return mixed.view(-1, rows, dim)


def center_of_gravity(weights: list[float]) -> float:
    """E_s[l] = sum_l l * s_l: the mixing weights' expected layer (Tenney et al. 2019)."""
    return float(sum(layer * weight for layer, weight in enumerate(weights)))
