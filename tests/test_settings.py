"""Settings a config's `_target_` does not take (`+task.bar=2`) are refused at start-up, by name,
before anything is read or extracted; every shipped config passes the check."""

from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import REPO, bert_overrides, composed, probe_overrides, run_cli
from omegaconf import OmegaConf

from probing.config.settings import check_settings, parameters
from probing.pretrain.loop import KINDS as PRETRAIN_KINDS
from probing.pretrain.loop import pretrain
from probing.pretrain.pretrain_schemas import compose_pretraining
from probing.run import KINDS, probe_run
from probing.tasks.conllu import POSTask
from probing.utils.errors import ProbingError

POS_SETTINGS = "name, corpus, train, dev, test, control, control_seed, column"


@pytest.mark.parametrize(("override", "message"), [
    ("+trainer.foo=1", "unknown setting trainer.foo for probing.probes.trainer.Trainer; its "
                       "settings are: batch_size, lr,"),
    ("+task.bar=2", f"unknown setting task.bar for probing.tasks.conllu.POSTask; its settings "
                    f"are: {POS_SETTINGS}"),
    ("+probe.width=8", "unknown setting probe.width for probing.probes.edge.EdgeProbe"),
    ("+mix.layer=1", "unknown setting mix.layer for probing.runs.selection.AllLayers"),
    ("+encoder.pooling_mode=mean", "unknown setting encoder.pooling_mode for "
                                   "probing.encoders.hf.HFEncoder"),
    ("~task.column", f"missing setting task.column for probing.tasks.conllu.POSTask; its "
                     f"settings are: {POS_SETTINGS}"),
    ("task._target_=os.system", "task._target_='os.system' cannot serve as task: it must name "
                                "a class derived from probing.tasks.base.Task"),
    ("probe._target_=probing.tasks.conllu.POSTask",
     "probe._target_='probing.tasks.conllu.POSTask' cannot serve as probe: it must name a "
     "class derived from probing.probes.family.ProbeFamily"),
    ("trainer._target_=builtins.print", "cannot serve as trainer"),
])
def test_unknown_or_missing_setting_is_refused_before_extraction(tiny_bert, treebank, tmp_path,
                                                                 override, message):
    cfg = composed([*probe_overrides(tiny_bert, treebank, tmp_path / "cache"), override])
    with pytest.raises(ProbingError) as caught:
        probe_run(cfg, tmp_path / "run")
    assert message in str(caught.value)
    assert not (tmp_path / "cache").exists(), "nothing extracted"
    assert not (tmp_path / "run").exists()


def test_shipped_configs_pass(tiny_bert, treebank, tmp_path):
    check_settings(composed(probe_overrides(tiny_bert, treebank, tmp_path)), kinds=KINDS)
    for task in ("upos", "xpos", "deps", "entities", "relations", "consts"):
        for encoder in ("minilm", "elmo", "hf"):
            for mix in ("all", "every", "single", "cumulative"):
                check_settings(composed([f"task={task}", f"encoder={encoder}", f"mix={mix}"]),
                               kinds=KINDS)
    for probe in ("edge", "mdl", "distance", "depth", "cka"):
        check_settings(composed([f"probe={probe}"]), kinds=KINDS)
    for experiment in sorted(p.stem for p in (REPO / "experiments").glob("*.yaml")):
        check_settings(composed([f"+experiment={experiment}", "+pretrain_run=/tmp"]), kinds=KINDS)
    for objective in ("bert_tiny", "bert", "bert_base", "elmo_tiny", "elmo", "elmo_original"):
        for text in ("files", "gutenberg"):
            check_settings(compose_pretraining([f"objective={objective}", f"text={text}"]),
                           kinds=PRETRAIN_KINDS)
    for softmax in ("full", "sampled", "adaptive"):
        check_settings(compose_pretraining(["objective=elmo_tiny", f"objective/softmax={softmax}"]),
                       kinds=PRETRAIN_KINDS)


def test_a_callback_naming_code_is_refused_by_name_before_the_run(tiny_bert, treebank,
                                                                  tmp_path):
    """Hydra builds its callbacks before the run starts, and its own list refuses targets that
    run commands: the message names the setting and why, and nothing is made."""
    result = run_cli([*probe_overrides(tiny_bert, treebank, tmp_path / "cache"),
                      "+hydra.callbacks.x._target_=os.system",
                      f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in output
    assert "Target 'os.system' is blocklisted because it allows" in output
    assert "full_key: hydra.callbacks.x" in output
    assert not (tmp_path / "cache").exists() and not (tmp_path / "run").exists()


def test_command_line_names_the_setting_without_traceback(tiny_bert, treebank, tmp_path):
    result = run_cli([*probe_overrides(tiny_bert, treebank, tmp_path / "cache"), "+task.bar=2",
                      f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert f"unknown setting task.bar for probing.tasks.conllu.POSTask; its settings are: " \
           f"{POS_SETTINGS}" in output
    assert "Traceback" not in output
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize(("override", "message"), [
    ("+objective.hidden=64", "unknown setting objective.hidden for "
                             "probing.pretrain.bert_objective.BertObjective"),
    ("+optim.optimizer.momentum=0.9", "unknown setting optim.optimizer.momentum for "
                                      "torch.optim.AdamW"),
    ("+text.encoding=latin-1", "unknown setting text.encoding for "
                               "probing.pretrain.corpus.TextCorpus"),
    ("optim.optimizer._target_=os.system", "optim.optimizer._target_='os.system' cannot serve "
                                           "as optim.optimizer: it must name a class derived "
                                           "from torch.optim.optimizer.Optimizer"),
    ("objective._target_=probing.pretrain.corpus.TextCorpus",
     "cannot serve as objective: it must name a class derived from "
     "probing.pretrain.objective.Objective"),
])
def test_pretraining_refuses_unknown_settings_first(tmp_path, override, message):
    cfg = compose_pretraining([*bert_overrides(tmp_path / "no-corpus",
                                                           tmp_path / "cache"), override])
    with pytest.raises(ProbingError, match=message):
        pretrain(cfg, tmp_path / "run")
    assert not (tmp_path / "cache").exists() and not (tmp_path / "run").exists()


@dataclass
class Base:
    name: str
    size: int = 1


@dataclass
class Child(Base):
    colour: str = "red"


class Elsewhere:
    def __init__(self, **options) -> None:
        self.options = dict(options)


def make(width: int, **rest) -> None:
    """A function target."""


def test_parameters_are_the_signature_and_kwargs_are_not_checked():
    assert parameters(Child) == {"name": True, "size": False, "colour": False}
    assert list(parameters(POSTask)) == POS_SETTINGS.split(", ")
    assert parameters(Elsewhere) is None, "**kwargs take anything: not checked"
    assert parameters(make) is None
    assert parameters(Path.home) == {}
    node = {"_target_": f"{__name__}.Child", "colour": "red", "name": "x"}
    check_settings(node)
    with pytest.raises(ProbingError, match=r"unknown setting a\.b\.shape for .*Child; its "
                                           r"settings are: name, size, colour"):
        check_settings({"b": {**node, "shape": 2}}, "a")
    with pytest.raises(ProbingError, match=r"missing setting name"):
        check_settings({"_target_": f"{__name__}.Child", "colour": "x"})
    check_settings({"_target_": f"{__name__}.Child", "_partial_": True, "name": "x"})
    check_settings({"_target_": f"{__name__}.Elsewhere", "anything": 1})
    with pytest.raises(ProbingError, match=r"task\._target_='no\.such\.Thing' cannot be "
                                           r"imported"):
        check_settings({"task": {"_target_": "no.such.Thing"}})


def test_a_group_takes_a_class_of_its_kind_ones_own_included():
    kinds = {"a.b": Base, "c": (Base, Elsewhere)}
    own = OmegaConf.create({"a": {"b": {"_target_": f"{__name__}.Child", "name": "x"}},
                            "c": {"_target_": f"{__name__}.Elsewhere"}})
    check_settings(own, kinds=kinds)
    check_settings(OmegaConf.create({"c": {"_target_": f"{__name__}.Elsewhere"}}), kinds=kinds)
    for wrong in (f"{__name__}.make", "os.system", "pathlib.Path"):
        config = OmegaConf.create({"a": {"b": {"_target_": wrong, "width": 1}}})
        with pytest.raises(ProbingError, match=rf"a\.b\._target_='{wrong}' cannot serve as a\.b: "
                                               rf"it must name a class derived from "
                                               rf"{__name__}\.Base, as the files in the a "):
            check_settings(config, kinds=kinds)
