"""The cross-run report: records in, tables and figures out."""

import math

import numpy as np
import pandas as pd
import pytest
from report_fakes import REPORTS
from sklearn.metrics import f1_score

from probing.probes.edge.report import EdgeReport
from probing.report import bootstrap
from probing.report.build import report
from probing.report.collect import load_records
from probing.report.expected import cumulative_expected_layer
from probing.report.figures import FIGURES
from probing.report.layer_tables import expected_layers, layer_table, overview
from probing.report.run_tables import runs_table, summary
from probing.report.study import Study
from probing.runs.record import Predictions, RunRecord
from probing.tasks.labels import SingleLabel
from probing.tasks.semeval import SemEvalLabeling
from probing.utils.errors import ProbingError

N_TARGETS = 400
LABELS = ["NOUN", "VERB", "DET", "ADJ"]


def record(mode, layer, score, seed=0, weights=(0.2, 0.5, 0.3), step=None, task="upos",
           encoder="tiny", control=False, metric="accuracy", baseline=0.25):
    """A run record's JSON as run.py writes it (the fields the report reads)."""
    n_layers = len(weights)
    layers = {"all": list(range(n_layers)), "single": [layer],
              "cumulative": list(range((layer or 0) + 1))}[mode]
    return {"format": 2,
            "task": {"name": task, "corpus": "toy", "labels": LABELS, "control": control,
                     "labeling": "probing.tasks.labels.SingleLabel"},
            "baseline": {"label": "NOUN", "test": {metric: baseline}},
            "encoder": {"name": encoder, "n_layers": n_layers, "dim": 8, "step": step,
                        "fingerprint": "ab" * 32, "settings": {}},
            "probe": {"family": "edge", "report": REPORTS["edge"], "metric": metric,
                      "mixing_weights": list(weights),
                      "center_of_gravity": sum(i * w for i, w in enumerate(weights)),
                      "gamma": 1.0},
            "mix": {"mode": mode, "layer": layer, "layers": layers}, "seed": seed,
            "metrics": {"test": {metric: score}, "dev": {metric: score - 0.01}}}


def gold_labels(n=N_TARGETS):
    """Gold label indices: NOUN (the majority) for the first quarter, then the others."""
    return np.array([0 if i < n // 4 else 1 + i % 3 for i in range(n)])


def write_run(folder, run: dict, gold=None, correct=None):
    """A fake run folder: results.json, and predictions.npz right on the first `correct`
    targets (default: as many as the record's score says)."""
    folder.mkdir(parents=True)
    RunRecord.from_json(run, folder).write(folder)
    if gold is not None:
        metric = run["probe"]["metric"]
        k = round(run["metrics"]["test"][metric] * len(gold)) if correct is None else correct
        predicted = np.where(np.arange(len(gold)) < k, gold, (gold + 1) % len(LABELS))
        Predictions({"gold": gold, "predicted": predicted,
                     "sentence": np.arange(len(gold)) // 4}).save(folder)
    return folder


SCORES = {"single": [0.50, 0.80, 0.70], "cumulative": [0.50, 0.85, 0.90]}


@pytest.fixture
def sweep(tmp_path):
    """One encoder and task: mix over two seeds, single and cumulative layers, a control."""
    runs = [record("all", None, 0.90, seed=0), record("all", None, 0.92, seed=1,
                                                      weights=(0.1, 0.6, 0.3)),
            record("all", None, 0.60, control=True)]
    runs += [record(mode, layer, score) for mode, scores in SCORES.items()
             for layer, score in enumerate(scores)]
    root = tmp_path / "sweep"
    for i, run in enumerate(runs):
        write_run(root / str(i), run, gold_labels())
    return root


def test_cumulative_expected_layer_by_hand():
    # delta_1 = 0.35, delta_2 = 0.05: E = (1 * 0.35 + 2 * 0.05) / 0.4
    assert cumulative_expected_layer([0.5, 0.85, 0.9]) == pytest.approx(0.45 / 0.4)
    assert math.isnan(cumulative_expected_layer([0.5, float("nan"), 0.9])), "a layer is missing"
    assert math.isnan(cumulative_expected_layer([0.5]))
    # one resample a column: the same formula along the first axis
    columns = np.array([[0.5, 0.5], [0.85, 0.6], [0.9, 0.9]])
    assert cumulative_expected_layer(columns) == pytest.approx([0.45 / 0.4, 0.7 / 0.4])


def test_tables_by_hand(sweep):
    study = Study(load_records([sweep]), 200, 0)
    assert len(study.records) == 9
    mix = summary(study).query("mode == 'all' and not control").iloc[0]
    assert mix["score"] == pytest.approx(0.91) and mix["seeds"] == 2
    layers = layer_table(study, "edge")
    assert layers["weight"].tolist() == pytest.approx([0.15, 0.55, 0.3])
    assert layers["single"].tolist() == [0.5, 0.8, 0.7]
    assert layers["delta"].tolist()[1:] == pytest.approx([0.35, 0.05])
    expected = expected_layers(study, "edge").iloc[0]
    assert expected["E_s"] == pytest.approx((1.1 + 1.2) / 2)
    assert expected["E_delta"] == pytest.approx(0.45 / 0.4)
    assert expected["score"] == pytest.approx(0.91), "the control run is not the task's mix"


def test_overview_numbers_equal_the_records(sweep, tmp_path):
    report([sweep], tmp_path / "out", 200, 0)
    table = pd.read_csv(tmp_path / "out" / "overview.csv").iloc[0]
    records = load_records([sweep])
    task = [r for r in records if not r.control]
    control = [r for r in records if r.control]
    mix = np.mean([r.score for r in task if r.mode == "all"])
    single = {r.layer: r.score for r in task if r.mode == "single"}
    cumulative = [r.score for r in sorted(task, key=lambda r: r.layer or 0)
                  if r.mode == "cumulative"]
    assert table["majority"] == pytest.approx(task[0].baseline)
    assert table["P0"] == pytest.approx(single[0])
    assert table["mix"] == pytest.approx(mix)
    assert table["best_layer"] == max(single, key=single.get)
    assert table["best_single"] == pytest.approx(max(single.values()))
    assert table["control"] == pytest.approx(control[0].score)
    assert table["selectivity"] == pytest.approx(mix - control[0].score)
    assert table["E_s"] == pytest.approx(np.mean([r.center_of_gravity for r in task
                                                  if r.mode == "all"]))
    assert table["E_delta"] == pytest.approx(cumulative_expected_layer(cumulative))
    for name in ("majority", "P0", "mix", "best_single", "control", "selectivity", "E_delta"):
        assert table[f"{name}_lo"] <= table[name] + 1e-9 <= table[f"{name}_hi"] + 2e-9, name
    # the majority baseline is resampled from the gold labels: NOUN is a quarter of them
    assert table["majority_lo"] < 0.25 < table["majority_hi"]
    layers = pd.read_csv(tmp_path / "out" / "layers.csv")
    assert layers["cumulative"].tolist() == pytest.approx(SCORES["cumulative"])
    runs = pd.read_csv(tmp_path / "out" / "runs.csv")
    assert sorted(runs["score"]) == pytest.approx(sorted(r.score for r in records))


def scores_over(gold, predicted, metric="accuracy", resamples=1000, seed=0, sentence=None,
                labeling=SingleLabel, labels=None):
    """The metric on every resample of the sentences (one item a sentence by default), as
    the labelling resamples it."""
    sentence = np.arange(len(gold)) if sentence is None else sentence
    counts = bootstrap.SentenceDraws(resamples, seed).counts("test.conllu", sentence.max() + 1)
    return labeling().resampled(metric, gold, predicted, sentence, counts, labels or [])


def test_bootstrap_accuracy_matches_the_normal_interval():
    # n Bernoulli(p) outcomes, one a sentence: the percentile interval is about p +- 1.96 se
    n, p = 4000, 0.8
    gold = np.zeros(n, dtype=int)
    predicted = np.where(np.random.default_rng(0).permutation(n) < p * n, 0, 1)
    samples = scores_over(gold, predicted, resamples=2000)
    found = bootstrap.interval(samples)
    half = 1.96 * math.sqrt(p * (1 - p) / n)
    assert found.lo == pytest.approx(p - half, abs=0.15 * half)
    assert found.hi == pytest.approx(p + half, abs=0.15 * half)
    assert samples.mean() == pytest.approx(p, abs=0.1 * half)
    assert found.undefined == 0


def test_bootstrap_degenerate_and_paired():
    gold = gold_labels()
    found = bootstrap.interval(scores_over(gold, gold))
    assert (found.lo, found.hi) == (1.0, 1.0)
    other = (gold + 1) % 4
    a = scores_over(gold, np.where(np.arange(len(gold)) < 300, gold, other))
    b = scores_over(gold, np.where(np.arange(len(gold)) < 200, gold, other))
    # paired resamples: b is right on a subset of a's targets, so a >= b on every resample
    assert (a - b >= 0).all()
    # the same (test file, n, resamples, seed) gives the same draws; another seed others
    assert (a == scores_over(gold, np.where(np.arange(len(gold)) < 300, gold, other))).all()
    assert not (a == scores_over(gold, np.where(np.arange(len(gold)) < 300, gold, other),
                                 seed=1)).all()


def test_bootstrap_multilabel_and_generic_metrics():
    rng = np.random.default_rng(0)
    gold = (rng.random((300, 5)) < 0.3).astype(np.uint8)
    predicted = np.where(rng.random((300, 5)) < 0.8, gold, 1 - gold).astype(np.uint8)
    samples = scores_over(gold, predicted, "micro_f1", resamples=500)
    full = f1_score(gold.astype(bool), predicted.astype(bool), average="micro")
    found = bootstrap.interval(samples)
    assert found.lo < full < found.hi and found.hi - found.lo < 0.2
    assert bootstrap.interval(scores_over(gold, gold, "micro_f1")).lo == 1.0
    # any other metric: the task's Labeling scores each resample, sentences whole
    labels = gold_labels(200)
    guesses = np.where(np.arange(200) < 150, labels, 0)
    macro = scores_over(labels, guesses, "macro_f1", 50, sentence=np.arange(200) // 2,
                        labeling=SingleLabel, labels=LABELS)
    assert macro.shape == (50,)
    found = bootstrap.interval(macro)
    assert found.lo < f1_score(labels, guesses, average="macro") < found.hi


def test_seeds_are_resampled_paired_and_without_shrinking():
    draws = bootstrap.SentenceDraws(20000, 0)
    same = np.tile(np.linspace(0, 1, 20000), (3, 1))
    assert draws.over_seeds(same) == pytest.approx(same[0])  # no spread: no seed part
    assert (draws.over_seeds(same[:1]) == same[0]).all()
    seeds = np.tile(np.array([[0.0], [1.0], [2.0], [3.0], [4.0]]), (1, 20000))
    spread = draws.over_seeds(seeds)
    # the seed part's variance is that of the five seeds' mean, s^2 / k, not (k-1)/k of it
    assert spread.var() == pytest.approx(np.var(seeds[:, 0], ddof=1) / 5, rel=0.03)
    assert spread.mean() == pytest.approx(2.0, abs=0.02)
    # configurations share the seed draws: a difference whose seeds agree has no seed part
    assert draws.over_seeds(seeds + 0.5) - spread == pytest.approx(np.full(20000, 0.5))


def test_runs_without_predictions_have_points_without_intervals(tmp_path):
    for i, (mode, layer) in enumerate((("all", None), ("single", 0))):
        write_run(tmp_path / str(i), record(mode, layer, 0.9))
    table = overview(Study(load_records([tmp_path]), 50, 0), "edge")
    assert table["mix"].iloc[0] == 0.9 and math.isnan(table["mix_lo"].iloc[0])


def test_one_encoder_name_for_two_encoders_is_refused(tmp_path):
    for pooling in ("first", "mean"):
        run = record("all", None, 0.9)
        run["encoder"] |= {"fingerprint": "ab" * 32, "settings": {"pooling": pooling}}
        write_run(tmp_path / pooling, run, gold_labels())
        # a sweep's job folder: an error in its records is not taken for "no finished run"
        (tmp_path / pooling / ".hydra").mkdir()
        (tmp_path / pooling / ".hydra" / "overrides.yaml").write_text(f"- pooling={pooling}\n")
    (tmp_path / "multirun.yaml").write_text("hydra: {}\n")
    with pytest.raises(ProbingError, match="runs named encoder 'tiny' come from different") as e:
        report([tmp_path], tmp_path / "out", 20, 0)
    assert "pooling=first" in str(e.value) and "pooling=mean" in str(e.value)
    assert str(tmp_path / "first") in str(e.value) and "encoder.name" in str(e.value)
    # the same encoder and settings under one name: one group, as before
    run = record("all", None, 0.8, seed=1)
    run["encoder"] |= {"fingerprint": "ab" * 32, "settings": {"pooling": "mean"}}
    write_run(tmp_path / "mean-seed1", run, gold_labels())
    runs = runs_table(Study(load_records([tmp_path / "mean", tmp_path / "mean-seed1"]), 10, 0))
    assert list(runs["encoder_settings"]) == ["pooling=mean", "pooling=mean"]


def test_a_mix_only_sweep_has_no_best_layer(tmp_path):
    for seed in (0, 1):
        write_run(tmp_path / "sweep" / str(seed), record("all", None, 0.9, seed=seed),
                  gold_labels())
    report([tmp_path / "sweep"], tmp_path / "out", 50, 0)
    shown = (tmp_path / "out" / "overview.md").read_text().splitlines()[2].split("|")
    header = (tmp_path / "out" / "overview.md").read_text().splitlines()[0].split("|")
    assert shown[[c.strip() for c in header].index("best_layer")].strip() == "–"
    assert pd.isna(pd.read_csv(tmp_path / "out" / "overview.csv")["best_layer"].iloc[0])


TABLES = ("overview", "layers", "expected_layers", "summary")


def test_report_writes_every_table_and_figure(sweep, tmp_path):
    # a second encoder of another depth beside the first: the relative depth figure
    for i, (mode, layer) in enumerate((("all", None), ("single", 0), ("cumulative", 0))):
        weights = (0.1, 0.2, 0.3, 0.2, 0.2)
        write_run(tmp_path / "other" / str(i), record(mode, layer, 0.8, encoder="deep",
                                                       weights=weights), gold_labels())
    out = tmp_path / "report"
    report([sweep, tmp_path / "other"], out, 100, 0)
    names = ["runs.csv", *(f"{table}.{suffix}" for table in TABLES
                           for suffix in ("csv", "md", "tex"))]
    for figure in ("layers_upos_tiny", "layers_upos_deep", "summary_tiny", "summary_deep",
                   "weights_heatmap_tiny", "scores_by_layer_tiny", "relative_depth"):
        names += [f"{figure}.png", f"{figure}.pdf"]
    for name in names:
        assert (out / name).stat().st_size > 0, name
    assert "\\toprule" in (out / "overview.tex").read_text(), "booktabs"
    assert " [" in (out / "overview.md").read_text(), "intervals shown in the tables"
    assert len(EdgeReport.figures) == 6 and len(FIGURES) == 1, "the edge probe's and the profile"


def test_report_on_one_sweep_folder(sweep):
    report([sweep], sweep / "report", 50, 0)
    assert (sweep / "report" / "summary_tiny.pdf").stat().st_size > 0
    assert not (sweep / "report" / "relative_depth.png").exists(), "one encoder"


def test_report_against_pretraining_step(tmp_path):
    for step, score in ((100, 0.6), (200, 0.7), (400, 0.8)):
        for task in ("upos", "xpos"):
            write_run(tmp_path / f"{task}-{step}", record("all", None, score, step=step,
                                                          task=task), gold_labels())
    report([tmp_path], tmp_path / "report", 50, 0)
    assert (tmp_path / "report" / "against_step.png").stat().st_size > 0
    table = pd.read_csv(tmp_path / "report" / "expected_layers.csv")
    assert sorted(table["step"].unique()) == [100, 200, 400]
    assert table["score_lo"].notna().all()


def test_record_round_trip(tmp_path):
    folder = write_run(tmp_path / "run", record("cumulative", 1, 0.8, step=5, control=True),
                       gold_labels())
    run = RunRecord.read(folder / "results.json")
    assert (run.task, run.mode, run.layer, run.step, run.control) == ("upos", "cumulative", 1,
                                                                      5, True)
    assert run.score == 0.8 and run.baseline == 0.25 and run.n_layers == 3
    saved = Predictions.load(folder)
    assert saved["gold"].shape == saved["predicted"].shape == (N_TARGETS,)
    assert len(load_records([tmp_path])) == 1


def test_no_records_is_a_clear_error(tmp_path):
    with pytest.raises(ProbingError, match=r"no results\.json"):
        load_records([tmp_path])


def test_learning_curves(tmp_path):
    from probing.report.curves import main as curves

    (tmp_path / "metrics.csv").write_text(
        "step,split,metric,value\n0,heldout,loss,9.5\n0,heldout,nsp_acc,0.5\n"
        "10,train,loss,7.0\n20,heldout,loss,6.0\n20,heldout,nsp_acc,0.7\n")
    curves([str(tmp_path), "loss", "nsp_acc"])
    assert (tmp_path / "curves.png").stat().st_size > 0
    curves([str(tmp_path), "loss/nsp_acc", "--out", str(tmp_path / "together")])
    assert (tmp_path / "together" / "curves.pdf").stat().st_size > 0
    table = (tmp_path / "heldout.md").read_text()
    assert "nsp_acc" in table and "0.7" in table and "7.0" not in table
    for absent in ("perplexity", "loss/perplexity"):
        with pytest.raises(SystemExit):
            curves([str(tmp_path), absent])


def test_bootstrap_official_semeval_score_equals_the_scorer_on_every_resample():
    from probing.tasks.semeval import LABELS, semeval_official_f1

    labels = sorted(LABELS)
    rng = np.random.default_rng(0)
    gold = rng.integers(0, len(labels), 300)
    predicted = np.where(rng.random(300) < 0.6, gold, rng.integers(0, len(labels), 300))
    sentence = np.arange(300) // 3
    counts = bootstrap.SentenceDraws(40, 3).counts("semeval", 100)
    fast = SemEvalLabeling().resampled("semeval_official_f1", gold, predicted, sentence,
                                       counts, labels)
    names = np.array(labels)
    slow = []
    for row in counts.astype(int):
        items = np.repeat(np.arange(300), row[sentence])
        slow.append(semeval_official_f1(names[gold[items]].tolist(),
                                        names[predicted[items]].tolist()))
    assert fast == pytest.approx(slow, abs=1e-6)
