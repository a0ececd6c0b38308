"""A sweep survives a failing job: the others run and keep their results, the failed job leaves
failed.json, the sweep's report lists it, and the command exits 1 saying how many failed."""

import json
import logging
import os
import subprocess
import sys

import pytest
from helpers import FAKE_PROBE, REPO, probe_overrides, run_cli, run_fake
from omegaconf import OmegaConf

from probing.report.failures import SweepExitStatus, sweep_jobs
from probing.runs.failure import FAILURE_NAME, write_failure
from probing.runs.record import RunRecord
from probing.utils.errors import ProbingError, failure_recorded


@pytest.fixture(params=["fake_probe", "tiny_bert"])
def sweep(request, tmp_path):
    """Runs a sweep into tmp_path/sweep: with the stand-in probe, or for real on a tiny random
    BERT and treebank."""
    def run(*args: str):
        common = ["-m", *args, f"hydra.sweep.dir={tmp_path / 'sweep'}"]
        if request.param == "fake_probe":
            result = run_fake(common, tmp_path)
        else:
            tiny_bert, treebank = (request.getfixturevalue(name)
                                   for name in ("tiny_bert", "treebank"))
            result = run_cli([*common, *probe_overrides(tiny_bert, treebank, tmp_path / "cache"),
                              "trainer.max_epochs=1"], tmp_path)
        return result, tmp_path / "sweep"
    return run


def test_failed_job_does_not_end_the_sweep(sweep):
    result, folder = sweep("mix=single", "mix.layer=99,0")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "1 of 2 jobs failed" in output and "mix.layer=99" in output
    assert "Traceback" not in output, "a user error is reported without a traceback"
    failure = json.loads((folder / "0" / FAILURE_NAME).read_text())
    assert failure["error_type"] == "ProbingError" and failure["user_error"]
    assert "mix.layer=99" in failure["overrides"]
    assert "mix.layer in 0..2" in failure["first_line"]
    assert not (folder / "0" / "results.json").exists()
    assert RunRecord.read(folder / "1" / "results.json").layer == 0
    # the report, written when the sweep ended, lists the failed job beside the finished one
    report = folder / "report"
    failures = (report / "failures.md").read_text()
    assert "mix.layer=99" in failures and "ProbingError" in failures
    assert (report / "overview.csv").is_file() and (report / "runs.csv").is_file()


def test_first_job_with_a_bad_combination(sweep):
    # mix=single without mix.layer composes (the layer is ???) but cannot be built
    result, folder = sweep("mix=single,all", "hydra/callbacks=none")
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "1 of 2 jobs failed" in output and "mix=single" in output
    assert (folder / "0" / FAILURE_NAME).is_file()
    assert RunRecord.read(folder / "1" / "results.json").mode == "all"
    assert not (folder / "report").exists(), "hydra/callbacks=none turns the report off"
    status = sweep_jobs(folder)
    assert [job.status for job in status.jobs] == ["failed", "done"]


def test_sweep_without_failures_exits_zero_with_report(sweep):
    result, folder = sweep("mix=cumulative", "mix.layer=0,1")
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert (folder / "report" / "layers.csv").is_file()
    assert not (folder / "report" / "failures.csv").exists()


def test_bug_in_a_job_is_recorded_with_its_traceback(tmp_path, caplog):
    recorded = []

    def record(error, user):
        recorded.append((error, user))
        write_failure(tmp_path, ["task=upos"], error, user, job=3)

    with caplog.at_level(logging.ERROR), failure_recorded(record):
        raise ZeroDivisionError("division by zero")
    assert recorded[0][1] is False
    saved = json.loads((tmp_path / FAILURE_NAME).read_text())
    assert saved["error_type"] == "ZeroDivisionError" and "Traceback" in saved["traceback"]
    assert "Traceback" in caplog.text
    with failure_recorded(record):
        raise ProbingError("bad file\nsecond line")
    assert recorded[1][1] is True
    assert json.loads((tmp_path / FAILURE_NAME).read_text())["first_line"] == "bad file"


def test_jobs_that_never_finished_are_listed(tmp_path):
    (tmp_path / "multirun.yaml").write_text(
        "hydra:\n  sweeper:\n    _target_: hydra._internal.core_plugins.basic_sweeper."
        "BasicSweeper\n    params: {}\n  overrides:\n    task: [mix=single, 'mix.layer=0,1,2']\n")
    for job, layer in ((0, 0), (1, 1)):
        (tmp_path / str(job) / ".hydra").mkdir(parents=True)
        (tmp_path / str(job) / ".hydra" / "overrides.yaml").write_text(
            f"- mix=single\n- mix.layer={layer}\n")
    (tmp_path / "0" / "results.json").write_text("{}")
    status = sweep_jobs(tmp_path)
    assert [(job.status, job.overrides) for job in status.jobs] == [
        ("done", ["mix=single", "mix.layer=0"]), ("missing", ["mix=single", "mix.layer=1"]),
        ("missing", ["mix=single", "mix.layer=2"])]
    assert "2 of 3 jobs failed" in status.message()
    assert "never started" in status.message()


@pytest.mark.parametrize("broken", ["{", '{"task": {}}', '{"format": 2, "task": {}}'])
def test_broken_record_is_a_clear_error(tmp_path, broken):
    (tmp_path / "results.json").write_text(broken)
    with pytest.raises(ProbingError, match=r"results\.json"):
        RunRecord.read(tmp_path / "results.json")


def test_sweep_where_every_job_fails_reports_the_failures(tmp_path):
    folder = tmp_path / "sweep"
    result = run_fake(["-m", "mix=single", "mix.layer=98,99", f"hydra.sweep.dir={folder}"],
                      tmp_path)
    assert result.returncode == 1
    assert "2 of 2 jobs failed" in result.stderr
    assert "mix.layer=98" in (folder / "report" / "failures.md").read_text()
    assert not (folder / "report" / "overview.csv").exists()


def test_a_single_run_that_fails_leaves_the_failure_record_a_sweep_job_does(tiny_bert, treebank,
                                                                            tmp_path):
    folder = tmp_path / "run"
    overrides = [*probe_overrides(tiny_bert, treebank, tmp_path / "cache"), "mix=single",
                 "mix.layer=99"]
    result = run_cli([*overrides, f"hydra.run.dir={folder}"], tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    saved = json.loads((folder / FAILURE_NAME).read_text())
    assert saved["user_error"] is True and saved["job"] is None
    assert saved["overrides"] == overrides and "mix.layer=99" in saved["first_line"]
    assert saved["first_line"] in result.stdout + result.stderr
    report = run_cli([str(folder), "--out", str(tmp_path / "report")], tmp_path,
                     module="probing.report")
    assert report.returncode == 0, report.stderr[-2000:]
    listed = (tmp_path / "report" / "failures.csv").read_text()
    assert "failed" in listed and saved["first_line"] in listed


def test_a_bug_in_a_single_run_is_recorded_and_keeps_its_traceback(tmp_path):
    bug = FAKE_PROBE.replace("def probe_run(cfg, output_dir):",
                             "def probe_run(cfg, output_dir):\n    1 / 0")
    env = {**os.environ, "PYTHONPATH": f"{REPO}:{REPO / 'tests'}"}
    result = subprocess.run([sys.executable, "-c", bug, f"hydra.run.dir={tmp_path / 'run'}"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode != 0 and "ZeroDivisionError" in result.stderr
    saved = json.loads((tmp_path / "run" / FAILURE_NAME).read_text())
    assert saved["user_error"] is False and "Traceback" in saved["traceback"]



def test_a_sweep_judges_its_own_jobs_where_another_shares_its_folder(tmp_path):
    """Parts of a study (seed=0 here, seed=1 beside it) may run into one folder at once: the
    sweep that ends first must not count the other's running jobs as its failures."""
    def job(folder: str, overrides: list[str], done: bool) -> None:
        (tmp_path / folder / ".hydra").mkdir(parents=True)
        (tmp_path / folder / ".hydra" / "overrides.yaml").write_text(
            "".join(f"- {o}\n" for o in overrides))
        if done:
            (tmp_path / folder / "results.json").write_text("{}")

    job("upos-seed0", ["seed=0", "task=upos"], done=True)
    job("deps-seed0", ["seed=0", "task=deps"], done=True)
    job("upos-seed1", ["seed=1", "task=upos"], done=False)  # the other sweep's, running

    def ended(overrides: list[str]) -> None:
        config = OmegaConf.create({"hydra": {
            "sweep": {"dir": str(tmp_path)}, "overrides": {"task": overrides},
            "sweeper": {"_target_": "hydra._internal.core_plugins.basic_sweeper.BasicSweeper",
                        "params": {"task": "upos,deps"}}}})
        SweepExitStatus().on_multirun_end(config)

    ended(["seed=0"])  # its two jobs are done: no exit
    with pytest.raises(SystemExit) as stopped:
        ended(["seed=1"])
    assert stopped.value.code == 1
