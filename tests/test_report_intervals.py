"""The report's intervals as a reviewer asks for them: a cluster bootstrap over test sentences,
paired where runs share test sentences, seeds resampled with them, Student-t intervals for
seed statistics, E_delta defined everywhere, orders tested, the best layer chosen on dev."""

import math

import numpy as np
import pandas as pd
import pytest
from report_fakes import EWT_TEST, edge_layers, labelled, write_record
from scipy import stats

from probing.probes.edge.report import mix_check_notes
from probing.report import bootstrap
from probing.report.build import report
from probing.report.collect import load_records
from probing.report.expected import cumulative_expected_layer, normalised_depth
from probing.report.layer_tables import expected_layers, layer_table, mix_check, overview
from probing.report.notes import Notes
from probing.report.orders import holm_floor, order_table, resamples_needed
from probing.report.study import Study
from probing.tasks.labels import SingleLabel

FLAT = [0.80, 0.80, 0.80, 0.80]  # no gain from any layer
EARLY = [0.70, 0.90, 0.91, 0.91]  # the gain at layer 1
LATE = [0.70, 0.71, 0.72, 0.92]  # the gain at layer 3


def width(samples: np.ndarray) -> float:
    found = bootstrap.interval(samples)
    return found.hi - found.lo


def test_sentences_not_targets_are_resampled():
    # 4 targets a sentence, all right or all wrong: the sentences are the independent units,
    # so the interval is about sqrt(4) = 2 times wider than one over independent targets
    n_sentences, per = 1000, 4
    right = np.random.default_rng(0).random(n_sentences) < 0.7
    gold = np.zeros(n_sentences * per, dtype=int)
    predicted = np.where(np.repeat(right, per), 0, 1)
    sentence = np.repeat(np.arange(n_sentences), per)
    draws = bootstrap.SentenceDraws(2000, 0)
    clustered = SingleLabel().resampled("accuracy", gold, predicted, sentence,
                                        draws.counts("a", n_sentences), [])
    independent = SingleLabel().resampled("accuracy", gold, predicted, np.arange(len(gold)),
                                          draws.counts("a", len(gold)), [])
    assert width(clustered) / width(independent) == pytest.approx(2, rel=0.15)


def test_draws_are_keyed_on_the_test_file_and_its_size():
    draws = bootstrap.SentenceDraws(50, 0)
    first = draws.counts(EWT_TEST, 100)
    assert (first.sum(axis=1) == 100).all(), "each resample draws n of the n sentences"
    assert (bootstrap.SentenceDraws(50, 0).counts(EWT_TEST, 100) == first).all()
    assert not (draws.counts("/data/ptb/test", 100) == first).all()
    assert not (bootstrap.SentenceDraws(50, 1).counts(EWT_TEST, 100) == first).all()


def test_tasks_on_one_test_file_are_paired_others_independent(tmp_path):
    sentence = np.repeat(np.arange(60), 3)
    arrays = labelled(0.8, sentence, np.random.default_rng(0))
    for task, test_file in (("upos", EWT_TEST), ("deps", EWT_TEST), ("relations", "/semeval")):
        write_record(tmp_path / task, task=task, test={"accuracy": 0.8}, arrays=arrays,
                     test_file=test_file, n_sentences=60)
    study = Study(load_records([tmp_path]), 200, 0)
    upos, deps, relations = (study.scores(study.groups("edge")[(t, "tiny", -1)])
                             for t in ("upos", "deps", "relations"))
    assert upos.draws == deps.draws != relations.draws
    assert (upos.samples == deps.samples).all(), "the same sentences drawn for both tasks"
    assert not (upos.samples == relations.samples).all()


def test_seeds_are_drawn_with_the_sentences(tmp_path):
    # three seeds far apart: the interval covers their spread, which sentences alone do not
    sentence = np.repeat(np.arange(400), 2)
    for seed, score in enumerate((0.70, 0.75, 0.80)):
        arrays = labelled(score, sentence, np.random.default_rng(seed))
        write_record(tmp_path / str(seed), seed=seed, test={"accuracy": score},
                     arrays=arrays, n_sentences=400)
    study = Study(load_records([tmp_path]), 400, 0)
    runs = study.groups("edge")[("upos", "tiny", -1)]
    pooled, one = study.scores(runs), study.scores(runs[:1])
    assert pooled.point == pytest.approx(0.75) and pooled.seeds == 3
    assert width(pooled.samples) > 1.5 * width(one.samples)
    found = bootstrap.interval(pooled.samples)
    assert found.lo < 0.72 and found.hi > 0.78


def test_seed_statistics_have_student_t_intervals():
    mean, lo, hi = bootstrap.seed_interval(np.array([1.0, 2.0, 3.0]))
    half = stats.t.ppf(0.975, 2) * 1.0 / math.sqrt(3)
    assert (mean, lo, hi) == pytest.approx((2.0, 2.0 - half, 2.0 + half))
    assert lo < 1.0 and hi > 3.0, "wider than the min-max of three seeds"
    mean, lo, hi = bootstrap.seed_interval(np.array([[0.2, 0.8]]))
    assert mean.tolist() == [0.2, 0.8] and np.isnan(lo).all() and np.isnan(hi).all()


def test_layer_weights_and_e_s_use_t_intervals(tmp_path):
    edge_layers(tmp_path, "upos", EARLY, EARLY, [0.1, 0.4, 0.3, 0.2], seeds=3)
    study = Study(load_records([tmp_path]), 100, 0)
    layers = layer_table(study, "edge")
    mix = [r for r in study.records if r.mode == "all"]
    weights = np.array([r.weights for r in mix])
    _, lo, hi = bootstrap.seed_interval(weights)
    assert layers["weight_lo"].tolist() == pytest.approx(lo.tolist())
    assert layers["weight_hi"].tolist() == pytest.approx(hi.tolist())
    row = expected_layers(study, "edge").iloc[0]
    _, lo, hi = bootstrap.seed_interval(np.array([r.center_of_gravity for r in mix]))
    assert (row["E_s_lo"], row["E_s_hi"]) == pytest.approx((lo, hi))


def test_mix_check_names_a_mix_that_loses_to_its_best_layer(tmp_path):
    # layer 2 alone scores 0.9; the mix over 0..2 only 0.7, far beyond the seeds' +-0.005
    edge_layers(tmp_path, "upos", [0.5, 0.6, 0.7, 0.92], [0.5, 0.55, 0.9, 0.8],
                [0.1, 0.2, 0.3, 0.4], seeds=3)
    study = Study(load_records([tmp_path]), 200, 0)
    table = mix_check(study, "edge").set_index("layer")
    assert table.index.tolist() == [1, 2, 3]  # at l = 0 the mix is layer 0 itself
    assert table["best_layer"].tolist() == [1, 2, 2]
    assert table.loc[2, "shortfall"] == pytest.approx(0.7 - 0.9, abs=0.01)
    assert table.loc[2, "shortfall_hi"] < 0
    def scores(mode, layer):
        return np.array([r.score for r in sorted(study.records, key=lambda r: r.seed)
                         if r.mode == mode and r.layer == layer])
    _, lo, hi = bootstrap.seed_interval(scores("cumulative", 2) - scores("single", 2))
    assert table.loc[2, "seed_noise"] == pytest.approx((hi - lo) / 2)
    assert table["loses"].tolist() == [False, True, False]
    assert table["beyond_seed_noise"].tolist() == [False, True, False]
    [note] = [n for n in mix_check_notes(Notes(study)) if "loses to its best layer" in n]
    assert "upos (tiny) at l = 2." in note


def test_mix_check_cannot_judge_one_seed(tmp_path):
    edge_layers(tmp_path, "upos", [0.5, 0.6], [0.5, 0.9], [0.5, 0.5], seeds=1)
    study = Study(load_records([tmp_path]), 50, 0)
    table = mix_check(study, "edge")
    assert table["loses"].isna().all() and table["seed_noise"].isna().all()
    assert any("cannot be told" in n for n in mix_check_notes(Notes(study)))


def test_e_delta_tenney_and_clipped_by_hand():
    # deltas 0.1, -0.05, 0.15: Tenney (0.1 - 0.1 + 0.45) / 0.2; clipped (0.1 + 0.45) / 0.25
    scores = [0.5, 0.6, 0.55, 0.7]
    assert cumulative_expected_layer(scores) == pytest.approx(2.25)
    assert cumulative_expected_layer(scores, clipped=True) == pytest.approx(2.2)
    assert normalised_depth(2.25, 4) == pytest.approx(0.625)
    assert normalised_depth(1.0, 4) == 0 and normalised_depth(3.0, 4) == 1
    # no total gain: Tenney's has no value; the clipped one still locates the positive gain
    assert math.isnan(cumulative_expected_layer([0.5, 0.6, 0.5]))
    assert cumulative_expected_layer([0.5, 0.6, 0.5], clipped=True) == pytest.approx(1.0)
    assert math.isnan(cumulative_expected_layer([0.5, 0.5, 0.5], clipped=True))


def test_undefined_e_delta_is_printed_and_counted(tmp_path):
    edge_layers(tmp_path / "runs", "upos", EARLY, EARLY, [0.25] * 4, seeds=2)
    edge_layers(tmp_path / "runs", "deps", FLAT, FLAT, [0.25] * 4, seeds=2)
    out = tmp_path / "out"
    report([tmp_path / "runs"], out, 200, 0)
    table = pd.read_csv(out / "expected_layers.csv").set_index("task")
    assert table.loc["upos", "E_delta_defined"] and table.loc["upos", "gain_lo"] > 0
    assert table.loc["upos", "E_delta_undefined_share"] == 0
    assert not table.loc["deps", "E_delta_defined"]
    assert table.loc["deps", "gain_lo"] < 0 < table.loc["deps", "gain_hi"]
    # the CSV says how many resamples had no value
    assert 0 < table.loc["deps", "E_delta_undefined_share"] < 1
    # undefined in the CSV too: no number a reader could take for an expected layer
    assert table.loc["deps", ["E_delta", "E_delta_clipped", "depth", "E_delta_lo"]].isna().all()
    rows = {line.split("|")[1].strip(): line for line in
            (out / "expected_layers.md").read_text().splitlines() if line.startswith("| ")}
    assert rows["deps"].count("undefined") == 4, "E_delta, clipped and both depths"
    assert "undefined" not in rows["upos"]
    assert "undefined" in (out / "overview.tex").read_text()
    upos = table.loc["upos"]
    assert upos["depth"] == pytest.approx((upos["E_delta"] - 1) / (4 - 1 - 1))


def test_orders_are_tested_with_holm(tmp_path):
    for task, scores, test_file in (("upos", EARLY, EWT_TEST), ("deps", EARLY, EWT_TEST),
                                    ("relations", LATE, "/semeval/test")):
        edge_layers(tmp_path / "runs", task, scores, scores, [0.25] * 4, seeds=3,
                    n_sentences=400, test_file=test_file)
    study = Study(load_records([tmp_path / "runs"]), 1000, 0)
    orders = order_table(study, "edge").set_index(["measure", "task_a", "task_b"])
    assert len(orders) == 2 * 3
    early_late = orders.loc[("E_delta", "upos", "relations")]
    assert early_late["p_a_below_b"] == 1.0 and early_late["holds"]
    assert early_late["order"] == "upos < relations" and not early_late["paired"]
    same = orders.loc[("E_delta", "upos", "deps")]
    assert same["paired"] and not same["holds"] and same["order"] == "not supported"
    tenney = orders.loc["E_delta"].sort_values("p_value")
    m = len(tenney)
    expected = np.maximum.accumulate(np.minimum(1, (m - np.arange(m)) * tenney["p_value"]))
    assert tenney["p_holm"].tolist() == pytest.approx(expected.tolist())
    assert study.resamples == resamples_needed(3) == 1199  # 3 pairs: more than the 1000 asked
    assert (tenney["p_value"] >= 2 / (study.resamples + 1) - 1e-12).all()
    assert tenney["p_value"].min() < 2 / 1001  # below the floor of the 1000 asked
    report([tmp_path / "runs"], tmp_path / "out", 300, 0)
    assert "\\caption" in (tmp_path / "out" / "orders.tex").read_text()


def test_enough_resamples_are_drawn_that_holms_floor_decides_no_order(tmp_path):
    assert resamples_needed(0) == 0
    assert resamples_needed(28) == 11199  # Tenney's 8 tasks
    assert holm_floor(28, 11199) <= 0.005 < holm_floor(28, 1000)
    for task in ("upos", "deps", "consts"):
        edge_layers(tmp_path / task, task, EARLY, EARLY, [0.25] * 4, seeds=1)
    study = Study(load_records([tmp_path]), 100, 0)
    assert (study.requested, study.resamples) == (100, resamples_needed(3))
    assert len(study.draws.counts(EWT_TEST, 150)) == study.resamples
    assert Study(load_records([tmp_path]), 5000, 0).resamples == 5000


def test_p_value_and_holm_by_hand():
    assert bootstrap.bootstrap_p_value(np.array([1.0] * 99)) == pytest.approx(2 / 100)
    assert bootstrap.bootstrap_p_value(np.array([-1.0, 1.0])) == 1.0
    adjusted = bootstrap.holm(np.array([0.01, 0.04, np.nan, 0.03]))
    assert adjusted[[0, 3, 1]] == pytest.approx([0.03, 0.06, 0.06])
    assert np.isnan(adjusted[2])


def test_best_layer_is_chosen_on_dev(tmp_path):
    single = [0.70, 0.80, 0.85, 0.75]  # test peaks at layer 2
    edge_layers(tmp_path, "upos", EARLY, single, [0.25] * 4, seeds=2,
                dev_shift=[0.0, 0.1, 0.0, 0.0])  # dev peaks at layer 1
    study = Study(load_records([tmp_path]), 100, 0)
    row = overview(study, "edge").iloc[0]
    assert row["best_layer"] == 1
    layer_1 = [r.score for r in study.records if r.mode == "single" and r.layer == 1]
    assert row["best_single"] == pytest.approx(np.mean(layer_1))


def test_selectivity_is_shown_with_the_seen_share(tmp_path):
    edge_layers(tmp_path / "runs", "upos", EARLY, EARLY, [0.25] * 4, seeds=2, control=0.6,
                control_seen=0.91)
    edge_layers(tmp_path / "runs", "deps", LATE, LATE, [0.25] * 4, seeds=2, control=0.5)
    out = tmp_path / "out"
    report([tmp_path / "runs"], out, 100, 0)
    table = pd.read_csv(out / "overview.csv").set_index("task")
    assert table.loc["upos", "control_seen"] == 0.91
    assert table.loc["upos", "selectivity"] == pytest.approx(
        table.loc["upos", "mix"] - table.loc["upos", "control"])
    assert np.isnan(table.loc["deps", "control_seen"])
    lines = (out / "overview.md").read_text().splitlines()
    header = [c.strip() for c in lines[0].split("|")]
    column = header.index("control_seen")
    assert header[column - 1] == "selectivity", "the share stands beside selectivity"
    cells = {line.split("|")[2].strip(): line.split("|")[column].strip() for line in lines[2:]
             if line.startswith("| ")}
    assert cells == {"upos": "0.910", "deps": "–"}


def test_runs_without_predictions_are_noted(tmp_path, capsys):
    edge_layers(tmp_path / "runs", "upos", EARLY, EARLY, [0.25] * 4, seeds=1,
                save_predictions=False)
    out = tmp_path / "out"
    report([tmp_path / "runs"], out, 50, 0)
    table = pd.read_csv(out / "overview.csv")
    assert table["mix"].notna().all() and table["mix_lo"].isna().all()
    for name in ("overview.md", "layers.md", "expected_layers.md"):
        assert "Missing intervals: 9 of 9 runs saved no predictions.npz" in (
            out / name).read_text()
    assert not pd.read_csv(out / "runs.csv")["predictions"].any()
    assert "Missing intervals" in capsys.readouterr().out


def test_a_failed_run_folder_is_listed(tmp_path):
    edge_layers(tmp_path / "runs", "upos", EARLY, EARLY, [0.25] * 4, seeds=1)
    failed = tmp_path / "runs" / "crashed"
    failed.mkdir()
    (failed / "run.log").write_text("[ERROR] out of memory\n")
    out = tmp_path / "out"
    report([tmp_path / "runs"], out, 50, 0)
    listed = pd.read_csv(out / "failures.csv")
    assert listed["folder"].tolist() == [str(failed)]
    assert "run.log" in listed["first_line"].iloc[0]
    # only failed runs: the failures are written, and nothing else
    assert report([failed], tmp_path / "only", 50, 0) is None
    assert (tmp_path / "only" / "failures.md").is_file()
    assert not (tmp_path / "only" / "overview.csv").exists()


def test_each_table_says_what_was_resampled(tmp_path):
    edge_layers(tmp_path / "runs", "upos", EARLY, EARLY, [0.25] * 4, seeds=2)
    out = tmp_path / "out"
    report([tmp_path / "runs"], out, 80, 3)
    for table in ("overview", "layers", "expected_layers", "summary"):
        text = (out / f"{table}.md").read_text()
        assert "cluster bootstrap, 80 resamples (seed 3) of test sentences" in text, table
        assert "all: 2" in text and "single: 2" in text, "the seeds per configuration"
        assert "\\caption{" in (out / f"{table}.tex").read_text()
        sidecar = pd.read_json(out / f"{table}.json", typ="series")
        assert sidecar["resamples"] == 80 and sidecar["bootstrap_seed"] == 3
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["interval"]) == {"sentences x seeds"}
