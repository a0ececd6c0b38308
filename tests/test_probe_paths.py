"""The probe's less travelled paths on hand-made activations: two spans, several labels a span,
and the trainer's patience, learning-rate decay and best-epoch restore."""

import numpy as np
import pytest
import torch

from probing.errors import ProbingError
from probing.features import Activations
from probing.probes.edge import EdgeProbe
from probing.probes.scalar_mix import AllLayers
from probing.probes.spans import SpanTable
from probing.probes.train import Split, Trainer
from probing.tasks import Example, LabelVocab, Target
from probing.tasks.labels import MultiLabel, SingleLabel

DIM, N_LAYERS = 8, 2


def activations(lengths: list[int], vectors: np.ndarray | None = None) -> Activations:
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    if vectors is None:
        vectors = np.arange(offsets[-1] * N_LAYERS * DIM, dtype=np.float16).reshape(
            offsets[-1], N_LAYERS, DIM)
    return Activations(vectors, offsets, {"key": "hand-made"})


def trainer(**changes) -> Trainer:
    settings = {"batch_size": 16, "lr": 1e-2, "weight_decay": 0.0, "max_epochs": 30,
                "patience": 5, "lr_decay": 0.5, "eval_batch_size": 64, "min_epoch_targets": 0,
                "device": "cpu"}
    return Trainer(**{**settings, **changes})


def edge_probe(n_labels: int, n_spans: int) -> EdgeProbe:
    torch.manual_seed(0)
    return EdgeProbe(n_layers=N_LAYERS, dim=DIM, n_labels=n_labels, n_spans=n_spans,
                     selection=AllLayers(), proj_dim=16, hidden_dim=16, dropout=0.0,
                     mix_layer_norm=False)


def test_two_span_table_points_each_span_at_its_own_rows():
    examples = [Example(["a", "b", "c"], [Target((0, 1), (1, 3), "x")]),
                Example(["d", "e"], [Target((1, 2), (0, 1), "y"), Target((0, 2), (0, 1), "x")])]
    acts = activations([3, 2])
    table = SpanTable.build(examples, acts, LabelVocab(["x", "y"]), 2, SingleLabel())
    assert table.spans[0].tolist() == [[0, 1], [4, 5], [3, 5]]
    assert table.spans[1].tolist() == [[1, 3], [3, 4], [3, 4]]
    assert table.labels.tolist() == [0, 1, 0]
    batch = table.batch(np.array([0, 1]), acts.vectors, "cpu")
    # rows read: 0 (span 1 of target 0), 1, 2 (its span 2), 4 and 3 (target 1): once each
    read = torch.from_numpy(acts.vectors[[0, 1, 2, 3, 4]]).float()
    torch.testing.assert_close(batch.layers, read)
    (positions1, mask1), (positions2, mask2) = batch.spans
    assert positions1[:, 0].tolist() == [0, 4] and mask1.tolist() == [[True], [True]]
    assert positions2.tolist()[0] == [1, 2] and positions2.tolist()[1][0] == 3
    assert mask2.tolist() == [[True, True], [True, False]]
    assert batch.labels.tolist() == [0, 1]


def test_sentence_batches_keep_sentences_whole_and_cover_every_target_once():
    table = SpanTable([np.zeros((7, 2), dtype=np.int64)], np.zeros(7, dtype=np.int64),
                      np.array([0, 3, 3, 4, 7]))  # sentences of 3, 0, 1 and 3 targets
    batches = table.sentence_batches(np.random.default_rng(0), batch_size=2)
    assert sorted(np.concatenate(batches).tolist()) == list(range(7))
    for batch in batches:
        for sentence in ((0, 1, 2), (3,), (4, 5, 6)):
            assert set(sentence) <= set(batch.tolist()) or not set(sentence) & set(batch.tolist())


def test_two_span_target_without_second_span_is_refused():
    examples = [Example(["a", "b"], [Target((0, 1), None, "x")], source="f.txt:3")]
    with pytest.raises(ProbingError, match=r"f\.txt:3.*2 span"):
        SpanTable.build(examples, activations([2]), LabelVocab(["x"]), 2, SingleLabel())


def random_split(rng: np.random.Generator, n_sentences: int, label_of) -> tuple[list, Split]:
    """Sentences of 4 random one-hot 'words'; each has one target (span1, span2) labelled by
    `label_of(word1, word2)`."""
    words = rng.integers(0, DIM, size=(n_sentences, 4))
    vectors = np.zeros((n_sentences * 4, N_LAYERS, DIM), dtype=np.float16)
    vectors[np.arange(n_sentences * 4), :, words.ravel()] = 1.0
    examples = []
    for row in words:
        first, second = rng.choice(4, size=2, replace=False)
        examples.append(Example([str(w) for w in row], [Target(
            (int(first), int(first) + 1), (int(second), int(second) + 1),
            label_of(row[first], row[second]))]))
    return examples, activations([4] * n_sentences, vectors)


def test_two_span_probe_learns_a_label_that_depends_on_the_second_span_only():
    rng = np.random.default_rng(0)
    label_of = lambda w1, w2: "even" if w2 % 2 == 0 else "odd"  # noqa: E731
    (train, train_acts), (dev, dev_acts) = (random_split(rng, n, label_of) for n in (400, 100))
    vocab = LabelVocab.from_examples(train)
    splits = [Split(SpanTable.build(ex, acts, vocab, 2, SingleLabel()), acts.vectors)
              for ex, acts in ((train, train_acts), (dev, dev_acts))]
    probe = edge_probe(len(vocab), n_spans=2)
    trainer(max_epochs=15).fit([probe], *splits, SingleLabel(), vocab.labels, seed=0)
    [scores] = trainer().evaluate([probe], splits[1], SingleLabel(), vocab.labels)
    assert scores["accuracy"] > 0.95


def test_multi_label_probe_predicts_every_label_of_a_span():
    rng = np.random.default_rng(1)

    def labels_of(w1, w2):  # 0, 1 or 2 labels a span: a word can be small, even, both or none
        return tuple(name for name, holds in (("even", w1 % 2 == 0), ("small", w1 < 4)) if holds)

    (train, train_acts), (dev, dev_acts) = (random_split(rng, n, labels_of) for n in (400, 100))
    vocab = LabelVocab.from_examples(train)
    assert vocab.labels == ["even", "small"]
    multi = MultiLabel()
    splits = [Split(SpanTable.build(ex, acts, vocab, 1, multi), acts.vectors)
              for ex, acts in ((train, train_acts), (dev, dev_acts))]
    assert splits[0].table.labels.shape == (400, 2)
    assert set(np.unique(splits[0].table.labels.sum(axis=1))) == {0, 1, 2}
    probe = edge_probe(len(vocab), n_spans=1)
    trainer(max_epochs=15).fit([probe], *splits, multi, vocab.labels, seed=0)
    [scores] = trainer().evaluate([probe], splits[1], multi, vocab.labels)
    assert scores["micro_f1"] > 0.95 and scores["exact_match"] > 0.9


def test_multi_label_scores_count_label_decisions():
    gold = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 0]])
    predicted = np.array([[1, 0, 0], [0, 1, 1], [0, 0, 0]])
    scores = MultiLabel().score(gold, predicted, ["a", "b", "c"])
    # decisions: tp = 2 (a in row 0, b in row 1), fp = 1 (c in row 1), fn = 1 (b in row 0)
    assert scores["micro_f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    assert scores["exact_match"] == pytest.approx(1 / 3)
    # per label F1: a 1.0, b 2/3 (P 1, R 1/2), c 0.0 (predicted, never gold)
    assert scores["macro_f1"] == pytest.approx((1 + 2 / 3 + 0) / 3)


class ScriptedDev(SingleLabel):
    """A labeling whose dev score follows a script, recording the probe's weights each time."""

    def __init__(self, probe: EdgeProbe, script: list[float]) -> None:
        self.probe, self.script, self.snapshots = probe, list(script), []

    def score(self, gold, predicted, labels):
        self.snapshots.append({k: v.clone() for k, v in self.probe.state_dict().items()})
        return {"accuracy": self.script.pop(0)}


def test_trainer_halves_lr_on_plateau_stops_after_patience_and_restores_best_epoch():
    rng = np.random.default_rng(2)
    examples, acts = random_split(rng, 64, lambda w1, w2: str(w1 % 2))
    vocab = LabelVocab.from_examples(examples)
    split = Split(SpanTable.build(examples, acts, vocab, 1, SingleLabel()), acts.vectors)
    probe = edge_probe(len(vocab), n_spans=1)
    dev = ScriptedDev(probe, [0.5, 0.7, 0.6, 0.65, 0.69, 0.1, 0.1])
    [history] = trainer(lr=0.1, patience=3, lr_decay=0.5).fit([probe], split, split, dev,
                                                            vocab.labels, seed=0)
    # epochs 3, 4 and 5 do not beat epoch 2: the rate halves after 3 and 4, training stops at 5
    assert [h["epoch"] for h in history] == [1, 2, 3, 4, 5]
    assert [h["lr"] for h in history] == [0.1, 0.1, 0.1, 0.05, 0.025]
    best = dev.snapshots[1]
    for name, value in probe.state_dict().items():
        torch.testing.assert_close(value, best[name])
    assert any(not torch.equal(dev.snapshots[4][k], best[k]) for k in best)


@pytest.mark.parametrize(("setting", "value"), [
    ("batch_size", 0), ("batch_size", -5), ("eval_batch_size", 0), ("max_epochs", 0),
    ("lr", -1.0), ("lr", 0.0), ("lr_decay", 1.5), ("patience", 0)])
def test_trainer_refuses_out_of_range_settings(setting, value):
    with pytest.raises(ProbingError, match=rf"trainer\.{setting}={value} is out of range"):
        trainer(**{setting: value})
