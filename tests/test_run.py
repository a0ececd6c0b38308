"""Whole probe runs through Hydra on a tiny random BERT and a small generated treebank."""

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir

from probing.errors import ProbingError
from probing.run import probe_run, report_run
from probing.schemas import register_configs

REPO = Path(__file__).resolve().parents[1]
LEXICON = {"DET": ["the", "a"], "ADJ": ["big", "small"], "NOUN": ["cat", "dog", "mat"],
           "VERB": ["sat", "ran"], "ADP": ["on"], "PUNCT": ["."]}
PATTERNS = [["DET", "NOUN", "VERB", "PUNCT"], ["DET", "ADJ", "NOUN", "VERB", "ADP", "DET",
            "NOUN", "PUNCT"], ["DET", "NOUN", "VERB", "ADP", "DET", "ADJ", "NOUN", "PUNCT"]]


def write_treebank(path: Path, n_sentences: int, seed: int) -> Path:
    rng = random.Random(seed)
    blocks = []
    for _ in range(n_sentences):
        tags = rng.choice(PATTERNS)
        root = tags.index("VERB") + 1  # the verb heads every other word, by its tag's relation
        rows = [f"{i}\t{w}\t{w}\t{t}\t{t}\t_\t{0 if i == root else root}\t"
                f"{'root' if i == root else t.lower()}\t_\t_"
                for i, (w, t) in enumerate(((rng.choice(LEXICON[t]), t) for t in tags), 1)]
        blocks.append("\n".join(rows) + "\n")
    path.write_text("\n".join(blocks))
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("treebank")
    return {split: write_treebank(folder / f"{split}.conllu", n, seed)
            for split, n, seed in (("train", 60, 0), ("dev", 20, 1), ("test", 20, 2))}


def overrides(tiny_bert, corpus, cache_dir) -> list[str]:
    return ["encoder=hf", f"encoder.name_or_path={tiny_bert}", "encoder.name=tiny",
            f"task.train={corpus['train']}", f"task.dev={corpus['dev']}",
            f"task.test={corpus['test']}", f"paths.cache_dir={cache_dir}",
            "trainer.max_epochs=3", "trainer.batch_size=16", "device=cpu"]


def composed(extra: list[str]):
    register_configs()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=extra)


def test_run_writes_record_and_figure(tiny_bert, corpus, tmp_path):
    cfg = composed(overrides(tiny_bert, corpus, tmp_path / "cache"))
    [record] = probe_run(cfg, tmp_path)
    report_run(record)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["task"]["name"] == "upos" and saved["encoder"]["name"] == "tiny"
    assert saved["mix"] == {"mode": "mix", "layer": None, "layers": [0, 1, 2]}
    assert len(saved["mixing_weights"]) == 3
    assert sum(saved["mixing_weights"]) == pytest.approx(1.0)
    assert 0 <= saved["center_of_gravity"] <= 2
    assert set(saved["metrics"]) == {"dev", "test"}
    assert set(saved["metrics"]["test"]) == {"accuracy", "macro_f1"}
    assert saved["metrics"]["test"]["accuracy"] > 0.5, "a 6-tag toy grammar is easy"
    assert saved["sizes"]["train"]["targets"] == sum(
        1 for line in corpus["train"].read_text().splitlines() if line)
    assert saved["config"]["encoder"]["name_or_path"] == str(tiny_bert)
    assert {"torch", "transformers", "python"} <= set(saved["versions"])
    assert (tmp_path / "mixing_weights.png").stat().st_size > 0
    assert (tmp_path / "mixing_weights.pdf").stat().st_size > 0


def test_same_seed_same_numbers(tiny_bert, corpus, tmp_path):
    cfg = composed(overrides(tiny_bert, corpus, tmp_path / "cache"))
    [first], [second] = probe_run(cfg, tmp_path), probe_run(cfg, tmp_path)
    assert first["metrics"] == second["metrics"]
    assert first["mixing_weights"] == second["mixing_weights"]
    assert first["history"][-1]["loss"] == second["history"][-1]["loss"]
    [other] = probe_run(composed([*overrides(tiny_bert, corpus, tmp_path / "cache"), "seed=1"]),
                      tmp_path)
    assert other["history"][0]["loss"] != first["history"][0]["loss"]


def test_wrong_config_is_refused(tiny_bert, corpus, tmp_path):
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="poolng"):
        composed([*overrides(tiny_bert, corpus, tmp_path), "encoder.poolng=mean"])
    with pytest.raises(ConfigCompositionException):
        composed([*overrides(tiny_bert, corpus, tmp_path), "trainer.lr=fast"])


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "probing.run", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_multirun_sweep_shares_one_cache(tiny_bert, corpus, tmp_path):
    cache = tmp_path / "cache"
    result = run_cli(["-m", "mix=single", "mix.layer=0,1,2", *overrides(tiny_bert, corpus, cache),
                      f"hydra.sweep.dir={tmp_path / 'sweep'}"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    records = sorted((tmp_path / "sweep").glob("*/results.json"))
    assert len(records) == 3
    runs = [json.loads(path.read_text()) for path in records]
    assert sorted(r["mix"]["layer"] for r in runs) == [0, 1, 2]
    assert sum(not cache["reused"] for r in runs for cache in r["caches"].values()) == 3
    assert len({c["key"] for r in runs for c in r["caches"].values()}) == 3
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 3
    for r in runs:
        assert r["mixing_weights"][r["mix"]["layer"]] == 1.0


@pytest.mark.parametrize(("override", "message"), [
    ("task.test=/no/such/file.conllu", "task.test=/no/such/file.conllu: no such file"),
    # raised while Hydra builds the encoder, which wraps it in its own exception
    ("encoder.name_or_path=/no/such/model", "could not load AutoTokenizer from '/no/such/model'"),
])
def test_command_line_error_has_no_traceback(tiny_bert, corpus, tmp_path, override, message):
    result = run_cli([*overrides(tiny_bert, corpus, tmp_path), override,
                      f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert message in output
    assert "Traceback" not in output


def test_run_records_baseline_predictions_and_control(tiny_bert, corpus, tmp_path):
    cfg = composed([*overrides(tiny_bert, corpus, tmp_path / "cache"), "trainer.max_epochs=1"])
    [record] = probe_run(cfg, tmp_path / "task")
    train_tags = [line.split("\t")[3] for line in corpus["train"].read_text().splitlines()
                  if line]
    top = max(map(train_tags.count, set(train_tags)))
    majority = min(tag for tag in set(train_tags) if train_tags.count(tag) == top)  # ties: first
    assert record["baseline"]["label"] == majority
    test_tags = [line.split("\t")[3] for line in corpus["test"].read_text().splitlines() if line]
    assert record["baseline"]["test"]["accuracy"] == pytest.approx(
        test_tags.count(majority) / len(test_tags))
    saved = np.load(tmp_path / "task" / "predictions.npz")
    labels = record["task"]["labels"]
    assert [labels[i] for i in saved["gold"]] == test_tags
    assert (saved["gold"] == saved["predicted"]).mean() == pytest.approx(
        record["metrics"]["test"]["accuracy"])
    assert record["task"]["control"] is False

    [control] = probe_run(composed([*overrides(tiny_bert, corpus, tmp_path / "cache"),
                                  "trainer.max_epochs=1", "task.control=true"]),
                        tmp_path / "control")
    assert control["task"]["control"] is True
    assert all(cache["reused"] for cache in control["caches"].values())
    gold = np.load(tmp_path / "control" / "predictions.npz")["gold"]
    assert [control["task"]["labels"][i] for i in gold] != test_tags


@pytest.mark.parametrize(("override", "message"), [
    ("trainer.batch_size=0", "trainer.batch_size=0 is out of range"),
    ("mix=single", "Missing mandatory value: mix.layer"),
    ("mix.layer=7", "mix=single needs mix.layer in 0..2"),
])
def test_bad_settings_are_refused_before_extraction(tiny_bert, corpus, tmp_path, override,
                                                     message):
    from probing.errors import user_error

    extra = ["mix=single", override] if override.startswith("mix.layer") else [override]
    cfg = composed([*overrides(tiny_bert, corpus, tmp_path / "cache"), *extra])
    with pytest.raises(Exception) as caught:
        probe_run(cfg, tmp_path / "run")
    assert message in str(user_error(caught.value))
    assert not (tmp_path / "cache").exists()


def test_unseen_label_is_refused_before_extraction_at_its_word(tiny_bert, corpus, tmp_path):
    test = tmp_path / "test.conllu"
    test.write_text("1\tthe\tthe\tDET\tDT\t_\t0\troot\t_\t_\n2\tcat\tcat\tXTAG\tNN\t_\t1\tdep\t_\t_\n")
    cfg = composed([*overrides(tiny_bert, corpus, tmp_path / "cache"), f"task.test={test}"])
    with pytest.raises(ProbingError, match=rf"{test}:2: label 'XTAG' does not occur"):
        probe_run(cfg, tmp_path / "run")
    assert not (tmp_path / "cache").exists()


def test_every_layer_selection_in_one_run_equals_runs_of_their_own(tiny_bert, corpus, tmp_path):
    """mix=layers trains the mix, each layer and each prefix side by side; without dropout
    (whose masks are drawn from one stream) each probe ends exactly as in a run of its own."""
    base = [*overrides(tiny_bert, corpus, tmp_path / "cache"), "probe.dropout=0.0"]
    records = probe_run(composed([*base, "mix=layers"]), tmp_path / "layers")
    assert [r["mix"]["mode"] + str(r["mix"]["layer"]) for r in records] == [
        "mixNone", "single0", "single1", "single2", "cumulative0", "cumulative1", "cumulative2"]
    # the mix reads what cumulative-2 reads, layer 0 alone what cumulative-0 reads: 5 probes
    assert {r["timings"]["probes_trained_together"] for r in records} == {5}
    assert records[0]["metrics"] == records[6]["metrics"]
    assert records[1]["mixing_weights"] == records[4]["mixing_weights"]
    for record in records:
        report_run(record)
    names = sorted(p.parent.name for p in (tmp_path / "layers").glob("*/results.json"))
    assert names == sorted(["mix", "single-0", "single-1", "single-2", "cumulative-0",
                            "cumulative-1", "cumulative-2"])
    for selection, index in (("mix=mix", 0), ("mix=single mix.layer=1", 2),
                             ("mix=cumulative mix.layer=1", 5)):
        [alone] = probe_run(composed([*base, *selection.split()]), tmp_path / selection)
        together = records[index]
        assert together["metrics"] == alone["metrics"]
        assert together["mixing_weights"] == alone["mixing_weights"]
        assert together["history"] == [{**h, "seconds": t["seconds"]} for h, t
                                       in zip(alone["history"], together["history"], strict=True)]


def test_missing_corpus_file_says_how_to_fetch_and_a_given_path_only_that_it_is_missing(
        tmp_path):
    from probing.tasks.base import require_file

    with pytest.raises(ProbingError, match=r"python -m probing\.data fetch ud-english-ewt"):
        require_file(tmp_path / "ud-english-ewt" / "en_ewt-ud-train.conllu", "ud-english-ewt",
                     "task.train")
    with pytest.raises(ProbingError, match=r"task\.train=.*mine\.conllu: no such file; check") as e:
        require_file(tmp_path / "mine.conllu", "ud-english-ewt", "task.train")
    assert "fetch" not in str(e.value)
    with pytest.raises(ProbingError, match=r"task\.dev=.* is a folder, not a corpus file"):
        require_file(tmp_path, "ud-english-ewt", "task.dev")


def test_output_folder_that_cannot_be_made_is_named(tiny_bert, corpus, tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    result = run_cli([*overrides(tiny_bert, corpus, tmp_path / "cache"),
                      f"hydra.run.dir={blocked}/run"], tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert f"cannot make the output folder {blocked}/run" in output
    assert "hydra.run.dir=" in output and "Traceback" not in output
    assert not (tmp_path / "cache").exists()
