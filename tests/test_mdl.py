"""The MDL online code as a probe family: exactly the uniform code from a probe that learns
nothing, far better than uniform on separable data, and what its record says."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
from helpers import N_LAYERS, random_split, trainer

from probing.probes.edge import EdgeProbe
from probing.probes.mdl import OnlineCode
from probing.runs.inputs import Inputs
from probing.runs.selection import AllLayers, SingleLayer
from probing.tasks import LabelVocab
from probing.tasks.labels import SingleLabel

FRACTIONS = [0.1, 0.25, 0.5, 1.0]


def inputs(label_of, n_train: int = 200, seed: int = 0) -> Inputs:
    rng = np.random.default_rng(seed)
    splits = {split: random_split(rng, n, label_of)
              for split, n in (("train", n_train), ("dev", 60), ("test", 60))}
    vocab = LabelVocab.from_examples(splits["train"][0])
    task = SimpleNamespace(labeling=SingleLabel(), n_spans=1)
    encoder = SimpleNamespace(n_layers=N_LAYERS, dim=8)
    return Inputs(task, encoder, {s: ex for s, (ex, _) in splits.items()},
                  {s: acts for s, (_, acts) in splits.items()}, vocab)


def edge_probe() -> EdgeProbe:
    return EdgeProbe(proj_dim=16, hidden_dim=16, dropout=0.0, mix_layer_norm=False, mix_lr_scale=30)


class KnowsNothing(EdgeProbe):
    """An edge probe whose logits are always 0: every label equally likely."""

    def bank(self, inputs, layer_sets, seed):
        bank = super().bank(inputs, layer_sets, seed)
        forward = bank.forward
        bank.forward = lambda batch: forward(batch) * 0.0
        return bank


def test_a_probe_that_knows_nothing_costs_exactly_the_uniform_code():
    run = inputs(lambda w1, w2: "abcd"[w1 % 4])
    [outcome] = OnlineCode(KnowsNothing(proj_dim=16, hidden_dim=16, dropout=0.0,
                                        mix_layer_norm=False, mix_lr_scale=30), FRACTIONS, [0]).run(
        run, [AllLayers()], trainer(max_epochs=1), seed=0)
    fields = outcome.fields
    assert fields["uniform_bits"] == pytest.approx(200 * math.log2(4))
    # exactly, to float32's rounding of the logits
    assert fields["codelength_bits"] == pytest.approx(fields["uniform_bits"], rel=1e-6)
    assert outcome.metrics["test"]["compression"] == pytest.approx(1.0)
    assert [b["end"] for b in fields["blocks"]] == [20, 50, 100, 200]
    assert fields["blocks"][1]["bits"] == pytest.approx(30 * 2.0)
    assert fields["coded"] == "each target's label, one of 4"


def test_separable_labels_compress_far_and_every_layer_gets_a_code():
    run = inputs(lambda w1, w2: "even" if w1 % 2 == 0 else "odd", n_train=400)
    outcomes = OnlineCode(edge_probe(), FRACTIONS, [0]).run(
        run, [AllLayers(), SingleLayer(0), SingleLayer(1)], trainer(max_epochs=8), seed=0)
    assert [o.selection.name for o in outcomes] == ["all", "single-0", "single-1"]
    for outcome in outcomes:
        assert outcome.metric == "compression"
        assert outcome.metrics["test"]["compression"] > 3
        assert outcome.metrics["test"]["accuracy"] > 0.95, "the final probe learns the task"
        assert outcome.fields["codelength_bits"] < outcome.fields["uniform_bits"] / 3


def test_unlearnable_labels_do_not_compress():
    labels = dict(enumerate(np.random.default_rng(5).choice(["a", "b"], size=10_000)))
    counter = iter(range(10_000))
    run = inputs(lambda w1, w2: labels[next(counter)], n_train=300)
    [outcome] = OnlineCode(edge_probe(), FRACTIONS, [1]).run(run, [AllLayers()],
                                                        trainer(max_epochs=3), seed=1)
    assert outcome.metrics["test"]["compression"] < 1.15


def test_each_shuffling_seed_has_its_own_code_and_record():
    run = inputs(lambda w1, w2: "even" if w1 % 2 == 0 else "odd")
    first, second = OnlineCode(edge_probe(), FRACTIONS, [0, 1]).run(
        run, [AllLayers()], trainer(max_epochs=2), seed=0)
    assert (first.seed, first.name, second.seed, second.name) == (
        0, "all-shuffle0", 1, "all-shuffle1")
    assert first.fields["codelength_bits"] != second.fields["codelength_bits"]
    assert first.metrics["test"]["accuracy"] == second.metrics["test"]["accuracy"], \
        "one final probe scores every shuffle"
