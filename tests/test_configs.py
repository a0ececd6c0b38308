"""Every YAML file of every config group composes, names importable `_target_`s and (where that
is cheap) instantiates: a missing or mistyped `_target_` fails here, not in a long run.

A new group is one line in GROUPS; a new file in a listed group is picked up by itself. The
pretraining configs are a root of their own, conf/pretrain/, composed as `pretrain`."""

from dataclasses import dataclass
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import get_object, instantiate
from omegaconf import MISSING, OmegaConf

from probing.config.schemas import SCHEMAS as RUN_SCHEMAS
from probing.config.schemas import register_configs
from probing.pretrain.pretrain_schemas import SCHEMAS as PRETRAIN_SCHEMAS
from probing.pretrain.pretrain_schemas import register_pretrain_configs

CONF = Path(__file__).resolve().parents[1] / "conf"
ROOTS = {"config": CONF, "pretrain": CONF / "pretrain"}  # each primary config's root folder


@dataclass(frozen=True)
class Group:
    config: str  # the primary config that composes the group (a key of ROOTS)
    base: tuple[str, ...] = ()  # overrides it needs besides `<group>=<file>`
    build: bool = True  # instantiate the group's node (False where that loads weights or data)
    targeted: bool = True  # the group's node names a `_target_` (itself or within)


GROUPS = {
    "task": Group("config"),
    "encoder": Group("config", ("++encoder.name_or_path=model",), build=False),
    "probe": Group("config"),
    "mix": Group("config", build=False),  # single and cumulative need mix.layer
    "trainer": Group("config"),
    "paths": Group("config", build=False, targeted=False),
    "pretrain/objective": Group("pretrain"),
    "pretrain/objective/softmax": Group("pretrain", ("objective=elmo_tiny",)),
    "pretrain/text": Group("pretrain", ("text.paths=[.]",)),
    "pretrain/optim": Group("pretrain"),
}
PRIMARY = list(ROOTS)  # top-level configs, composed with their own defaults
# Files whose values the user must give (`???`) get them here, so that they build.
GIVEN = {("task", "edge_json"): ("task.train=train.json", "task.dev=dev.json",
                                 "task.test=test.json")}


def composed(config: str, overrides: list[str]):
    """`config` (a key of ROOTS): its root's config.yaml with `overrides`."""
    register_configs()
    register_pretrain_configs()
    with initialize_config_dir(config_dir=str(ROOTS[config]), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def name_in_root(group: str) -> str:
    """The group as its root's overrides name it: `pretrain/objective` is `objective`."""
    return (CONF / group).relative_to(ROOTS[GROUPS[group].config]).as_posix()


def targets(node, where: str = "") -> list[tuple[str, str]]:
    """(where, `_target_`) of every node that names one, at any depth."""
    found = []
    if isinstance(node, dict):
        if "_target_" in node:
            found.append((where or "<root>", node["_target_"]))
        for key, value in node.items():
            found += targets(value, f"{where}.{key}" if where else str(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += targets(value, f"{where}[{i}]")
    return found


def check_targets(cfg, source: str) -> None:
    plain = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
    for where, target in targets(plain):
        try:
            get_object(target)
        except Exception as error:
            pytest.fail(f"{source}: {where}._target_ {target!r} does not import: {error}")


# glob, not rglob: a group's subfolders are not its options. objective/softmax is a group of its
# own; experiments/pretrain/, which the checkout's probe-run `experiment` group also reaches, holds
# the pretraining root's experiments: composed by test_pretraining_experiment_composes only.
CASES = [(group, path.stem) for group in GROUPS for path in sorted((CONF / group).glob("*.yaml"))]
PRETRAIN_EXPERIMENTS = sorted(p.stem for p in (CONF / "pretrain" / "experiment").glob("*.yaml"))


def test_every_listed_group_has_files():
    for group in GROUPS:
        assert list((CONF / group).glob("*.yaml")), f"conf/{group} holds no YAML file"


@pytest.mark.parametrize(("group", "option"), CASES, ids=[f"{g}={o}" for g, o in CASES])
def test_group_file_composes_and_builds(group, option):
    spec, name = GROUPS[group], name_in_root(group)
    cfg = composed(spec.config, [*spec.base, f"{name}={option}",
                                 *GIVEN.get((group, option), ())])
    check_targets(cfg, f"conf/{group}/{option}.yaml")
    node = OmegaConf.select(cfg, name.replace("/", "."))
    assert node is not None, f"{spec.config} has no {name} after {name}={option}"
    plain = OmegaConf.to_container(node, resolve=True, throw_on_missing=False)
    assert not spec.targeted or targets(plain), f"conf/{group}/{option}.yaml names no _target_"
    if spec.build:
        assert instantiate(node) is not None


@pytest.mark.parametrize("config", PRIMARY)
def test_primary_config_composes(config):
    check_targets(composed(config, []), str(ROOTS[config].relative_to(CONF.parent) / "config.yaml"))


def test_a_mistyped_target_fails():
    cfg = composed("pretrain", ["objective=elmo_tiny",
                                "objective.softmax._target_=probing.pretrain.softmax.Nope"])
    with pytest.raises(pytest.fail.Exception, match="Nope"):
        check_targets(cfg, "test")


def test_targets_are_written_in_the_yaml_not_in_a_schema():
    """A reader finds `_target_` in the YAML file: the schemas only fix keys and types."""
    for (group, name), schema in {**RUN_SCHEMAS, **PRETRAIN_SCHEMAS}.items():
        defaults = OmegaConf.structured(schema)
        assert OmegaConf.select(defaults, "_target_", default=MISSING) in (MISSING, "???"), (
            f"schema {group}/{name} sets _target_; write it in the YAML file")


@pytest.mark.parametrize("name", PRETRAIN_EXPERIMENTS)
def test_pretraining_experiment_composes(name):
    check_targets(composed("pretrain", [f"+experiment={name}"]), f"experiments/pretrain/{name}")


def test_gpu_pretraining_recipe_composes():
    cfg = composed("pretrain", ["+experiment=gpu"])
    assert (cfg.device, cfg.train.precision, cfg.objective.name) == ("cuda", "bf16", "bert_base")


def test_the_two_roots_keep_their_groups_apart():
    """A pretraining group is no probe-run option, nor the other way round."""
    run, pretraining = composed("config", []), composed("pretrain", [])
    assert not {"objective", "text", "optim", "train"} & set(run)
    assert not {"encoder", "task", "probe", "mix", "trainer"} & set(pretraining)
    assert run.paths == pretraining.paths  # the one group both read


@pytest.mark.parametrize("option", ["hf", "elmo"])
def test_encoder_constructors_take_every_setting_from_the_yaml(option):
    """The YAML is the one home of the encoders' settings: their constructors keep no
    defaults, and take exactly the keys of the YAML."""
    import inspect

    cfg = composed("config", [f"encoder={option}"])
    node = OmegaConf.to_container(cfg.encoder, resolve=False)
    parameters = inspect.signature(get_object(node["_target_"])).parameters
    assert [p for p in parameters.values() if p.default is not inspect.Parameter.empty] == []
    assert set(parameters) == set(node) - {"_target_"}
