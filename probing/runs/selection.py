"""Which layers a probe may read: the `mix` settings all, single, cumulative and every."""

from dataclasses import dataclass
from typing import ClassVar

from probing.utils.errors import ProbingError


class LayerSelection:
    """The layers of an encoder that one probe may read: a mode and, where needed, a layer."""

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
        """`all`, `single-3`, `cumulative-3`: the folder of its record in a several-probe run."""
        return self.mode if self.layer is None else f"{self.mode}-{self.layer}"

    def _check(self, n_layers: int) -> int:
        if not isinstance(self.layer, int) or not 0 <= self.layer < n_layers:
            raise ProbingError(f"mix={self.mode} needs mix.layer in 0..{n_layers - 1} for this "
                               f"encoder's {n_layers} layers; got mix.layer={self.layer}")
        return self.layer


@dataclass(frozen=True)
class AllLayers(LayerSelection):
    """`all`: a scalar mix over every layer (Peters et al. 2018; Tenney et al. 2019)."""

    mode: ClassVar[str] = "all"

    def layers(self, n_layers: int) -> list[int]:
        return list(range(n_layers))


@dataclass(frozen=True)
class SingleLayer(LayerSelection):
    """`single`: layer l alone."""

    layer: int | None
    mode: ClassVar[str] = "single"

    def layers(self, n_layers: int) -> list[int]:
        return [self._check(n_layers)]


@dataclass(frozen=True)
class CumulativeLayers(LayerSelection):
    """`cumulative`: a mix over layers 0..l, whose score gain over 0..l-1 is delta_l."""

    layer: int | None
    mode: ClassVar[str] = "cumulative"

    def layers(self, n_layers: int) -> list[int]:
        return list(range(self._check(n_layers) + 1))


@dataclass(frozen=True)
class EveryLayer:
    """`every`: the probes of a layer analysis in one run: the mix over all layers, and (as
    asked) each layer alone and each prefix 0..l. They train side by side on the same batches,
    and each has its own record."""

    single: bool
    cumulative: bool

    def selections(self, n_layers: int) -> list[LayerSelection]:
        singles = [SingleLayer(layer) for layer in range(n_layers)] if self.single else []
        prefixes = ([CumulativeLayers(layer) for layer in range(n_layers)] if self.cumulative
                    else [])
        return [AllLayers(), *singles, *prefixes]


def distinct_layer_sets(selections: list[LayerSelection], n_layers: int
                        ) -> list[tuple[int, ...]]:
    """The different sets of layers the selections read, in order of first appearance.
    Selections that read the same layers are one probe: the mix over all layers is also the
    last prefix, and layer 0 alone is also the first."""
    return list(dict.fromkeys(tuple(s.layers(n_layers)) for s in selections))
