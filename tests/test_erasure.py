"""Erasure probing (probing/probes/erasure): the eraser's samples, an eraser applied inside the
encoder, a whole erasure run on the tiny random BERT, and its report."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import task_files
from helpers import composed, probe_overrides
from transformers import BertConfig, BertForMaskedLM, BertForPreTraining, BertTokenizerFast

import probing.run as run
from probing.config.composed import task_named
from probing.encoders.base import LayerEdit
from probing.encoders.hf import HFEncoder
from probing.features import extract
from probing.models.masking import Masking
from probing.probes.edge.spans import SpanTable
from probing.probes.erasure.concept import concept_vectors, span_means
from probing.probes.erasure.erasers import leace
from probing.probes.erasure.report import (
    ErasureReport,
    erasure_objective,
    erasure_summary,
    erasure_table,
)
from probing.probes.trainer import Trainer
from probing.report.build import report
from probing.report.study import Study
from probing.run import probe_run
from probing.runs.inputs import Inputs
from probing.tasks.conllu import DependencyTask, POSTask
from probing.utils.errors import ProbingError

FEATURES = {"batch_size": 1024, "shard_size": 1024}


def test_span_means_are_the_means_of_their_words():
    vectors = np.random.default_rng(0).normal(size=(40, 3, 5)).astype(np.float16)
    spans = np.array([[0, 1], [3, 9], [9, 10], [12, 40], [5, 7]])
    means = span_means(vectors, spans, layer=2)
    expected = [vectors[start:end, 2].astype(np.float64).mean(0) for start, end in spans]
    np.testing.assert_allclose(means, np.stack(expected), rtol=1e-12)


def test_each_span_of_a_two_span_target_is_a_sample_with_its_label():
    vectors = np.random.default_rng(1).normal(size=(12, 2, 4)).astype(np.float16)
    first, second = np.array([[0, 2], [4, 5], [6, 9]]), np.array([[2, 4], [9, 12], [5, 6]])
    table = type("Table", (), {"vectors": vectors, "spans": [first, second],
                               "labels": np.array([3, 1, 2])})()
    samples, labels = concept_vectors(table, 1, np.array([0, 2]))
    np.testing.assert_allclose(samples, np.concatenate(
        [span_means(vectors, first[[0, 2]], 1), span_means(vectors, second[[0, 2]], 1)]))
    assert labels.tolist() == [3, 2, 3, 2]


@pytest.fixture(scope="module")
def erasure_run(tiny_bert, treebank, tmp_path_factory):
    root = tmp_path_factory.mktemp("erasure")
    overrides = [*probe_overrides(tiny_bert, treebank, root / "cache"), "mix=every"]
    records = probe_run(composed([*overrides, "probe=erasure"]), root / "erasure")
    edge = probe_run(composed(overrides), root / "edge")
    return root, records, edge


def test_a_run_scores_each_probe_at_and_above_each_erased_layer(erasure_run):
    _, records, _ = erasure_run
    unedited = [r for r in records if r.family_fields["eraser"] == "none"]
    assert {(r.mode, r.layer) for r in unedited} == {
        ("all", None), *(("single", m) for m in range(3)), *(("cumulative", m) for m in range(3))}
    for layer in range(3):
        for eraser in ("leace", "random"):
            scored = {(r.mode, r.layer) for r in records
                      if r.family_fields["erased_layer"] == layer
                      and r.family_fields["eraser"] == eraser}
            assert scored == {("all", None), *(("single", m) for m in range(layer, 3))}, \
                "the mix and every layer's probe at or above the erased layer, none below"
    rank = {r.family_fields["eraser_rank"] for r in records if r.family_fields["erased_layer"]
            is not None}
    labels_in_train = len(records[0].labels)
    assert len(rank) == 1 and 0 < rank.pop() <= labels_in_train - 1


def test_the_unedited_probes_are_the_edge_probes_of_the_same_seed(erasure_run):
    _, records, edge = erasure_run
    by_name = {r.folder.name: r for r in edge}
    for r in records:
        if r.family_fields["eraser"] == "none":
            twin = by_name[r.folder.name]
            assert r.test == twin.test and r.dev == twin.dev
            assert r.weights == twin.weights


def test_erasing_the_labels_costs_their_probes_more_than_a_random_subspace(erasure_run):
    _, records, _ = erasure_run
    scores = {(r.family_fields["erased_layer"], r.family_fields["eraser"], r.mode, r.layer):
              r.score for r in records}
    for layer in range(3):
        erased, random = (scores[(layer, kind, "single", layer)] for kind in ("leace", "random"))
        assert erased < random - 0.3, (layer, erased, random)


def test_the_report_pairs_erased_random_and_unedited_scores(erasure_run):
    _, records, _ = erasure_run
    study = Study(records, resamples=200, seed=0)
    table = erasure_table(study)
    assert len(table) == sum(1 + 3 - layer for layer in range(3))
    scores = {(r.family_fields["erased_layer"], r.family_fields["eraser"], r.mode,
               -1 if r.layer is None else r.layer): r.score for r in records}
    unedited = {(r.mode, -1 if r.layer is None else r.layer): r.score for r in records
                if r.family_fields["eraser"] == "none"}
    for row in table.itertuples():
        probe = (row.probe, row.probe_layer)
        erased = scores[(row.erased_layer, "leace", *probe)]
        random = scores[(row.erased_layer, "random", *probe)]
        assert row.damage == pytest.approx(unedited[probe] - erased)
        assert row.control == pytest.approx(unedited[probe] - random)
        assert row.excess == pytest.approx(random - erased)
        assert row.excess_lo <= row.excess <= row.excess_hi
    summary = erasure_summary(study).set_index("erased_layer")
    here = table[(table.probe == "single") & (table.probe_layer == table.erased_layer)]
    assert summary.loc[here.erased_layer, "excess_here"].tolist() == pytest.approx(
        here.excess.tolist())
    above = table[(table.probe == "single") & (table.erased_layer == 0)
                  & (table.probe_layer > 0)]
    assert summary.loc[0, "excess_above"] == pytest.approx(above.excess.mean())
    assert np.isnan(summary.loc[2, "excess_above"]), "nothing is above the top layer"


def test_the_report_of_a_sweep_writes_the_erasure_tables(erasure_run, tmp_path):
    root, _, _ = erasure_run
    report([root / "erasure"], tmp_path / "report", resamples=100, seed=0)
    written = pd.read_csv(tmp_path / "report" / "erasure_summary.csv")
    assert set(written.erased_layer) == {0, 1, 2}
    assert (tmp_path / "report" / "erasure_tiny.png").is_file()
    information = pd.read_csv(tmp_path / "report" / "erasure_information.csv")
    assert information.layer.tolist() == [0, 1, 2], "the bits of the unedited prefixes only"


def test_an_eraser_inside_the_encoder_leaves_its_layer_linearly_guarded(tiny_bert, treebank,
                                                                        tmp_path):
    encoder = HFEncoder(tiny_bert, "tiny", "mean", None, None, "cpu", "float32", False, 0,
                        "error")
    inputs = Inputs.read(_task(treebank), encoder, str(tmp_path), FEATURES,
                         lambda *a: None)
    train = inputs.activations["train"]
    words = np.asarray(train.vectors[:, 1], dtype=np.float64)
    labels = SpanTable.build(inputs.examples["train"], train, inputs.vocab, 1,
                             inputs.task.labeling).labels  # one target a word
    eraser = leace(words, labels, len(inputs.vocab))
    with inputs.edited(eraser.at(1), "train") as edited:
        assert np.array_equal(edited.vectors[:, 0], train.vectors[:, 0]), "the layer below"
        erased = torch.from_numpy(np.asarray(edited.vectors[:, 1], dtype=np.float64))
        above_changed = not np.array_equal(edited.vectors[:, 2], train.vectors[:, 2])
    assert above_changed, "the layer above reads the erased states"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".scratch")] == [], \
        "the edited vectors are removed once used"
    onehot = torch.nn.functional.one_hot(torch.from_numpy(labels), len(inputs.vocab)).double()
    covariance = (erased - erased.mean(0)).T @ (onehot - onehot.mean(0)) / len(labels)
    before = torch.from_numpy(words - words.mean(0)).T @ (onehot - onehot.mean(0)) / len(labels)
    # float16 storage of the erased vectors leaves ~1e-3 of the covariance LEACE removed
    assert covariance.abs().max() < 2e-3 * before.abs().max()
    again = extract(encoder, [ex.words for ex in inputs.examples["train"]], tmp_path,
                    **FEATURES)
    assert again.reused and np.array_equal(again.vectors, train.vectors), \
        "the unedited cache is untouched"


def test_another_tasks_labels_are_erased_for_the_runs_probes(tiny_bert, treebank, tmp_path,
                                                             monkeypatch):
    deps = DependencyTask(subtypes="cut", **task_files("deps", "toy", *(
        str(treebank[split]) for split in ("train", "dev", "test"))))
    asked = []
    monkeypatch.setattr(run, "task_named", lambda cfg, name: asked.append(name) or deps)
    cfg = composed([*probe_overrides(tiny_bert, treebank, tmp_path / "cache"), "probe=erasure",
                    "mix=single", "mix.layer=2", "probe.layers=[1]", "probe.concepts=[deps]"])
    records = run.probe_run(cfg, tmp_path / "run")
    assert asked == ["deps"]
    erased = {(r.family_fields["concept"], r.family_fields["eraser"]): r for r in records
              if r.family_fields["eraser"] != "none"}
    assert set(erased) == {(c, e) for c in ("upos", "deps") for e in ("leace", "random")}
    assert erased[("deps", "leace")].folder.name == "single-2-erased1-leace-deps"
    assert erased[("deps", "leace")].task == "upos", "the run's task's probe is scored"
    ranks = {c: erased[(c, "leace")].family_fields["eraser_rank"] for c in ("upos", "deps")}
    assert ranks["deps"] != ranks["upos"], "each eraser fitted on its own task's labels"
    [unedited] = [r for r in records if r.family_fields["eraser"] == "none"]
    table = erasure_table(Study(records, resamples=50, seed=0)).set_index("concept")
    assert table.loc["deps", "damage"] == pytest.approx(
        unedited.score - erased[("deps", "leace")].score), "against the task's own probe"


def test_a_layer_the_encoder_lacks_is_refused_before_any_extraction(tiny_bert, treebank,
                                                                     tmp_path, monkeypatch):
    cfg = composed([*probe_overrides(tiny_bert, treebank, tmp_path / "cache"),
                    "probe=erasure", "probe.layers=[1,5]"])
    monkeypatch.setattr(Inputs, "read", lambda *a, **k: pytest.fail("inputs were read"))
    monkeypatch.setattr(Trainer, "fit", lambda *a, **k: pytest.fail("a probe was trained"))
    with pytest.raises(ProbingError, match=r"probe\.layers=\[1, 5\]: encoder tiny has layers "
                                           r"0\.\.2, so no layer 5"):
        probe_run(cfg, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def _task(treebank: dict) -> POSTask:
    return POSTask(column="upos", **task_files("upos", "toy", *(str(treebank[split]) for split
                                                                in ("train", "dev", "test"))))


def test_a_task_read_beside_the_run_has_the_runs_paths_and_is_no_control(tmp_path):
    cfg = composed([f"paths.data_dir={tmp_path}", "task.control=true", "seed=4"])
    deps = task_named(cfg, "deps")
    assert isinstance(deps, DependencyTask) and not deps.control and deps.control_seed == 4
    assert Path(deps.train).parent == tmp_path / "ud-english-ewt"


@pytest.fixture(scope="module")
def tiny_pretrained(tiny_bert, tmp_path_factory) -> Path:
    """The tiny BERT with the masked-LM and next-sentence heads of a pretraining checkpoint
    (what probing.pretrain saves), random weights."""
    folder = tmp_path_factory.mktemp("tiny-pretrained")
    torch.manual_seed(1)
    BertForPreTraining(BertConfig.from_pretrained(tiny_bert)).eval().save_pretrained(folder)
    BertTokenizerFast.from_pretrained(tiny_bert).save_pretrained(folder)
    return folder


def _encoder(folder: Path) -> HFEncoder:
    return HFEncoder(folder, "tiny", "mean", None, None, "cpu", "float32", False, 0, "error")


SENTENCES = [["the", "cat", "sat", "on", "the", "mat"], ["a", "dog", "ran"],
             ["the", "dog", "sat", "on", "a", "cat", "and", "the", "cat", "ran"]]


def test_a_sentence_encoder_has_no_objective(tiny_bert):
    assert _encoder(tiny_bert).masked_lm(SENTENCES, seed=0) is None


def test_the_objective_is_the_models_own_masked_lm_loss(tiny_pretrained):
    encoder = _encoder(tiny_pretrained)
    scored = encoder.masked_lm(SENTENCES, seed=3)
    model = BertForMaskedLM.from_pretrained(tiny_pretrained).eval()
    masking = Masking(encoder.tokenizer.mask_token_id, len(encoder.tokenizer),
                      len(encoder.tokenizer.all_special_ids), max_predictions=1000)
    for i, words in enumerate(SENTENCES):
        ids = np.array(encoder.tokenizer(words, is_split_into_words=True)["input_ids"])
        maskable = np.zeros(len(ids), dtype=bool)
        maskable[1:-1] = True
        inputs, positions, labels = masking(ids, maskable, np.random.default_rng([3, i]))
        target = torch.full((1, len(ids)), -100)
        target[0, torch.from_numpy(positions)] = torch.from_numpy(labels)
        with torch.no_grad():
            out = model(input_ids=torch.from_numpy(inputs)[None], labels=target)
        assert scored[i, 1] == len(labels) == max(1, round(0.15 * (len(ids) - 2)))
        assert scored[i, 0] == pytest.approx(out.loss.item() * len(labels), rel=1e-5)
        right = (out.logits[0, positions].argmax(-1) == torch.from_numpy(labels)).sum()
        assert scored[i, 2] == right.item()


def test_an_edit_reaches_the_objective_and_an_identity_changes_nothing(tiny_pretrained):
    encoder = _encoder(tiny_pretrained)
    clean = encoder.masked_lm(SENTENCES, seed=0)
    with encoder.edited(LayerEdit(1, lambda h: h, "identity")) as edited:
        assert np.array_equal(edited.masked_lm(SENTENCES, seed=0), clean)
    with encoder.edited(LayerEdit(1, lambda h: h * 0.0, "zero")) as edited:
        zeroed = edited.masked_lm(SENTENCES, seed=0)
    assert np.array_equal(zeroed[:, 1], clean[:, 1]), "the same masks"
    assert not np.allclose(zeroed[:, 0], clean[:, 0]), "the head reads the edited states"


def test_an_erasure_run_scores_the_encoders_own_objective(tiny_pretrained, treebank, tmp_path):
    cfg = composed([*probe_overrides(tiny_pretrained, treebank, tmp_path / "cache"),
                    "probe=erasure", "mix=single", "mix.layer=2", "probe.layers=[0,2]"])
    records = probe_run(cfg, tmp_path / "run")
    objective = {r.folder.name: r for r in records
                 if r.family_fields["measured"] == "masked_lm"}
    assert set(objective) == {"masked-lm", *(f"masked-lm-erased{layer}-{kind}" for layer
                                            in (0, 2) for kind in ("leace", "random"))}
    unedited = objective["masked-lm"]
    assert 0 <= unedited.test["mlm_accuracy"] <= 1 and unedited.test["mlm_loss"] > 0
    table = erasure_objective(Study(records, resamples=100, seed=0))
    assert table.erased_layer.tolist() == [0, 2]
    for row in table.itertuples():
        erased = objective[f"masked-lm-erased{row.erased_layer}-leace"].test["mlm_loss"]
        random = objective[f"masked-lm-erased{row.erased_layer}-random"].test["mlm_loss"]
        assert row.mlm_loss_excess == pytest.approx(erased - random)
        assert row.mlm_loss_excess_lo <= row.mlm_loss_excess <= row.mlm_loss_excess_hi
    assert len(erasure_table(Study(records, resamples=100, seed=0))) == 2, \
        "the probe tables leave the objective out"
    [mix] = [r for r in records if r.folder.name == "single-2"]
    report = ErasureReport()
    assert report.variant(unedited) == "measured=masked_lm, concept=upos, eraser=none"
    assert report.variant(mix) == "concept=upos, eraser=none", "set apart from the objective"


def test_a_layer_no_probe_reads_is_not_extracted_again(tiny_bert, treebank, tmp_path,
                                                        monkeypatch):
    cfg = composed([*probe_overrides(tiny_bert, treebank, tmp_path / "cache"), "probe=erasure",
                    "mix=single", "mix.layer=0", "probe.layers=[1,2]"])
    monkeypatch.setattr(Inputs, "edited", lambda *a: pytest.fail("extracted for no probe"))
    records = probe_run(cfg, tmp_path / "run")
    assert [r.family_fields["eraser"] for r in records] == ["none"]
