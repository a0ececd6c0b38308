"""The report beyond the edge probe: the layer profile (mixing weights beside MDL compression and
the structural probes' tree metrics), the MDL and CKA tables and figures; the edge tables read
edge records only."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from report_fakes import cka_run, edge_layers, mdl_layers, structural_layers, tree_statistics

from probing.probes.structural import metrics
from probing.probes.structural.report import tree_scores
from probing.report import bootstrap
from probing.report.build import report
from probing.report.collect import load_records
from probing.report.layer_profile import layer_profile
from probing.report.study import Study

CUMULATIVE = [0.70, 0.85, 0.90, 0.91]
QUALITY = [0.3, 0.6, 0.7, 0.5]
COMPRESSION = [4.0, 12.0, 15.0, 10.0]


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("families")
    for task in ("upos", "deps"):
        edge_layers(root / "edge", task, CUMULATIVE, CUMULATIVE, [0.1, 0.4, 0.3, 0.2],
                    seeds=2, n_sentences=80)
    structural_layers(root / "structural", QUALITY, seeds=2)
    mdl_layers(root / "mdl", COMPRESSION, task="deps")
    mdl_layers(root / "mdl", [1.5] * 4, task="deps", control=True)
    cka_run(root / "cka")
    cka_run(root / "cka-against", against="bert", other_layers=3)
    return root


@pytest.fixture(scope="module")
def written(study_dir):
    out = study_dir / "report"
    report([study_dir], out, 100, 0)
    return out


def test_structural_resamples_aggregate_like_the_probe():
    stats = tree_statistics(0.6, 40, np.random.default_rng(0), depth=False)
    ones = np.ones((1, 40), dtype=np.float32)
    assert tree_scores(stats, ones, "uuas")[0] == pytest.approx(metrics.uuas(stats))
    assert tree_scores(stats, ones, "dspr")[0] == pytest.approx(
        metrics.distance_spearman(stats))
    # a resample counts a drawn sentence as often as it is drawn
    counts = bootstrap.SentenceDraws(5, 0).counts("ewt", 40)
    by_hand = [metrics.uuas({k: np.repeat(v, row.astype(int)) for k, v in stats.items()})
               for row in counts]
    assert tree_scores(stats, counts, "uuas") == pytest.approx(by_hand)
    depth = tree_statistics(0.6, 40, np.random.default_rng(1), depth=True)
    by_hand = [metrics.depth_spearman({k: np.repeat(v, row.astype(int))
                                       for k, v in depth.items()}) for row in counts]
    assert tree_scores(depth, counts, "nspr") == pytest.approx(by_hand)


def test_edge_tables_read_edge_records_only(written):
    overview = pd.read_csv(written / "overview.csv")
    assert overview["task"].tolist() == ["upos", "deps"]
    assert len(pd.read_csv(written / "layers.csv")) == 2 * 4
    summary = pd.read_csv(written / "summary.csv")
    assert set(summary["family"]) == {"edge", "distance", "depth", "mdl", "cka"}
    seed_only = summary[summary["family"].isin(["mdl"])]
    assert set(seed_only["interval"]) == {"t over seeds"}
    assert set(summary.loc[summary["family"] == "cka", "interval"]) == {"none"}


def test_layer_profile(study_dir, written):
    profile = pd.read_csv(written / "layer_profile.csv")
    deps = profile[profile["task"] == "deps"].set_index("layer")
    assert deps["compression"].tolist() == pytest.approx(COMPRESSION)  # shuffles 0.98..1.02
    for layer, ratio in enumerate(COMPRESSION):
        values = np.array([0.98, 1.0, 1.02]) * ratio
        _, lo, hi = bootstrap.seed_interval(values)
        assert (deps.loc[layer, "compression_lo"], deps.loc[layer, "compression_hi"]) == \
            pytest.approx((lo, hi))
    records = load_records([study_dir])
    for family, metric in (("distance", "uuas"), ("distance", "dspr"),
                           ("depth", "root_accuracy"), ("depth", "nspr")):
        for layer in range(4):
            runs = [r for r in records if r.family == family and r.layer == layer]
            assert deps.loc[layer, metric] == pytest.approx(np.mean([r.test[metric]
                                                                     for r in runs]))
            assert deps.loc[layer, f"{metric}_lo"] <= deps.loc[layer, metric] + 1e-9
            assert deps.loc[layer, metric] <= deps.loc[layer, f"{metric}_hi"] + 1e-9
    assert deps["weight"].notna().all() and deps["single"].notna().all()
    upos = profile[profile["task"] == "upos"]
    assert upos["compression"].isna().all() and upos["uuas"].isna().all()
    assert (written / "layer_profile_deps_tiny.png").stat().st_size > 0
    assert not (written / "layer_profile_upos_tiny.png").exists(), "only edge runs for upos"
    assert "t(0.975, k-1)" in (written / "layer_profile.md").read_text()


def test_layer_profile_without_edge_runs(tmp_path):
    structural_layers(tmp_path, QUALITY, seeds=1)
    profile = layer_profile(Study(load_records([tmp_path]), 20, 0))
    assert "weight" not in profile, "no columns of a family that did not run"
    assert profile["uuas"].notna().all() and profile["root_accuracy"].notna().all()
    assert profile["uuas_lo"].notna().all(), "sentences are resampled with one seed too"


def test_mdl_table(study_dir, written):
    table = pd.read_csv(written / "mdl.csv")
    assert len(table) == 2 * 4 and table["seeds"].eq(3).all()
    task = table[~table["control"]].set_index("layer")
    control = table[table["control"]].set_index("layer")
    assert task["compression"].tolist() == pytest.approx(COMPRESSION)
    assert control["compression"].tolist() == pytest.approx([1.5] * 4)
    assert (task["codelength_kbits"] * task["compression"]).tolist() == pytest.approx(
        task["uniform_kbits"].tolist(), rel=1e-3)
    assert (task["codelength_kbits_lo"] < task["codelength_kbits"]).all()
    assert task["final_metric"].eq("accuracy").all()
    assert task["final_score"].tolist() == pytest.approx([0.5, 0.6, 0.7, 0.8])
    text = (written / "mdl.md").read_text()
    assert "What is coded: deps: each target's label, one of 4." in text


def test_cka_tables_and_heatmaps(written):
    cka = pd.read_csv(written / "cka.csv", keep_default_na=False)
    assert sorted(cka["against"]) == ["", "bert"]
    assert cka["adjacent_cka"].tolist() == pytest.approx([np.exp(-0.3)] * 2)
    cells = pd.read_csv(written / "cka_matrix.csv", keep_default_na=False)
    own = cells[cells["against"] == ""]
    assert len(own) == 16 and len(cells[cells["against"] == "bert"]) == 4 * 3
    assert own.query("layer_a == layer_b")["cka"].tolist() == pytest.approx([1.0] * 4)
    for name in ("cka_tiny_deps", "cka_tiny_deps_vs_bert"):
        assert (written / f"{name}.png").stat().st_size > 0, name


def test_a_record_names_its_report_or_its_family_class_does(tmp_path):
    from report_fakes import write_record

    from probing.report.family import report_name
    from probing.utils.errors import ProbingError

    record = write_record(tmp_path / "a", test={"accuracy": 0.5})
    assert report_name(record) == "probing.probes.edge.report.EdgeReport"
    # a record written before records named their report: its family class says
    older = dataclasses.replace(record, report=None,
                                config={"probe": {"_target_": "probing.probes.mdl.OnlineCode"}})
    assert report_name(older) == "probing.probes.mdl.report.MDLReport"
    with pytest.raises(ProbingError, match=r"names no family report .* rerun that run"):
        report_name(dataclasses.replace(record, report=None))
    write_record(tmp_path / "b", test={"accuracy": 0.5})
    moved = json.loads((tmp_path / "b" / "results.json").read_text())
    moved["probe"]["report"] = "nowhere.Report"
    (tmp_path / "b" / "results.json").write_text(json.dumps(moved))
    with pytest.raises(ProbingError, match=r"runs of probe family 'edge' name two reports"):
        Study(load_records([tmp_path]), 10, 0)
    (tmp_path / "a" / "results.json").unlink()
    with pytest.raises(ProbingError, match=r"the family report 'nowhere.Report' cannot be "
                                           r"loaded .* install the package that holds it"):
        Study(load_records([tmp_path]), 10, 0)
