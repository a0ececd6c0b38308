"""The probe-run config (conf/config.yaml) composed outside a Hydra run, for the command-line
tools, benchmarks and tests that need its values: each value keeps its one home in the YAML
(where corpora and caches live, encoder settings, extraction settings), so PROBING_DATA_DIR,
PROBING_CACHE_DIR and their defaults mean the same there as in a run."""

import copy
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from functools import lru_cache
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import MissingConfigException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from probing.config.schemas import CONF_PATH, register_configs
from probing.encoders.base import Encoder
from probing.tasks import Task
from probing.utils.errors import ProbingError, user_error


def composed(*overrides: str) -> DictConfig:
    """conf/config.yaml with Hydra overrides ("encoder=hf", "encoder.pooling=first"); a copy."""
    return copy.deepcopy(_composed(tuple(overrides)))


@lru_cache(maxsize=32)
def _composed(overrides: tuple[str, ...]) -> DictConfig:
    register_configs()
    with _configs_found():
        return compose(config_name="config", overrides=list(overrides))


def _configs_found() -> AbstractContextManager:
    """Where compose finds the configs: inside a Hydra app, the app's own search path; else the
    checkout's conf/ or the installed package's copy (`probing.config.schemas.CONF_PATH`)."""
    if GlobalHydra.instance().is_initialized():
        return nullcontext()
    if CONF_PATH.startswith("pkg://"):
        return initialize_config_module(CONF_PATH.removeprefix("pkg://"), version_base="1.3")
    return initialize_config_dir(CONF_PATH, version_base="1.3")


def composed_paths(overrides: Sequence[str] = ()) -> DictConfig:
    """The `paths` node, resolved: `data_dir` and `cache_dir` as written there (a relative path
    is relative to the working folder, `~` is not expanded). `overrides` are Hydra overrides of
    the config, e.g. ["paths.cache_dir=/scratch/cache"]."""
    return OmegaConf.create(OmegaConf.to_container(composed(*overrides).paths, resolve=True))


def configured_cache_dir() -> Path:
    """`paths.cache_dir` (conf/paths/default.yaml: PROBING_CACHE_DIR, else ~/.cache/probing)."""
    return Path(composed_paths().cache_dir).expanduser()


def features_settings() -> dict[str, Any]:
    """The `features:` block, as `extract(**...)` takes it."""
    return OmegaConf.to_container(composed().features, resolve=True)


def configured_encoder(option: str, *overrides: str, **values: Any) -> Encoder:
    """The encoder of conf/encoder/<option>.yaml with overrides, and `values` set on it
    (encoder.<key>=value, any Python value): configured_encoder("hf", name_or_path=folder)."""
    cfg = composed(f"encoder={option}", *overrides)
    for key, value in values.items():
        OmegaConf.update(cfg, f"encoder.{key}", value, force_add=False)
    return built(cfg.encoder)


def task_named(cfg: DictConfig, name: str) -> Task:
    """The task of conf/task/<name>.yaml as run `cfg` would build it as its own (its files
    under the run's paths, its seed), never a control task: a task a family reads beside the
    run's (`ProbeFamily.other_tasks`)."""
    try:
        node = composed(f"task={name}").task
    except MissingConfigException:
        raise ProbingError(f"there is no task named {name!r} (a file conf/task/{name}.yaml); "
                           f"name one of the task group's options, e.g. upos, deps") from None
    beside = copy.deepcopy(cfg)
    with open_dict(beside):
        beside.task = node
        beside.task.control = False
    return built(beside.task)


def built(node: DictConfig) -> Any:
    """The object of a `_target_` node; a constructor's refusal of a user's setting is raised
    as the user's error, not wrapped by Hydra."""
    try:
        return instantiate(node)
    except Exception as e:
        error = user_error(e)
        if error is None:
            raise
        raise error from None
