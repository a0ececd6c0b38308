"""A report recomputed from itself: the records and per-sentence statistics it commits give the
same tables once the run folders and their predictions are gone."""

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from report_fakes import cka_run, edge_layers, mdl_layers, structural_layers, write_record

from probing.report.archive import RECORDS_NAME, STATISTICS_NAME, load_archive, write_archive
from probing.report.build import report
from probing.utils.errors import ProbingError

SEMEVAL = "probing.tasks.semeval.SemEvalLabeling"


def semeval_run(root, seed: int):
    """A relations-like run scored by the official SemEval score, from summed counts."""
    labels = ["Cause-Effect(e1,e2)", "Cause-Effect(e2,e1)", "Other"]
    rng = np.random.default_rng(seed)
    sentence = np.arange(120)
    gold = rng.integers(0, 3, 120)
    predicted = np.where(rng.random(120) < 0.7, gold, rng.integers(0, 3, 120))
    record = write_record(root / f"semeval-{seed}", task="relations", seed=seed,
                          metric="semeval_official_f1", test={"semeval_official_f1": 0.5},
                          labeling=SEMEVAL, arrays={"gold": gold, "predicted": predicted,
                                                    "sentence": sentence},
                          test_file="/semeval/test", n_sentences=120)
    dataclasses.replace(record, labels=labels).write(record.folder)


@pytest.fixture
def committed(tmp_path):
    runs = tmp_path / "runs"
    for task in ("upos", "deps"):
        edge_layers(runs / "edge", task, [0.7, 0.85, 0.9, 0.91], [0.7, 0.88, 0.86, 0.8],
                    [0.1, 0.4, 0.3, 0.2], seeds=3, n_sentences=60, control=0.5)
    structural_layers(runs / "structural", [0.3, 0.6, 0.7, 0.5], seeds=2)
    mdl_layers(runs / "mdl", [4.0, 12.0, 15.0, 10.0], task="deps")
    cka_run(runs / "cka")
    for seed in (0, 1):
        semeval_run(runs / "semeval", seed)
    first = tmp_path / "first"
    report([runs], first, 150, 0)
    shutil.rmtree(runs)  # from here on, the committed files alone
    return first


def test_a_committed_report_recomputes_every_table_from_itself(committed, tmp_path):
    again = tmp_path / "again"
    report([committed], again, 150, 0)
    tables = sorted(p.name for p in committed.glob("*.csv"))
    assert {"overview.csv", "layers.csv", "orders.csv", "mix_check.csv", "mdl.csv",
            "layer_profile.csv", "summary.csv"} <= set(tables)
    for name in tables:
        before, after = pd.read_csv(committed / name), pd.read_csv(again / name)
        pd.testing.assert_frame_equal(before, after, check_exact=True, obj=name)
    assert (committed / "orders.md").read_text() == (again / "orders.md").read_text()
    overview = pd.read_csv(again / "overview.csv").set_index("task")
    assert overview.loc[["upos", "deps"], ["mix_lo", "majority_lo", "selectivity_lo"]].notna(
        ).all().all()  # intervals recomputed, not just points copied
    assert np.isfinite(overview.loc["relations", "mix_lo"])  # the official score's sums


def test_the_committed_statistics_are_per_sentence_and_small(committed):
    records, statistics = load_archive(committed)
    assert len(records) == len({str(r.folder) for r in records})
    edge = [s for (run, name), s in statistics.items() if name == "accuracy" and "sums" in s]
    assert edge and all(s["sums"].shape == (60, 2) for s in edge)  # right, total a sentence
    assert any(name.startswith("baseline:") for _, name in statistics)
    assert any(s["sums"].shape == (120, 3) for (_, n), s in statistics.items()
               if n == "semeval_official_f1")  # correct, predicted, gold for one relation
    assert (committed / STATISTICS_NAME).stat().st_size < 200_000


def test_statistics_come_back_exactly_as_given(tmp_path):
    """Stacked over runs and stored as differences from the median, every array returns equal
    in dtype, shape and value: counts that differ by little and by much, values that are not
    counts, metrics of two shapes, and a run that has only some of them."""
    rng = np.random.default_rng(0)
    base = rng.integers(0, 40, (50, 2)).astype(float)
    statistics = {}
    for i, spread in enumerate([0, 1, 300, 2**20]):
        statistics[(f"runs/{i}", "accuracy")] = {
            "sums": base + rng.integers(-spread, spread + 1, base.shape)}
        statistics[(f"runs/{i}", "bits")] = {"sums": rng.random((50, 2)) * 3}
    statistics[("runs/0", "micro_f1")] = {"sums": np.zeros((7, 3)), "other": np.arange(4.0)}
    write_archive([], statistics, tmp_path)
    _, again = load_archive(tmp_path)
    assert again.keys() == statistics.keys()
    for key, parts in statistics.items():
        assert again[key].keys() == parts.keys()
        for name, array in parts.items():
            stored = again[key][name]
            integral = (array == np.round(array)).all()
            assert stored.dtype == (np.int32 if integral else array.dtype), (key, name)
            np.testing.assert_array_equal(stored, array)


def test_every_committed_study_keeps_its_statistics_small():
    """A study's statistics are committed beside its tables (issue 28: compressed, small)."""
    root = Path(__file__).parent.parent / "results"
    sizes = {p: p.stat().st_size for p in root.glob(f"**/{STATISTICS_NAME}")}
    assert sizes and all(size < 2_000_000 for size in sizes.values()), sizes


def test_a_damaged_archive_is_named(committed, tmp_path):
    (committed / RECORDS_NAME).write_bytes(b"not gzip")
    with pytest.raises(ProbingError, match=rf"{RECORDS_NAME}: not a report's records"):
        report([committed], tmp_path / "x", 150, 0)




def test_an_archived_run_never_reads_a_newer_runs_predictions(committed, tmp_path):
    """A sweep reuses its folders: a new run at an archived record's folder is not that run."""
    records, _ = load_archive(committed)
    upos = next(r for r in records if r.task == "upos" and r.mode == "all")
    write_record(upos.folder, task="upos", arrays={"gold": np.zeros(240, dtype=int),
                                                   "predicted": np.ones(240, dtype=int),
                                                   "sentence": np.repeat(np.arange(60), 4)})
    again = tmp_path / "again"
    report([committed], again, 150, 0)
    pd.testing.assert_frame_equal(pd.read_csv(committed / "overview.csv"),
                                  pd.read_csv(again / "overview.csv"))


def test_a_rerun_task_replaces_the_committed_reports(committed, tmp_path):
    """--leave-out deps: the committed deps records are dropped and the rerun's reported beside
    the other tasks, which stay as they were."""
    rerun = tmp_path / "rerun"
    edge_layers(rerun, "deps", [0.6, 0.7, 0.8, 0.9], [0.6, 0.7, 0.8, 0.9], [0.1, 0.2, 0.3, 0.4],
                seeds=3, n_sentences=60, control=0.5)
    again = tmp_path / "again"
    report([committed, rerun], again, 150, 0, left_out=frozenset({"deps"}))
    records, _ = load_archive(again)
    deps = {str(r.folder) for r in records if r.task == "deps"}
    assert deps and all(folder.startswith(str(rerun)) for folder in deps)
    before = pd.read_csv(committed / "overview.csv").set_index("task")
    after = pd.read_csv(again / "overview.csv").set_index("task")
    pd.testing.assert_series_equal(before.loc["upos"], after.loc["upos"])
    assert after.loc["deps", "best_layer"] == 3 != before.loc["deps", "best_layer"]


def test_leaving_out_a_task_no_report_holds_is_refused(committed, tmp_path):
    with pytest.raises(ProbingError, match="--leave-out consts: no committed report"):
        report([committed], tmp_path / "x", 150, 0, left_out=frozenset({"consts"}))
    assert not (tmp_path / "x").exists()


def test_a_report_and_its_own_runs_together_are_refused(committed, tmp_path):
    records, _ = load_archive(committed)
    write_record(records[0].folder, task=records[0].task)
    with pytest.raises(ProbingError, match="is read twice"):
        report([committed, records[0].folder], tmp_path / "x", 150, 0)


def test_missing_statistics_are_named(committed, tmp_path):
    (committed / STATISTICS_NAME).unlink()
    with pytest.raises(ProbingError, match=rf"{STATISTICS_NAME} is missing"):
        report([committed], tmp_path / "x", 150, 0)
