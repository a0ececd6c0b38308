"""Hydra's launcher plugins as shipped config: a sweep in parallel processes (joblib) and
through submitit (run locally here; the same path sends jobs to Slurm)."""

import json

import pytest
import yaml
from helpers import REPO, probe_overrides, run_cli

LAUNCHERS = REPO / "conf" / "hydra" / "launcher"


def sweep_args(launcher, tiny_bert, treebank, tmp_path, *extra):
    """Two seeds, one epoch; no report at the end (test_sweep_failures.py tests it)."""
    return ["-m", f"hydra/launcher={launcher}", "seed=0,1",
            *probe_overrides(tiny_bert, treebank, tmp_path / "cache"), "trainer.max_epochs=1",
            f"hydra.sweep.dir={tmp_path / 'sweep'}", "hydra/callbacks=none", *extra]


def sweep(launcher, tiny_bert, treebank, tmp_path, *extra):
    cache = tmp_path / "cache"
    result = run_cli(sweep_args(launcher, tiny_bert, treebank, tmp_path, *extra), tmp_path)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    records = sorted((tmp_path / "sweep").glob("*/results.json"))
    assert len(records) == 2, sorted(p.name for p in (tmp_path / "sweep").iterdir())
    runs = [json.loads(path.read_text()) for path in records]
    assert sorted(r["seed"] for r in runs) == [0, 1]
    assert all(len(r["history"]) == 1 for r in runs)
    return runs, cache, result.stdout + result.stderr


@pytest.mark.slow
def test_joblib_runs_jobs_in_parallel_and_extracts_each_corpus_once(tiny_bert, treebank,
                                                                     tmp_path):
    runs, cache, log = sweep("joblib", tiny_bert, treebank, tmp_path, "hydra.launcher.n_jobs=2")
    assert "Joblib.Parallel(n_jobs=2" in log
    for split in ("train", "dev", "test"):
        flags = [r["caches"][split]["reused"] for r in runs]
        assert sorted(flags) == [False, True], f"{split}: exactly one job extracts it"
        assert len({r["caches"][split]["key"] for r in runs}) == 1
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 3
    assert not list(cache.glob("*.partial"))
    # resumed in the same folder, each worker finds its job finished and keeps it
    kept = sorted((tmp_path / "sweep").glob("*/results.json"))
    before = [p.read_bytes() for p in kept]
    again = run_cli([*sweep_args("joblib", tiny_bert, treebank, tmp_path,
                                 "hydra.launcher.n_jobs=2"), "resume=true"], tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert (again.stdout + again.stderr).count("finished earlier with these settings") == 2
    assert [p.read_bytes() for p in kept] == before


@pytest.mark.slow
def test_submitit_local_runs_the_sweep(tiny_bert, treebank, tmp_path):
    runs, cache, _ = sweep("submitit_local", tiny_bert, treebank, tmp_path)
    assert all(r["metrics"]["test"]["accuracy"] > 0 for r in runs)
    assert (tmp_path / "sweep" / ".submitit").is_dir()
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 3


@pytest.mark.parametrize("name", ["joblib", "submitit_local", "submitit_slurm"])
def test_launcher_configs_match_the_plugins(name):
    from hydra.core.config_store import ConfigStore
    from hydra.core.plugins import Plugins

    Plugins.instance()  # imports the launcher plugins, which register their schemas
    schema = ConfigStore.instance().load(f"hydra/launcher/{name}.yaml").node
    shipped = yaml.safe_load((LAUNCHERS / f"{name}.yaml").read_text())
    assert shipped["_target_"] == schema["_target_"]
    assert set(shipped) <= set(schema), f"unknown settings: {set(shipped) - set(schema)}"


def test_slurm_config_documents_what_to_set():
    lines = (LAUNCHERS / "submitit_slurm.yaml").read_text().splitlines()
    comments = " ".join(line for line in lines if line.startswith("#"))
    for setting in ("partition", "gpus_per_node", "timeout_min", "array_parallelism",
                    "PROBING_CACHE_DIR"):
        assert setting in comments, f"say what {setting} is for"
