"""Whole probe runs through Hydra on a tiny random BERT and a small generated treebank."""

import dataclasses
import errno
import json
import logging
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import REPO, composed, fake_record, probe_overrides, run_cli

from probing.run import dev_metric, probe_run
from probing.runs.record import Predictions, RunRecord
from probing.runs.resume import finished_earlier, mark_finished, start_attempt
from probing.utils.errors import ProbingError, user_error


def test_run_writes_record_predictions_and_figure(tiny_bert, treebank, tmp_path):
    cfg = composed(probe_overrides(tiny_bert, treebank, tmp_path / "cache"))
    [record] = probe_run(cfg, tmp_path)
    saved = RunRecord.read(tmp_path / "results.json")
    assert saved == record
    assert (saved.task, saved.encoder, saved.family) == ("upos", "tiny", "edge")
    # what main returns to an optimising sweeper: the dev score, the best of several probes
    assert dev_metric([record]) == record.dev["accuracy"] > 0
    better = dataclasses.replace(record, dev={"accuracy": record.dev["accuracy"] + 0.1})
    assert dev_metric([record, better, dataclasses.replace(record, dev={})]) == better.dev[
        "accuracy"]
    assert math.isnan(dev_metric([dataclasses.replace(record, dev={})])), "none: a failed trial"
    assert (saved.mode, saved.layer, saved.layers) == ("all", None, [0, 1, 2])
    assert saved.metric == "accuracy" and set(saved.test) == {"accuracy", "macro_f1"}
    assert saved.score > 0.5, "a 6-tag toy grammar is easy"
    assert saved.center_of_gravity == pytest.approx(
        sum(i * w for i, w in enumerate(saved.weights)))
    assert saved.sizes["train"]["targets"] == sum(
        1 for line in treebank["train"].read_text().splitlines() if line)
    assert saved.config["encoder"]["name_or_path"] == str(tiny_bert)
    assert {"torch", "transformers", "python"} <= set(saved.versions)
    predictions = Predictions.load(tmp_path)
    assert len(predictions["gold"]) == saved.sizes["test"]["targets"]
    assert predictions["sentence"].max() == saved.sizes["test"]["sentences"] - 1
    assert (tmp_path / "mixing_weights.png").stat().st_size > 0
    assert not list(tmp_path.glob(".writing-*")), "the staging folder is gone"


@pytest.mark.slow
def test_same_seed_same_numbers(tiny_bert, treebank, tmp_path):
    cfg = composed(probe_overrides(tiny_bert, treebank, tmp_path / "cache"))
    [first], [second] = probe_run(cfg, tmp_path / "a"), probe_run(cfg, tmp_path / "b")
    assert first.test == second.test and first.weights == second.weights
    assert first.history[-1]["loss"] == second.history[-1]["loss"]
    [other] = probe_run(composed([*probe_overrides(tiny_bert, treebank, tmp_path / "cache"),
                                  "seed=1"]), tmp_path / "c")
    assert other.history[0]["loss"] != first.history[0]["loss"]


def test_wrong_config_is_refused(tiny_bert, treebank, tmp_path):
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="poolng"):
        composed([*probe_overrides(tiny_bert, treebank, tmp_path), "encoder.poolng=mean"])
    with pytest.raises(ConfigCompositionException):
        composed([*probe_overrides(tiny_bert, treebank, tmp_path), "trainer.lr=fast"])


@pytest.mark.slow
def test_multirun_sweep_shares_one_cache(tiny_bert, treebank, tmp_path):
    cache = tmp_path / "cache"
    result = run_cli(["-m", "mix=single", "mix.layer=0,1,2",
                      *probe_overrides(tiny_bert, treebank, cache), "hydra/callbacks=none",
                      f"hydra.sweep.dir={tmp_path / 'sweep'}"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = [RunRecord.read(p) for p in sorted((tmp_path / "sweep").glob("*/results.json"))]
    assert sorted(r.layer for r in runs) == [0, 1, 2]
    assert sum(not cache["reused"] for r in runs for cache in r.caches.values()) == 3
    assert len({c["key"] for r in runs for c in r.caches.values()}) == 3
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 3
    for r in runs:
        assert r.weights[r.layer] == 1.0


@pytest.mark.parametrize(("override", "message"), [
    ("task.test=/no/such/file.conllu", "task.test=/no/such/file.conllu: no such file"),
    # raised while Hydra builds the encoder, which wraps it in its own exception
    ("encoder.name_or_path=/no/such/model", "could not load AutoTokenizer from '/no/such/model'"),
])
def test_command_line_error_has_no_traceback(tiny_bert, treebank, tmp_path, override, message):
    result = run_cli([*probe_overrides(tiny_bert, treebank, tmp_path), override,
                      f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert message in output
    assert "Traceback" not in output


def test_run_records_baseline_predictions_and_control(tiny_bert, treebank, tmp_path):
    cfg = composed([*probe_overrides(tiny_bert, treebank, tmp_path / "cache"),
                    "trainer.max_epochs=1"])
    [record] = probe_run(cfg, tmp_path / "task")
    train_tags = [line.split("\t")[3] for line in treebank["train"].read_text().splitlines()
                  if line]
    top = max(map(train_tags.count, set(train_tags)))
    majority = min(tag for tag in set(train_tags) if train_tags.count(tag) == top)  # ties: first
    assert record.baseline_label == majority
    test_tags = [line.split("\t")[3] for line in treebank["test"].read_text().splitlines()
                 if line]
    assert record.baseline == pytest.approx(test_tags.count(majority) / len(test_tags))
    saved = Predictions.load(tmp_path / "task")
    assert [record.labels[i] for i in saved["gold"]] == test_tags
    assert (saved["gold"] == saved["predicted"]).mean() == pytest.approx(record.score)
    assert record.control is False

    [control] = probe_run(composed([*probe_overrides(tiny_bert, treebank, tmp_path / "cache"),
                                    "trainer.max_epochs=1", "task.control=true"]),
                          tmp_path / "control")
    assert control.control is True
    assert all(cache["reused"] for cache in control.caches.values())
    gold = Predictions.load(tmp_path / "control")["gold"]
    assert [control.labels[i] for i in gold] != test_tags


@pytest.mark.parametrize(("override", "message"), [
    ("trainer.batch_size=0", "trainer.batch_size=0 is out of range"),
    ("mix=single", "Missing mandatory value: mix.layer"),
    ("mix.layer=7", "mix=single needs mix.layer in 0..2"),
])
def test_bad_settings_are_refused_before_extraction(tiny_bert, treebank, tmp_path, override,
                                                     message):
    extra = ["mix=single", override] if override.startswith("mix.layer") else [override]
    cfg = composed([*probe_overrides(tiny_bert, treebank, tmp_path / "cache"), *extra])
    with pytest.raises(Exception) as caught:
        probe_run(cfg, tmp_path / "run")
    assert message in str(user_error(caught.value))
    assert not (tmp_path / "cache").exists()


def test_unseen_label_is_refused_before_extraction_at_its_word(tiny_bert, treebank, tmp_path):
    test = tmp_path / "test.conllu"
    test.write_text("1\tthe\tthe\tDET\tDT\t_\t0\troot\t_\t_\n2\tcat\tcat\tXTAG\tNN\t_\t1\tdep\t_\t_\n")
    cfg = composed([*probe_overrides(tiny_bert, treebank, tmp_path / "cache"),
                    f"task.test={test}"])
    with pytest.raises(ProbingError, match=rf"{test}:2: label 'XTAG' does not occur"):
        probe_run(cfg, tmp_path / "run")
    assert not (tmp_path / "cache").exists()


@pytest.mark.slow
def test_every_layer_selection_in_one_run_equals_runs_of_their_own(tiny_bert, treebank,
                                                                    tmp_path):
    """mix=every trains the mix, each layer and each prefix side by side in one bank; without
    dropout (whose masks a bank draws from one stream) each probe ends as in a run of its own."""
    base = [*probe_overrides(tiny_bert, treebank, tmp_path / "cache"), "probe.dropout=0.0"]
    records = probe_run(composed([*base, "mix=every"]), tmp_path / "every")
    assert [f"{r.mode}{r.layer}" for r in records] == [
        "allNone", "single0", "single1", "single2", "cumulative0", "cumulative1", "cumulative2"]
    # the mix reads what cumulative-2 reads, layer 0 alone what cumulative-0 reads: 5 probes
    assert {r.timings["probes_trained_together"] for r in records} == {5}
    assert records[0].test == records[6].test and records[1].weights == records[4].weights
    names = sorted(p.parent.name for p in (tmp_path / "every").glob("*/results.json"))
    assert names == sorted(["all", "single-0", "single-1", "single-2", "cumulative-0",
                            "cumulative-1", "cumulative-2"])
    for selection, index in (("mix=all", 0), ("mix=single mix.layer=1", 2),
                             ("mix=cumulative mix.layer=1", 5)):
        [alone] = probe_run(composed([*base, *selection.split()]), tmp_path / selection)
        together = records[index]
        assert together.test == pytest.approx(alone.test, abs=1e-3)
        assert together.weights == pytest.approx(alone.weights, abs=1e-4)
        assert [h["loss"] for h in together.history] == pytest.approx(
            [h["loss"] for h in alone.history], rel=1e-4)


def test_a_full_disk_while_writing_leaves_no_half_run(tiny_bert, treebank, tmp_path,
                                                      monkeypatch):
    def disk_full(self, folder):
        (folder / "predictions.npz").write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Predictions, "save", disk_full)
    cfg = composed([*probe_overrides(tiny_bert, treebank, tmp_path / "cache"),
                    "trainer.max_epochs=1"])
    with pytest.raises(ProbingError, match=r"could not write the run's outputs into .*run.*"
                                           r"No space left on device.*MB free there"):
        probe_run(cfg, tmp_path / "run")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == []


def test_a_full_disk_at_the_record_leaves_neither_files_nor_temporaries(tiny_bert, treebank,
                                                                        tmp_path, monkeypatch):
    real_write_text = Path.write_text

    def disk_full_at_the_record(self, text, *args, **kwargs):
        if self.name.startswith("results.json"):
            real_write_text(self, text[:10])
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write_text(self, text, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", disk_full_at_the_record)
    cfg = composed([*probe_overrides(tiny_bert, treebank, tmp_path / "cache"),
                    "trainer.max_epochs=1"])
    with pytest.raises(ProbingError, match="No space left on device"):
        probe_run(cfg, tmp_path / "run")
    assert list((tmp_path / "run").iterdir()) == [], "no predictions or figure without a record"


def test_output_folder_that_cannot_be_made_is_named(tiny_bert, treebank, tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    result = run_cli([*probe_overrides(tiny_bert, treebank, tmp_path / "cache"),
                      f"hydra.run.dir={blocked}/run"], tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert f"cannot make the output folder {blocked}/run" in output
    assert "hydra.run.dir=" in output and "Traceback" not in output
    assert not (tmp_path / "cache").exists()


def test_record_round_trips_and_refuses_older_formats(tmp_path):
    from helpers import fake_record

    record = fake_record(tmp_path / "run")
    assert RunRecord.read(tmp_path / "run" / "results.json") == record
    raw = json.loads((tmp_path / "run" / "results.json").read_text())
    del raw["format"]
    (tmp_path / "run" / "results.json").write_text(json.dumps(raw))
    with pytest.raises(ProbingError, match="older format"):
        RunRecord.read(tmp_path / "run" / "results.json")


def test_cut_short_predictions_are_a_clear_error(tmp_path):
    from helpers import fake_record

    fake_record(tmp_path)
    path = tmp_path / "predictions.npz"
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ProbingError, match=rf"{path} is damaged .*rerun that run"):
        Predictions.load(tmp_path)


@pytest.mark.slow
def test_a_killed_sweep_resumes_where_it_stopped(tiny_bert, treebank, tmp_path):
    """Killed as its third job starts, a 4-job sweep rerun with resume=true runs the last two
    jobs only, and ends with the records of a sweep that was never stopped."""
    common = [*probe_overrides(tiny_bert, treebank, tmp_path / "cache"), "trainer.max_epochs=1"]
    stopped = tmp_path / "stopped"
    args = ["-m", "seed=0,1,2,3", *common, "hydra/callbacks=none", f"hydra.sweep.dir={stopped}"]
    killed = subprocess.Popen([sys.executable, "-m", "probing.run", *args], cwd=tmp_path,
                              env={**os.environ, "PYTHONPATH": str(REPO)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not (stopped / "2").exists() and killed.poll() is None:
        time.sleep(0.01)
    killed.kill()
    killed.wait()
    assert not (stopped / "2" / "results.json").exists(), "killed before job 2 finished"
    kept = {job: (stopped / job / "results.json").read_bytes() for job in ("0", "1")}

    resumed = run_cli([*args, "resume=true"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    log = resumed.stdout + resumed.stderr
    assert log.count("finished earlier with these settings") == 2
    assert {job: (stopped / job / "results.json").read_bytes() for job in kept} == kept
    # the jobs the stop interrupted, as runs that were never stopped give them
    for job in ("2", "3"):
        again = RunRecord.read(stopped / job / "results.json")
        [first] = probe_run(composed([*common, f"seed={job}"]), tmp_path / "whole" / job)
        assert (again.seed, again.test, again.dev, again.weights) == (
            first.seed, first.test, first.dev, first.weights)
        assert all((Predictions.load(again.folder)[name] == Predictions.load(first.folder)[
            name]).all() for name in ("gold", "predicted", "sentence"))


def test_resume_keeps_only_a_finished_run_of_the_same_settings(tiny_bert, treebank, tmp_path,
                                                            caplog):
    """The finish mark is what resume trusts: a run of other settings, a failed one, or one whose
    records went missing runs again, after what it left is cleared."""
    overrides = probe_overrides(tiny_bert, treebank, tmp_path / "cache")
    cfg, folder = composed([*overrides, "seed=3"]), tmp_path / "run"
    records = [fake_record(folder / "single-0", mode="single", layer=0),
               fake_record(folder / "all")]
    assert finished_earlier(folder, cfg) is None, "not marked finished"
    mark_finished(folder, cfg, records)
    assert [r.folder for r in finished_earlier(folder, cfg)] == [folder / "all",
                                                                  folder / "single-0"]
    assert finished_earlier(folder, composed([*overrides, "seed=3", "resume=true"])), \
        "the switch itself is no setting of the run"
    with caplog.at_level(logging.WARNING, logger="probing"):
        assert finished_earlier(folder, composed([*overrides, "seed=4"])) is None
    assert "other settings (seed: 3 -> 4, task.control_seed: 3 -> 4)" in caplog.text
    (folder / "all" / "results.json").unlink()
    assert finished_earlier(folder, cfg) is None, "a record has gone"

    (folder / "failed.json").write_text("{}")
    (folder / ".hydra").mkdir()
    (folder / "main.log").write_text("Hydra's log of this job")
    (folder / "notes").mkdir()  # not the run's: stays
    (folder / "all" / ".writing-12").mkdir()  # an interrupted save
    start_attempt(folder, resume=False)
    assert not (folder / "finished.json").exists() and (folder / "single-0").exists()
    start_attempt(folder, resume=True)
    assert sorted(p.name for p in folder.iterdir()) == [".hydra", "main.log", "notes"]
