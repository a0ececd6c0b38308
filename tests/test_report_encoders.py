"""The cross-encoder tables on hand-made records: an encoder whose cumulative gains all come at
layer 1 (depth 0), one whose gains come at its top layer (depth 1) and that one's random-weights
twin; the depths, the pretraining gain over the twin and the tested difference are known."""

import dataclasses

import numpy as np
import pytest
from helpers import fake_record

from probing.report.collect import load_records
from probing.report.encoders import encoder_differences, encoder_table
from probing.report.study import Study

N_LAYERS = 4  # layers 0..3: the top layer L is 3


def write_encoder(root, encoder: str, cumulative: list[float], mix: float,
                  random_init: bool = False, seeds: int = 2) -> None:
    config = {"encoder": {"name": encoder, "name_or_path": "/models/same-model",
                          "random_init": random_init, "seed": 0}}
    for seed in range(seeds):
        runs = [("all", {"score": mix})]
        for layer, score in enumerate(cumulative):
            runs += [(f"{mode}-{layer}", {"mode": mode, "layer": layer, "score": score})
                     for mode in ("cumulative", "single")]
        for name, kwargs in runs:
            folder = root / f"{encoder}-{seed}" / name
            made = fake_record(folder, encoder=encoder, n_layers=N_LAYERS, seed=seed,
                               n_test=400, n_sentences=80, **kwargs)
            dataclasses.replace(made, config=config).write(folder)


@pytest.fixture
def study(tmp_path):
    write_encoder(tmp_path, "shallow", [0.5, 0.9, 0.9, 0.9], mix=0.9)
    write_encoder(tmp_path, "deep", [0.5, 0.5, 0.5, 0.9], mix=0.9)
    write_encoder(tmp_path, "deep-random", [0.5, 0.6, 0.6, 0.6], mix=0.6, random_init=True)
    return Study(load_records([tmp_path]), 2000, 0)


def test_encoder_table_puts_every_encoder_on_one_scale(study):
    table = encoder_table(study, "edge").set_index("encoder")
    assert table.loc["shallow", "depth"] == pytest.approx(0.0)
    assert table.loc["deep", "depth"] == pytest.approx(1.0)
    assert table.loc["deep-random", "twin"] and not table.loc["deep", "twin"]
    assert table.loc["deep", "mix_minus_P0"] == pytest.approx(0.4)
    # the twin shares the model settings, so both trained encoders find it; its own row has none
    assert table.loc["deep", "twin_encoder"] == "deep-random"
    assert table.loc["deep", "trained_minus_twin"] == pytest.approx(0.3)
    assert table.loc["deep", "trained_minus_twin_lo"] > 0
    assert np.isnan(table.loc["deep-random", "trained_minus_twin"])
    # uniform weights over 4 layers: E_s = 1.5, on the 0..1 scale 1.5 / 3
    assert table.loc["deep", "E_s_relative"] == pytest.approx(0.5)


def test_encoder_differences_are_tested_per_task(study):
    differences = encoder_differences(study, "edge")
    [pair] = differences.to_dict("records")  # the twin is not compared
    assert {pair["encoder_a"], pair["encoder_b"]} == {"deep", "shallow"}
    assert abs(pair["difference"]) == pytest.approx(1.0)
    assert pair["paired"] and pair["holds"]
    assert pair["finding"] == "shallow shallower"
    assert pair["p_holm"] == pytest.approx(2 / (study.resamples + 1))


def test_one_encoder_writes_no_comparison(tmp_path):
    write_encoder(tmp_path, "shallow", [0.5, 0.9, 0.9, 0.9], mix=0.9)
    study = Study(load_records([tmp_path]), 200, 0)
    assert encoder_table(study, "edge").empty and encoder_differences(study, "edge").empty
