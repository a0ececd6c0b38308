"""Typed schemas of the pretraining config (conf/pretrain.yaml and its groups model/ corpus/
optim/), registered in Hydra's ConfigStore like the probe run's (probing/config.py)."""

from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from probing.config import PathsConf, store_schemas
from probing.models.elmo import CharActivation
from probing.pretrain.bert import PositionInit
from probing.pretrain.loop import Precision


@dataclass
class BertConf:
    _target_: str = "probing.pretrain.bert.BertObjective"
    name: str = MISSING
    seed: int = "${seed}"
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
    _target_: str = "probing.pretrain.elmo.ElmoObjective"
    _convert_: str = "all"  # plain dicts and lists: they become the checkpoint's options.json
    name: str = MISSING
    seed: int = "${seed}"
    vocab_size: int = MISSING
    lstm: ElmoLSTMConf = MISSING
    char_cnn: ElmoCharCNNConf = MISSING
    softmax: Any = MISSING  # a model/softmax config
    dropout: float = MISSING
    unroll_steps: int | None = MISSING
    max_length: int = MISSING


@dataclass
class FullSoftmaxConf:
    _target_: str = "probing.pretrain.softmax.FullSoftmax"
    _partial_: bool = True  # the objective gives the vocabulary size and width


@dataclass
class SampledSoftmaxConf(FullSoftmaxConf):
    _target_: str = "probing.pretrain.softmax.SampledSoftmax"
    n_samples: int = MISSING


@dataclass
class AdaptiveSoftmaxConf(FullSoftmaxConf):
    _target_: str = "probing.pretrain.softmax.AdaptiveSoftmax"
    cutoffs: list[int] = MISSING
    div_value: float = MISSING


@dataclass
class TextCorpusConf:
    _target_: str = "probing.pretrain.corpus.TextCorpus"
    name: str = MISSING
    paths: list[str] = MISSING
    pattern: str = MISSING
    gutenberg: bool = MISSING
    heldout_fraction: float = MISSING
    heldout_documents: list[str] = field(default_factory=list)
    workers: int = MISSING


@dataclass
class AdamWConf:
    _target_: str = "torch.optim.AdamW"
    _partial_: bool = True
    _convert_: str = "all"  # plain lists in the optimizer's state, which torch.load can read
    lr: float = MISSING
    betas: list[float] = MISSING
    eps: float = MISSING
    weight_decay: float = MISSING
    fused: bool | None = MISSING


@dataclass
class OptimConf:
    optimizer: AdamWConf = MISSING
    warmup_steps: int = MISSING
    clip_norm: float | None = MISSING


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
    model: Any = MISSING
    corpus: TextCorpusConf = MISSING
    optim: OptimConf = MISSING
    train: TrainConf = MISSING
    paths: PathsConf = MISSING
    name: str = MISSING
    seed: int = MISSING
    device: str = MISSING


SCHEMAS = {
    (None, "pretrain_schema"): PretrainConf,
    ("model", "bert_schema"): BertConf,
    ("model", "elmo_schema"): ElmoConf,
    ("model/softmax", "full_schema"): FullSoftmaxConf,
    ("model/softmax", "sampled_schema"): SampledSoftmaxConf,
    ("model/softmax", "adaptive_schema"): AdaptiveSoftmaxConf,
    ("corpus", "text_schema"): TextCorpusConf,
    ("optim", "adamw_schema"): OptimConf,
}


def register_pretrain_configs() -> None:
    store_schemas(SCHEMAS)
