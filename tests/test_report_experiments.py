"""The layer-role experiments: what they sweep, and the layer part run end to end with the
stand-in probe of tests/helpers.py (three layers), its report at the end."""

import pandas as pd
import pytest
from helpers import REPO, run_fake
from hydra import compose, initialize_config_dir

from probing.config.schemas import register_configs

TASKS = "upos,deps,consts,entities,relations"


def hydra_config(experiment: str):
    register_configs()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=[f"+experiment={experiment}"],
                       return_hydra_config=True).hydra


@pytest.mark.parametrize(("experiment", "params"), [
    ("layer_roles", {"task": TASKS, "+study": "layers,control", "seed": "0,1,2,3,4"}),
    ("elmo_vs_bert", {"encoder": "elmo_gutenberg,minilm", "task": TASKS, "+study": "layers",
                      "seed": "0,1,2"}),
])
def test_experiment_sweeps(experiment, params):
    hydra = hydra_config(experiment)
    assert dict(hydra.sweeper.params) == params
    assert "report" in hydra.callbacks, "the report is written when the sweep ends"


def test_layer_roles_runs_and_reports(tmp_path):
    # the command line narrows the grid to one task; the stand-in encoder has three layers
    folder = tmp_path / "layer_roles"
    result = run_fake(["-m", "+experiment=layer_roles", "task=upos",
                       f"hydra.sweep.dir={folder}"], tmp_path)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    records = sorted(folder.rglob("results.json"))
    # per seed (five): layers (the mix, 3 single, 3 cumulative) and the control
    assert len(records) == 5 * (7 + 1)
    assert len(list((folder / "0").glob("*/results.json"))) == 7
    layers = pd.read_csv(folder / "report" / "layers.csv")
    assert layers["single"].notna().all() and layers["cumulative"].notna().all()
    expected = pd.read_csv(folder / "report" / "expected_layers.csv")
    assert expected["E_delta"].notna().all()
    assert (folder / "report" / "summary_fake.png").stat().st_size > 0
