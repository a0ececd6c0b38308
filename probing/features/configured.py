"""The probe-run config (conf/config.yaml) composed outside a Hydra run: for the command-line
tools, benchmarks and tests that need its values, so that each value keeps its one home in the
YAML (cache folder, encoder settings, extraction settings)."""

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir, initialize_config_module
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from probing.encoders.base import Encoder
from probing.errors import user_error
from probing.schemas import CONF_PATH, register_configs


@lru_cache(maxsize=32)
def _composed(overrides: tuple[str, ...]) -> DictConfig:
    register_configs()
    if CONF_PATH.startswith("pkg://"):
        start = initialize_config_module(CONF_PATH.removeprefix("pkg://"), version_base="1.3")
    else:
        start = initialize_config_dir(CONF_PATH, version_base="1.3")
    with start:
        return compose(config_name="config", overrides=list(overrides))


def composed(*overrides: str) -> DictConfig:
    """conf/config.yaml with Hydra overrides ("encoder=hf", "encoder.pooling=first"); a copy."""
    return copy.deepcopy(_composed(overrides))


def configured_cache_dir() -> Path:
    """`paths.cache_dir` (conf/paths/default.yaml: PROBING_CACHE_DIR, else ~/.cache/probing)."""
    return Path(composed().paths.cache_dir).expanduser()


def features_settings() -> dict[str, Any]:
    """The `features:` block, as `extract(**...)` takes it."""
    return OmegaConf.to_container(composed().features, resolve=True)


def configured_encoder(option: str, *overrides: str, **values: Any) -> Encoder:
    """The encoder of conf/encoder/<option>.yaml with overrides, and `values` set on it
    (encoder.<key>=value, any Python value): configured_encoder("hf", name_or_path=folder)."""
    cfg = composed(f"encoder={option}", *overrides)
    for key, value in values.items():
        OmegaConf.update(cfg, f"encoder.{key}", value, force_add=False)
    try:
        return instantiate(cfg.encoder)
    except Exception as e:  # Hydra wraps what the constructor raised: give the user's error
        error = user_error(e)
        if error is None:
            raise
        raise error from None
