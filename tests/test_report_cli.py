"""`python -m probing.report`: its defaults come from the sweep report's config, a bad number
of resamples is refused in one line, and what is missing is said."""

import dataclasses

import numpy as np
import pytest
import yaml
from helpers import REPO, fake_record, run_cli

import probing.report.__main__ as cli
from probing.report import bootstrap
from probing.report.callback import SweepReport


def test_defaults_come_from_the_report_config(tmp_path, monkeypatch):
    saved = yaml.safe_load((REPO / "conf" / "hydra" / "callbacks" / "report.yaml").read_text())
    settings = saved["report"]
    assert cli.report_settings().resamples == settings["resamples"]
    called = {}
    monkeypatch.setattr(cli, "report",
                        lambda *args, **kwargs: called.update(args=args, kwargs=kwargs))
    cli.main([str(tmp_path)])
    paths, out, resamples, seed = called["args"]
    assert paths == [tmp_path]
    assert (resamples, seed) == (settings["resamples"], settings["seed"])
    assert out == tmp_path / settings["folder"]
    assert called["kwargs"] == {"left_out": frozenset()}
    cli.main([str(tmp_path), "--resamples", "7", "--seed", "3", "--out", str(tmp_path / "o")])
    assert called["args"][1:] == (tmp_path / "o", 7, 3)
    cli.main([str(tmp_path), "--leave-out", "upos", "--leave-out", "deps"])
    assert called["kwargs"] == {"left_out": frozenset({"upos", "deps"})}
    assert not hasattr(bootstrap, "RESAMPLES") and not hasattr(bootstrap, "SEED")


@pytest.mark.parametrize("resamples", ["-5", "0"])
def test_a_bad_number_of_resamples_is_refused(tmp_path, resamples):
    fake_record(tmp_path / "run")
    result = run_cli([str(tmp_path), "--resamples", resamples], tmp_path,
                     module="probing.report")
    assert result.returncode == 1
    assert f"resamples={resamples}" in result.stderr and "positive" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "report").exists()


def test_a_negative_seed_and_an_unwritable_folder_are_refused(tmp_path):
    fake_record(tmp_path / "run")
    result = run_cli([str(tmp_path), "--seed", "-1"], tmp_path, module="probing.report")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "seed=-1: the bootstrap seed must be a whole number >= 0" in result.stderr
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = run_cli([str(tmp_path / "run"), "--out", str(blocker / "report")], tmp_path,
                     module="probing.report")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"cannot write the report into {blocker / 'report'}" in result.stderr


def test_the_sweep_callback_refuses_them_too(tmp_path, caplog):
    fake_record(tmp_path / "run")
    SweepReport(resamples=0, seed=0, folder="report").write_report(tmp_path)
    assert "resamples=0" in caplog.text and not (tmp_path / "report" / "overview.csv").exists()


def test_a_report_without_predictions_says_so(tmp_path):
    fake_record(tmp_path / "run")
    (tmp_path / "run" / "predictions.npz").unlink()
    result = run_cli([str(tmp_path), "--resamples", "20"], tmp_path, module="probing.report")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Missing intervals: 1 of 1 runs saved no predictions.npz" in result.stdout


def test_a_report_of_folders_without_a_finished_run_leaves_no_out_folder(tmp_path, caplog):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit) as exited:
        cli.main([str(tmp_path / "empty"), "--out", str(tmp_path / "out")])
    assert exited.value.code == 1
    assert "no results.json under" in caplog.text  # logged: pytest's handler is installed
    assert not (tmp_path / "out").exists() and not (tmp_path / "empty" / "report").exists()


def test_predictions_without_the_arrays_a_metric_needs_are_named(tmp_path, capsys):
    fake_record(tmp_path / "run")
    np.savez(tmp_path / "run" / "predictions.npz", sentence=np.arange(100) // 5)
    cli.main([str(tmp_path), "--resamples", "20"])
    assert (f"the predictions.npz of 1 runs ({tmp_path / 'run'}) hold no arrays for accuracy"
            in capsys.readouterr().out)


def test_an_mdl_run_without_its_predictions_is_noted(tmp_path, capsys):
    record = fake_record(tmp_path / "run")
    (tmp_path / "run" / "predictions.npz").unlink()
    code = {"compression": 2.0, "codelength_kbits": 0.05, "uniform_kbits": 0.1}
    dataclasses.replace(record, family="mdl", metric="compression", family_fields={},
                        test={**code, **record.test}).write(tmp_path / "run")
    cli.main([str(tmp_path), "--resamples", "20"])
    assert "Missing intervals: 1 of 1 runs saved no predictions.npz" in capsys.readouterr().out
