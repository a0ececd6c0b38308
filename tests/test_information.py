"""Conditional V-information per layer (Hewitt et al. 2021) from the cumulative probes' test
bits: trained on hand-made layers whose information is known, and the report's tables on
hand-made records."""

from types import SimpleNamespace

import numpy as np
import pytest
from helpers import activations, fake_record, trainer

from probing.probes.edge import EdgeProbe
from probing.report.collect import load_records
from probing.report.information import information_layers, information_summary
from probing.report.study import Study
from probing.runs.inputs import Inputs
from probing.runs.record import Predictions
from probing.runs.selection import CumulativeLayers
from probing.tasks import LabelVocab
from probing.tasks.base import Example, Target

LAYERS, DIM = 4, 8


def split(rng, n: int, label_of) -> tuple[list[Example], object]:
    """One-word sentences carrying two random bits (a, b): layers 0 and 1 hold a (one-hot),
    layers 2 and 3 hold a and b; the label is `label_of(a, b)`."""
    a, b = rng.integers(0, 2, n), rng.integers(0, 2, n)
    vectors = np.zeros((n, LAYERS, DIM), dtype=np.float16)
    vectors[np.arange(n), :2, a] = 1.0
    vectors[np.arange(n), 2:, 2 + 2 * a + b] = 1.0
    examples = [Example([f"w{i}"], [Target((0, 1), None, label_of(x, y))])
                for i, (x, y) in enumerate(zip(a, b, strict=True))]
    return examples, activations([1] * n, vectors)


def bits_by_layer(label_of, seed: int = 0) -> tuple[float, list[float]]:
    """H_V(Y | nothing) and H_V(Y | 0..l) for l = 0..3, on 600 test targets."""
    rng = np.random.default_rng(seed)
    splits = {name: split(rng, n, label_of) for name, n in
              (("train", 1200), ("dev", 300), ("test", 600))}
    vocab = LabelVocab.from_examples(splits["train"][0])
    from probing.tasks.labels import SingleLabel

    inputs = Inputs(SimpleNamespace(labeling=SingleLabel(), n_spans=1),
                    SimpleNamespace(n_layers=LAYERS, dim=DIM),
                    {s: ex for s, (ex, _) in splits.items()},
                    {s: acts for s, (_, acts) in splits.items()}, vocab)
    family = EdgeProbe(proj_dim=16, hidden_dim=16, dropout=0.0, mix_layer_norm=False,
                       mix_lr_scale=30)
    outcomes = family.run(inputs, [CumulativeLayers(layer) for layer in range(LAYERS)],
                          trainer(max_epochs=15, lr=1e-2), seed)
    null = outcomes[0].fields["null_cross_entropy_bits"]
    return null, [o.fields["cross_entropy_bits"]["test"] for o in outcomes]


def test_layer_2_adds_the_one_bit_it_holds():
    null, h = bits_by_layer(lambda a, b: f"{a}{b}")
    added = [null - h[0], *(h[l - 1] - h[l] for l in range(1, LAYERS))]  # noqa: E741
    assert null == pytest.approx(2.0, abs=0.02), "four labels, equally likely"
    assert added == pytest.approx([1.0, 0.0, 1.0, 0.0], abs=0.1)


def test_a_label_the_layers_do_not_hold_has_no_bits():
    labels = iter(np.random.default_rng(9).integers(0, 2, 10_000))
    null, h = bits_by_layer(lambda a, b: str(next(labels)))
    assert null - h[-1] == pytest.approx(0.0, abs=0.05)
    assert max(abs(null - x) for x in h) < 0.05


def write_bits(folder, layer: int | None, bits: np.ndarray, null: np.ndarray, seed: int = 0):
    """A cumulative record whose test targets cost `bits` each (20 sentences of 10)."""
    record = fake_record(folder, mode="cumulative", layer=layer, n_layers=LAYERS, seed=seed,
                         n_test=200, n_sentences=20)
    record.family_fields.update(cross_entropy_bits={"dev": 0.0, "test": float(bits.mean())},
                                null_cross_entropy_bits=float(null.mean()))
    record.write(folder)
    arrays = Predictions.load(folder).arrays
    Predictions({**arrays, "nll_bits": bits, "null_nll_bits": null}).save(folder)


def test_the_tables_give_each_layers_bits_with_intervals(tmp_path):
    rng = np.random.default_rng(0)
    null = np.full(200, 2.0, dtype=np.float32)
    for seed in range(2):
        noise = rng.normal(0, 0.05, 200).astype(np.float32)
        for layer, mean in enumerate([1.0, 1.0, 0.0, 0.0]):
            write_bits(tmp_path / f"s{seed}" / f"cumulative-{layer}", layer,
                       np.float32(mean) + noise, null, seed)
    study = Study(load_records([tmp_path]), 500, 0)
    layers = information_layers(study, "edge")
    # layer 0 against the null carries the noise of the targets' bits; the rest is exact
    assert layers["I"].tolist() == pytest.approx([1.0, 0.0, 1.0, 0.0], abs=0.02)
    assert layers["I"][1] == layers["I"][3] == 0.0
    assert layers["I_lo"][0] < layers["I"][0] < layers["I_hi"][0]
    assert layers["I_hi"][0] - layers["I_lo"][0] < 0.05, "targets' noise, 200 of them"
    [summary] = information_summary(study, "edge").to_dict("records")
    assert summary["H_null"] == pytest.approx(2.0)
    assert summary["total_bits"] == pytest.approx(2.0, abs=0.02)
    assert summary["bits_above_0"] == pytest.approx(1.0, abs=1e-6)
    assert summary["E_delta_bits"] == pytest.approx(2.0), "all of it at layer 2"
    assert summary["depth_bits"] == pytest.approx(0.5)
