"""A task's settings are its fields: the constructor's signature lists every one, none has a
default (the YAML file is their one home), and each shipped YAML gives exactly those."""

import inspect
from pathlib import Path

import pytest
from helpers import REPO, composed
from hydra.utils import get_object
from omegaconf import OmegaConf

from probing.config.settings import parameters

TASK_YAMLS = sorted((REPO / "conf" / "task").glob("*.yaml"))
COMMON = ["name", "corpus", "train", "dev", "test", "control", "control_seed"]


@pytest.mark.parametrize("yaml", TASK_YAMLS, ids=lambda p: p.stem)
def test_every_setting_is_a_field_without_default(yaml: Path):
    node = OmegaConf.to_container(composed([f"task={yaml.stem}"]).task, resolve=False)
    target = get_object(node.pop("_target_"))
    signature = inspect.signature(target)
    assert all(p.default is p.empty and p.kind is p.KEYWORD_ONLY
               for p in signature.parameters.values()), signature
    assert list(signature.parameters)[:len(COMMON)] == COMMON
    assert set(signature.parameters) == set(node), "the YAML gives exactly the settings"
    assert list(parameters(target)) == list(signature.parameters)
