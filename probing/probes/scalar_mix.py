"""Which layers a probe may read, and the learned softmax mix over them."""

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from probing.errors import ProbingError


class LayerSelection:
    """The layers of an encoder that a probe may read: a mix mode and, where needed, a layer."""

    mode: ClassVar[str]
    layer: int | None = None

    def layers(self, n_layers: int) -> list[int]:
        raise NotImplementedError

    def selections(self, n_layers: int) -> list["LayerSelection"]:
        """The probes a run trains: this one (see `EveryLayer` for several)."""
        self.layers(n_layers)
        return [self]

    @property
    def name(self) -> str:
        """`mix`, `single-3`, `cumulative-3`: the folder of its record in a several-probe run."""
        return self.mode if self.layer is None else f"{self.mode}-{self.layer}"

    def _check(self, n_layers: int) -> int:
        if not isinstance(self.layer, int) or not 0 <= self.layer < n_layers:
            raise ProbingError(f"mix={self.mode} needs mix.layer in 0..{n_layers - 1} for this "
                               f"encoder's {n_layers} layers; got mix.layer={self.layer}")
        return self.layer


@dataclass(frozen=True)
class AllLayers(LayerSelection):
    """`mix`: learn weights over every layer (Peters et al. 2018; Tenney et al. 2019)."""

    mode: ClassVar[str] = "mix"

    def layers(self, n_layers: int) -> list[int]:
        return list(range(n_layers))


@dataclass(frozen=True)
class SingleLayer(LayerSelection):
    """`single`: layer l alone."""

    layer: int | None = None
    mode: ClassVar[str] = "single"

    def layers(self, n_layers: int) -> list[int]:
        return [self._check(n_layers)]


@dataclass(frozen=True)
class CumulativeLayers(LayerSelection):
    """`cumulative`: a mix over layers 0..l, whose score gain over 0..l-1 is delta_l."""

    layer: int | None = None
    mode: ClassVar[str] = "cumulative"

    def layers(self, n_layers: int) -> list[int]:
        return list(range(self._check(n_layers) + 1))


@dataclass(frozen=True)
class EveryLayer:
    """`layers`: every selection of a layer analysis in one run: the mix, each layer alone
    and each prefix 0..l. They are trained side by side on the same batches, which reads each
    batch of activations once for all of them; each has its own record."""

    def selections(self, n_layers: int) -> list[LayerSelection]:
        return [AllLayers(), *(SingleLayer(layer) for layer in range(n_layers)),
                *(CumulativeLayers(layer) for layer in range(n_layers))]


class ScalarMix(nn.Module):
    """A learned, softmax-normalised weighted sum of layers, scaled by a learned gamma:

        h = gamma * sum_{l in L} s_l * h_l,    s = softmax(a) over L,  s_l = 0 for l not in L,

    with one scalar a_l per layer (initialised equal, so the mix starts as the mean of the
    layers in L) and L the layers the probe may read. With `layer_norm`, each h_l is first
    normalised over its features to zero mean and unit variance, which keeps layers of very
    different scales from being compared by magnitude rather than content.
    """

    def __init__(self, n_layers: int, layers: list[int] | None = None,
                 layer_norm: bool = False) -> None:
        super().__init__()
        layers = list(range(n_layers)) if layers is None else layers
        self.scalars = nn.Parameter(torch.zeros(n_layers))
        self.gamma = nn.Parameter(torch.ones(()))
        allowed = torch.zeros(n_layers, dtype=torch.bool)
        allowed[layers] = True
        self.register_buffer("allowed", allowed)
        self.layer_norm = layer_norm

    def weights(self) -> torch.Tensor:
        """s: (n_layers,), summing to 1, zero outside the allowed layers."""
        return torch.softmax(self.scalars.masked_fill(~self.allowed, float("-inf")), dim=0)

    def forward(self, layers: torch.Tensor) -> torch.Tensor:
        """layers: (..., n_layers, dim) -> (..., dim)."""
        if self.layer_norm:
            layers = F.layer_norm(layers, layers.shape[-1:])
        return self.gamma * torch.einsum("l,...ld->...d", self.weights(), layers)


def center_of_gravity(weights: list[float]) -> float:
    """E_s[l] = sum_l l * s_l: the mixing weights' expected layer (Tenney et al. 2019)."""
    return float(sum(layer * weight for layer, weight in enumerate(weights)))
