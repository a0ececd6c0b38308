"""The structural probes as probe families: they learn trees that the activations encode, and
a run writes their records and per-sentence test statistics."""

from types import SimpleNamespace

import numpy as np
import pytest
from helpers import composed, probe_overrides, trainer

from probing.features import Activations
from probing.probes.structural import DepthProbe, DistanceProbe
from probing.run import probe_run
from probing.runs.inputs import Inputs
from probing.runs.record import Predictions
from probing.runs.selection import AllLayers, SingleLayer
from probing.tasks import Example, LabelVocab
from probing.tasks.base import DependencyTree
from probing.utils.errors import ProbingError

N_LAYERS, DIM = 2, 8


def chain_sentences(n: int, rng: np.random.Generator) -> tuple[list[Example], Activations]:
    """Sentences of 3 to 8 words whose tree is a chain (each word headed by the next); layer 1
    holds each word's position in the chain (so tree distance and depth are read off it
    linearly), layer 0 noise."""
    lengths = rng.integers(3, 9, size=n)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    vectors = rng.normal(size=(offsets[-1], N_LAYERS, DIM)).astype(np.float16)
    examples = []
    for length, start in zip(lengths, offsets[:-1], strict=True):
        vectors[start:start + length, 1] = 0
        vectors[start:start + length, 1, 0] = np.arange(length)[::-1] / 4  # depth / 4
        heads = (*range(1, length), -1)
        examples.append(Example([f"w{i}" for i in range(length)], [],
                                tree=DependencyTree(heads, (False,) * length)))
    return examples, Activations(vectors, offsets, {"key": "hand-made"})


def chain_inputs() -> Inputs:
    rng = np.random.default_rng(0)
    splits = {split: chain_sentences(n, rng) for split, n in
              (("train", 300), ("dev", 60), ("test", 60))}
    return Inputs(SimpleNamespace(), SimpleNamespace(n_layers=N_LAYERS, dim=DIM),
                  {s: ex for s, (ex, _) in splits.items()},
                  {s: acts for s, (_, acts) in splits.items()}, LabelVocab([]))


@pytest.mark.parametrize(("family", "metrics"), [
    (DistanceProbe(rank=4, mix_lr_scale=30), ("uuas", "dspr")),
    (DepthProbe(rank=4, mix_lr_scale=30), ("root_accuracy", "nspr"))])
def test_a_tree_the_layer_encodes_is_found_and_noise_is_not(family, metrics):
    noise, tree = family.run(chain_inputs(), [SingleLayer(0), SingleLayer(1)],
                             trainer(lr=0.01, max_epochs=30, patience=4), seed=0)
    assert family.report_metric == metrics[0] and tree.metric == metrics[0]
    for name in metrics:
        assert tree.metrics["test"][name] > 0.9, f"{name} of the layer that holds the tree"
        assert tree.metrics["test"][name] > noise.metrics["test"][name] + 0.2
    assert len(tree.test_arrays["sentence"]) == 60


def test_a_task_without_trees_is_refused():
    inputs = chain_inputs()
    inputs.examples["train"][3] = Example(["a", "b"], [], source="f.iob2:7")
    with pytest.raises(ProbingError, match=r"f\.iob2:7: the structural probes need a "
                                           r"dependency tree.*task=deps"):
        DistanceProbe(rank=4, mix_lr_scale=30).run(inputs, [AllLayers()], trainer(), seed=0)


@pytest.mark.parametrize(("probe", "columns"), [
    ("distance", {"uuas_correct", "uuas_total", "length", "spearman_sum", "spearman_count"}),
    ("depth", {"root_correct", "length", "nspr"})])
def test_a_run_writes_records_with_per_sentence_statistics(tiny_bert, treebank, tmp_path,
                                                           probe, columns):
    cfg = composed([*probe_overrides(tiny_bert, treebank, tmp_path / "cache"), "task=deps",
                    f"probe={probe}", "probe.rank=8", "mix=every", "mix.cumulative=false"])
    records = probe_run(cfg, tmp_path / "run")
    assert [r.mode + str(r.layer) for r in records] == ["allNone", "single0", "single1",
                                                        "single2"]
    for record in records:
        assert record.family == probe and 0 <= record.score <= 1
        saved = Predictions.load(record.folder)
        assert set(saved.arrays) == columns | {"sentence"}
        assert len(saved["sentence"]) == record.sizes["test"]["sentences"]
