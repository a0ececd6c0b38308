"""The layer-role experiments: what they sweep, and the layer part run end to end with the
stand-in probe of test_sweep_failures (three layers), its report at the end."""

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from test_run import REPO
from test_sweep_failures import run_fake

from probing.config import register_configs

TASKS = "upos,deps,consts,entities,relations"


def hydra_config(experiment: str):
    register_configs()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=[f"+experiment={experiment}"],
                       return_hydra_config=True).hydra


@pytest.mark.parametrize(("experiment", "params"), [
    ("layer_roles", {"task": TASKS, "seed": "0,1,2", "task.control": "false,true"}),
    ("layer_roles_layers", {"task": TASKS, "mix": "single,cumulative",
                            "mix.layer": "range(0,7)"}),
    ("elmo_vs_bert", {"encoder": "elmo_fixture,minilm", "task": TASKS, "seed": "0,1,2"}),
])
def test_experiment_sweeps(experiment, params):
    hydra = hydra_config(experiment)
    assert dict(hydra.sweeper.params) == params
    assert "report" in hydra.callbacks, "the report is written when the sweep ends"


def test_both_layer_role_sweeps_share_one_folder():
    mix, layers = hydra_config("layer_roles"), hydra_config("layer_roles_layers")
    assert mix.sweep.dir == layers.sweep.dir == "multirun/layer_roles/minilm-l6"
    subdirs = [OmegaConf.to_container(h.sweep)["subdir"] for h in (mix, layers)]
    assert subdirs == ["mix/${hydra.job.num}", "layers/${hydra.job.num}"]


def test_layer_part_runs_and_reports(tmp_path):
    # the command line narrows the grid: one task, the stand-in's three layers
    folder = tmp_path / "layer_roles"
    result = run_fake(["-m", "+experiment=layer_roles_layers", "task=upos", "mix.layer=0,1,2",
                       f"hydra.sweep.dir={folder}"], tmp_path)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert len(list((folder / "layers").glob("*/results.json"))) == 6
    layers = pd.read_csv(folder / "report" / "layers.csv")
    assert layers["single"].notna().all() and layers["cumulative"].notna().all()
    expected = pd.read_csv(folder / "report" / "expected_layers.csv")
    assert expected["E_delta"].notna().all()
    assert (folder / "report" / "summary_fake.png").stat().st_size > 0
