"""Typed schemas of the pretraining config where types earn their keep, registered in Hydra's
ConfigStore like the probe run's (probing/config/schemas.py): the run (`train.precision` is a
Precision), BERT (`position_init` is a PositionInit) and ELMo (its nested bilm-tf options, with
the char-CNN activation a CharActivation). Hydra then names the allowed values of an enum and
rejects a key of the wrong type at start-up.

Values live in the YAML files only (conf/pretrain/config.yaml, conf/pretrain/objective/*.yaml,
with `_target_` there too): every field here is MISSING. The text, optimizer and softmax groups
have no schema; their YAML files are the whole story.

The pretraining configs are a config root of their own (conf/pretrain/), apart from the probe
runs' (conf/), so that neither side's groups can be taken for the other's.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir, initialize_config_module
from omegaconf import MISSING, DictConfig

from probing.config.schemas import CONF_PATH, PathsConf, store_schemas
from probing.models.elmo_bilm import CharActivation
from probing.pretrain.bert_objective import PositionInit
from probing.pretrain.loop import Precision


@dataclass
class BertConf:
    _target_: str = MISSING
    name: str = MISSING
    seed: int = MISSING
    vocab_size: int = MISSING
    lowercase: bool = MISSING
    min_frequency: int = MISSING
    hidden_size: int = MISSING
    num_layers: int = MISSING
    num_heads: int = MISSING
    intermediate_size: int = MISSING
    dropout: float = MISSING
    max_seq_length: int = MISSING
    short_seq_prob: float = MISSING
    masked_lm_prob: float = MISSING
    max_predictions: int = MISSING
    position_init: PositionInit = MISSING


@dataclass
class ElmoLSTMConf:
    dim: int = MISSING
    projection_dim: int = MISSING
    n_layers: int = MISSING
    cell_clip: float | None = MISSING
    proj_clip: float | None = MISSING
    use_skip_connections: bool = MISSING


@dataclass
class ElmoCharEmbeddingConf:
    dim: int = MISSING


@dataclass
class ElmoCharCNNConf:
    embedding: ElmoCharEmbeddingConf = MISSING
    filters: list[list[int]] = MISSING
    n_highway: int = MISSING
    activation: CharActivation = MISSING
    max_characters_per_token: int = MISSING
    n_characters: int = MISSING


@dataclass
class ElmoConf:
    _target_: str = MISSING
    _convert_: str = MISSING
    name: str = MISSING
    seed: int = MISSING
    vocab_size: int = MISSING
    lstm: ElmoLSTMConf = MISSING
    char_cnn: ElmoCharCNNConf = MISSING
    softmax: Any = MISSING  # an objective/softmax config
    dropout: float = MISSING
    unroll_steps: int | None = MISSING
    max_length: int = MISSING


@dataclass
class TrainConf:
    batch_size: int = MISSING
    accumulation: int = MISSING
    max_steps: int = MISSING
    stop_at: int | None = MISSING
    time_limit_minutes: float | None = MISSING
    log_every: int = MISSING
    eval_every: int = MISSING
    eval_batches: int | None = MISSING
    eval_each_epoch: bool = MISSING
    save_every: int = MISSING
    precision: Precision = MISSING
    resume: bool = MISSING


@dataclass
class PretrainConf:
    objective: Any = MISSING
    text: Any = MISSING
    optim: Any = MISSING
    train: TrainConf = MISSING
    paths: PathsConf = MISSING
    name: str = MISSING
    seed: int = MISSING
    device: str = MISSING


SCHEMAS = {
    (None, "pretrain_schema"): PretrainConf,
    ("objective", "bert_schema"): BertConf,
    ("objective", "elmo_schema"): ElmoConf,
    ("paths", "paths_schema"): PathsConf,  # conf/paths, the probe runs' group too
}


def pretrain_conf_path(conf_path: str = CONF_PATH) -> str:
    """The pretraining config root inside the probe runs' (`conf_path`,
    probing/config/schemas.py): the checkout's conf/pretrain as an absolute path, or the
    installed `pkg://probing.conf.pretrain`."""
    if conf_path.startswith("pkg://"):
        return f"{conf_path}.pretrain"
    return str(Path(conf_path) / "pretrain")


# The `config_path` of `python -m probing.pretrain`.
PRETRAIN_CONF_PATH = pretrain_conf_path()


def register_pretrain_configs() -> None:
    store_schemas(SCHEMAS)


def compose_pretraining(overrides: list[str], return_hydra_config: bool = False) -> DictConfig:
    """The config `python -m probing.pretrain OVERRIDES` runs, composed in this process (for
    tests and benchmarks, which call the loop directly)."""
    register_pretrain_configs()
    if PRETRAIN_CONF_PATH.startswith("pkg://"):
        root = initialize_config_module(PRETRAIN_CONF_PATH.removeprefix("pkg://"),
                                        version_base="1.3")
    else:
        root = initialize_config_dir(config_dir=PRETRAIN_CONF_PATH, version_base="1.3")
    with root:
        return compose(config_name="config", overrides=overrides,
                       return_hydra_config=return_hydra_config)
