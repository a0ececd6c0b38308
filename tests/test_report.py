"""The cross-run report: records in, tables and figures out."""

import math

import pytest

from probing.errors import ProbingError
from probing.report.__main__ import report
from probing.report.record import write_record
from probing.report.tables import (
    cumulative_expected_layer,
    expected_layers,
    layer_table,
    load_runs,
    summary,
)


def record(mode, layer, score, seed=0, weights=(0.2, 0.5, 0.3), step=None, task="upos"):
    encoder = {"name": "tiny"} | ({"step": step} if step is not None else {})
    return {"task": {"name": task, "metric": "accuracy"}, "encoder": encoder,
            "mix": {"mode": mode, "layer": layer}, "seed": seed,
            "metrics": {"test": {"accuracy": score}, "dev": {"accuracy": score - 0.01}},
            "center_of_gravity": sum(i * w for i, w in enumerate(weights)), "gamma": 1.0,
            "mixing_weights": list(weights)}


@pytest.fixture
def sweep(tmp_path):
    runs = [record("mix", None, 0.90, seed=0), record("mix", None, 0.92, seed=1,
                                                      weights=(0.1, 0.6, 0.3)),
            record("single", 0, 0.50), record("single", 1, 0.80), record("single", 2, 0.70),
            record("cumulative", 0, 0.50), record("cumulative", 1, 0.85),
            record("cumulative", 2, 0.90)]
    for i, run in enumerate(runs):
        (tmp_path / str(i)).mkdir()
        write_record(tmp_path / str(i), run)
    return tmp_path


def test_cumulative_expected_layer_by_hand():
    # delta_1 = 0.35, delta_2 = 0.05: E = (1 * 0.35 + 2 * 0.05) / 0.4
    assert cumulative_expected_layer([0.5, 0.85, 0.9]) == pytest.approx(0.45 / 0.4)
    # A missing cumulative score (NaN) leaves E_delta undefined: NaN, not a number from the rest.
    assert math.isnan(cumulative_expected_layer([0.5, float("nan"), 0.9]))
    assert math.isnan(cumulative_expected_layer([0.5])), "one layer: no delta"


def test_tables(sweep):
    runs = load_runs([sweep])
    assert len(runs) == 8
    mix = summary(runs).query("mode == 'mix'").iloc[0]
    assert mix["score"] == pytest.approx(0.91) and mix["seeds"] == 2
    layers = layer_table(runs)
    assert layers["weight"].tolist() == pytest.approx([0.15, 0.55, 0.3])
    assert layers["single"].tolist() == [0.5, 0.8, 0.7]
    assert layers["delta"].tolist()[1:] == pytest.approx([0.35, 0.05])
    expected = expected_layers(runs).iloc[0]
    assert expected["E_s"] == pytest.approx((1.1 + 1.2) / 2)
    assert expected["E_delta"] == pytest.approx(0.45 / 0.4)


def test_report_writes_tables_and_figures(sweep, tmp_path):
    out = tmp_path / "report"
    report([sweep], out)
    for name in ("runs.csv", "summary.md", "layers.csv", "expected_layers.md",
                 "layers_upos_tiny.png", "layers_upos_tiny.pdf"):
        assert (out / name).stat().st_size > 0, name


def test_report_against_pretraining_step(tmp_path):
    for step, score in ((100, 0.6), (200, 0.7), (400, 0.8)):
        for task in ("upos", "xpos"):
            folder = tmp_path / f"{task}-{step}"
            folder.mkdir()
            write_record(folder, record("mix", None, score, step=step, task=task))
    report([tmp_path], tmp_path / "report")
    assert (tmp_path / "report" / "against_step.png").stat().st_size > 0
    table = (tmp_path / "report" / "expected_layers.csv").read_text()
    assert "400" in table


def test_no_records_is_a_clear_error(tmp_path):
    with pytest.raises(ProbingError, match=r"no results\.json"):
        load_runs([tmp_path])


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
