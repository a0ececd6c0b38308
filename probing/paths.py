"""Where corpora and activation caches live, read from the one home of those settings:
`conf/paths/default.yaml` as the probe-run config composes it. The command-line tools
(`python -m probing.data`, the cache tool) call `composed_paths()` rather than reading the
environment themselves, so PROBING_DATA_DIR, PROBING_CACHE_DIR and their defaults mean the same
there as in a run.
"""

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext

from hydra import compose, initialize_config_dir, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf

from probing.schemas import CONF_PATH, register_configs


def composed_paths(overrides: Sequence[str] = ()) -> DictConfig:
    """The `paths` node of the composed probe-run config, resolved: `data_dir` and `cache_dir`
    as written there (a relative path is relative to the working folder, `~` is not expanded).
    `overrides` are Hydra overrides of that config, e.g. ["paths.cache_dir=/scratch/cache"]."""
    register_configs()
    with _configs_found():
        cfg = compose(config_name="config", overrides=list(overrides))
    return OmegaConf.create(OmegaConf.to_container(cfg.paths, resolve=True))


def _configs_found() -> AbstractContextManager:
    """Where compose finds the configs: inside a Hydra app, the app's own search path; else the
    checkout's conf/ or the installed package's copy (`probing.schemas.CONF_PATH`)."""
    if GlobalHydra.instance().is_initialized():
        return nullcontext()
    if CONF_PATH.startswith("pkg://"):
        return initialize_config_module(CONF_PATH.removeprefix("pkg://"), version_base="1.3")
    return initialize_config_dir(CONF_PATH, version_base="1.3")
