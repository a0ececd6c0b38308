"""The trainer and the edge probe on hand-made activations: two spans, several labels a span,
patience, learning-rate decay and best-epoch restore per probe of a bank, Adam per probe,
and epochs of several passes over a small split."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from helpers import DIM, N_LAYERS, activations, random_split, trainer

from probing.probes.edge import EdgeProbe
from probing.probes.edge.spans import SpanTable
from probing.probes.optimizer import BankAdam, consecutive_runs
from probing.tasks import Example, LabelVocab, Target
from probing.tasks.labels import Labeling, MultiLabel, SingleLabel
from probing.utils.errors import ProbingError


def edge_family(labeling: Labeling, vocab: LabelVocab, n_spans: int) -> EdgeProbe:
    family = EdgeProbe(proj_dim=16, hidden_dim=16, dropout=0.0, mix_layer_norm=False,
                       mix_lr_scale=30)
    task = SimpleNamespace(labeling=labeling, n_spans=n_spans)
    family.prepare(SimpleNamespace(task=task, vocab=vocab,
                                   activations={"train": activations([3, 2])}))
    return family


def bank(family: EdgeProbe, n_labels: int, layer_sets=((0, 1),), seed: int = 0):
    inputs = SimpleNamespace(n_layers=N_LAYERS, dim=DIM, vocab=range(n_labels))
    return family.bank(inputs, list(layer_sets), seed)


def test_two_span_table_points_each_span_at_its_own_rows():
    examples = [Example(["a", "b", "c"], [Target((0, 1), (1, 3), "x")]),
                Example(["d", "e"], [Target((1, 2), (0, 1), "y"), Target((0, 2), (0, 1), "x")])]
    acts = activations([3, 2])
    table = SpanTable.build(examples, acts, LabelVocab(["x", "y"]), 2, SingleLabel())
    assert table.spans[0].tolist() == [[0, 1], [4, 5], [3, 5]]
    assert table.spans[1].tolist() == [[1, 3], [3, 4], [3, 4]]
    assert table.labels.tolist() == [0, 1, 0] and table.sentence.tolist() == [0, 1, 1]
    batch = table.batch(np.array([0, 1]), torch.device("cpu"))
    # rows read: 0 (span 1 of target 0), 1, 2 (its span 2), 4 and 3 (target 1): once each,
    # layer first
    read = torch.from_numpy(acts.vectors[[0, 1, 2, 3, 4]]).float().transpose(0, 1)
    torch.testing.assert_close(batch.layers, read)
    (positions1, mask1), (positions2, mask2) = batch.spans
    assert positions1[:, 0].tolist() == [0, 4] and mask1.tolist() == [[True], [True]]
    assert positions2.tolist()[0] == [1, 2] and positions2.tolist()[1][0] == 3
    assert mask2.tolist() == [[True, True], [True, False]]
    assert batch.labels.tolist() == [0, 1]


def test_batches_keep_sentences_whole_and_cover_every_target_once():
    sentence = np.array([0, 0, 0, 2, 3, 3, 3])  # sentences of 3, 0, 1 and 3 targets
    table = SpanTable([np.zeros((7, 2), dtype=np.int64)], np.zeros(7, dtype=np.int64), sentence,
                      np.zeros((1, 1, 1)))
    batches = table.batches(np.random.default_rng(0), batch_size=2)
    assert sorted(np.concatenate(batches).tolist()) == list(range(7))
    for batch in batches:
        for whole in ((0, 1, 2), (3,), (4, 5, 6)):
            assert set(whole) <= set(batch.tolist()) or not set(whole) & set(batch.tolist())
    subset = table.subset(np.array([6, 0, 4]))
    assert subset.sentence.tolist() == [0, 3, 3]


def test_two_span_target_without_second_span_is_refused():
    examples = [Example(["a", "b"], [Target((0, 1), None, "x")], source="f.txt:3")]
    with pytest.raises(ProbingError, match=r"f\.txt:3.*2 span"):
        SpanTable.build(examples, activations([2]), LabelVocab(["x"]), 2, SingleLabel())


def fitted_scores(labeling: Labeling, label_of, n_spans: int, seed: int,
                  precision: str = "fp32") -> dict[str, float]:
    rng = np.random.default_rng(seed)
    (train, train_acts), (dev, dev_acts) = (random_split(rng, n, label_of) for n in (400, 100))
    vocab = LabelVocab.from_examples(train)
    family = edge_family(labeling, vocab, n_spans)
    tables = [SpanTable.build(ex, acts, vocab, n_spans, labeling)
              for ex, acts in ((train, train_acts), (dev, dev_acts))]
    probes = bank(family, len(vocab))
    fit = trainer(max_epochs=15, precision=precision)
    fit.fit(probes, family, *tables, seed=0)
    [predicted] = fit.predict(probes, family, tables[1])
    return family.score(tables[1], predicted)


def test_evaluate_gives_each_probes_cross_entropy_in_bits_per_target():
    rng = np.random.default_rng(3)
    examples, acts = random_split(rng, 40, lambda w1, w2: "even" if w2 % 2 == 0 else "odd")
    vocab = LabelVocab.from_examples(examples)
    family = edge_family(SingleLabel(), vocab, 2)
    table = SpanTable.build(examples, acts, vocab, 2, SingleLabel())
    probes = bank(family, len(vocab), layer_sets=[(0, 1), (1,)])
    predicted, nll = trainer(eval_batch_size=7).evaluate(probes, family, table)
    with torch.no_grad():
        batch = table.batch(np.arange(len(table)), torch.device("cpu"))
        logits = probes.eval()(batch)
    for k in range(2):
        nats = torch.nn.functional.cross_entropy(logits[k], batch.labels, reduction="none")
        np.testing.assert_allclose(nll[k], nats.numpy() / np.log(2), rtol=1e-5, atol=1e-7)
        assert np.concatenate(predicted[k]).tolist() == logits[k].argmax(-1).tolist()
    # each epoch's history has the dev cross-entropy beside the dev metric
    [history, _] = trainer(max_epochs=1).fit(probes, family, table, table, seed=0)
    _, [after, _] = trainer().evaluate(probes, family, table)
    assert history[0]["dev_cross_entropy_bits"] == pytest.approx(float(after.mean()), rel=1e-6)


def test_bf16_matrix_products_score_as_fp32_within_noise():
    """The faster path of a device with bf16 units: the same probe, trained with its matrix
    products in bfloat16, scores on dev as in float32 (within 2 binomial s.e. of 100 targets
    and a few for the seed's luck: the two take different courses once rounding differs)."""
    label_of = lambda w1, w2: str(w1 % 3)  # noqa: E731
    scores = [fitted_scores(SingleLabel(), label_of, 1, seed=5, precision=p)["accuracy"]
              for p in ("fp32", "bf16")]
    assert scores[0] > 0.9, "the task is learnable in float32"
    assert abs(scores[0] - scores[1]) <= 0.1, scores


def test_two_span_probe_learns_a_label_that_depends_on_the_second_span_only():
    scores = fitted_scores(SingleLabel(), lambda w1, w2: "even" if w2 % 2 == 0 else "odd",
                           n_spans=2, seed=0)
    assert scores["accuracy"] > 0.95


def test_multi_label_probe_predicts_every_label_of_a_span():
    def labels_of(w1, w2):  # 0, 1 or 2 labels a span: a word can be small, even, both or none
        return tuple(name for name, holds in (("even", w1 % 2 == 0), ("small", w1 < 4)) if holds)

    scores = fitted_scores(MultiLabel(), labels_of, n_spans=1, seed=1)
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


class ScriptedDev(EdgeProbe):
    """An edge probe whose dev scores follow a script, in the order they are asked for (each
    epoch, the probes still training, in order), keeping the bank's weights at each."""

    def __init__(self, script: list[float]) -> None:
        super().__init__(proj_dim=16, hidden_dim=16, dropout=0.0, mix_layer_norm=False,
                         mix_lr_scale=30)
        self.script, self.snapshots, self.bank_ = list(script), [], None

    def score(self, table, predicted):
        self.snapshots.append({n: v.clone() for n, v in self.bank_.state_dict().items()})
        return {"accuracy": self.script.pop(0)}


def test_each_probe_halves_its_rate_on_plateau_stops_after_patience_and_keeps_its_best():
    rng = np.random.default_rng(2)
    examples, acts = random_split(rng, 64, lambda w1, w2: str(w1 % 2))
    vocab = LabelVocab.from_examples(examples)
    # per epoch: probe 0, probe 1 (improving every epoch); probe 1 alone once 0 has stopped
    first = [0.5, 0.7, 0.6, 0.65, 0.69]
    second = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]
    both = [x for pair in zip(first, second[:5], strict=True) for x in pair]
    family = ScriptedDev([*both, *second[5:]])
    family.prepare(SimpleNamespace(task=SimpleNamespace(labeling=SingleLabel(), n_spans=1),
                                   vocab=vocab, activations={"train": acts}))
    table = SpanTable.build(examples, acts, vocab, 1, SingleLabel())
    probes = family.bank_ = bank(family, len(vocab), layer_sets=[(0, 1), (1,)])
    history0, history1 = trainer(lr=0.1, patience=3, lr_decay=0.5, max_epochs=7).fit(
        probes, family, table, table, seed=0)
    # probe 0: epochs 3, 4 and 5 do not beat epoch 2: its rate halves after 3 and 4, it stops at 5
    assert [h["epoch"] for h in history0] == [1, 2, 3, 4, 5]
    assert [h["lr"] for h in history0] == [0.1, 0.1, 0.1, 0.05, 0.025]
    # probe 1 improves every epoch: it runs to max_epochs at its full rate
    assert [h["lr"] for h in history1] == [0.1] * 7
    assert family.script == []
    best = family.snapshots[2]  # probe 0's best: epoch 2 (its second score)
    for name, value in probes.state_dict().items():
        torch.testing.assert_close(value[0], best[name][0])
    assert any(not torch.equal(family.snapshots[8][k][0], best[k][0]) for k in best)
    # once probe 0 stopped, training probe 1 alone left probe 0's weights where they were
    last = family.snapshots[-1]
    torch.testing.assert_close(last["output.weight"][0], family.snapshots[9]["output.weight"][0])


def test_bank_adam_steps_each_probe_as_torch_adam_steps_it_alone():
    torch.manual_seed(0)
    weights = torch.nn.Parameter(torch.randn(4, 4, 5))
    module = torch.nn.Module()
    module.weights = weights
    alone = [torch.nn.Parameter(weights[k].detach().clone()) for k in range(4)]
    optimizer = BankAdam(module, 4, lr=0.01, weight_decay=0.1)
    optimizers = [torch.optim.Adam([p], lr=0.01, weight_decay=0.1, fused=True) for p in alone]
    for step in range(6):
        if step == 3:  # probe 1 decays its rate, probe 3 stops: probes 0 and 2 share a rate
            optimizer.rates[1], optimizer.rates[3] = 0.005, None
            optimizers[1].param_groups[0]["lr"] = 0.005
        target = torch.randn(4, 5)
        optimizer.zero_grad()
        ((weights - target) ** 2).sum().backward()
        optimizer.step()
        for k, (p, adam) in enumerate(zip(alone, optimizers, strict=True)):
            if step >= 3 and k == 3:
                continue
            adam.zero_grad()
            ((p - target) ** 2).sum().backward()
            adam.step()
    for k in range(4):
        torch.testing.assert_close(weights[k].detach(), alone[k].detach(), rtol=0, atol=1e-7)


def test_consecutive_runs_of_probes():
    assert consecutive_runs([0, 1, 2, 5, 6, 9]) == [(0, 3), (5, 7), (9, 10)]
    assert consecutive_runs([]) == []


def test_a_small_split_is_passed_over_several_times_an_epoch():
    rng = np.random.default_rng(3)
    examples, acts = random_split(rng, 10, lambda w1, w2: str(w1 % 2))
    vocab = LabelVocab.from_examples(examples)
    family = edge_family(SingleLabel(), vocab, 1)
    table = SpanTable.build(examples, acts, vocab, 1, SingleLabel())
    seen = []
    original = table.batches
    table.batches = lambda rng, size: seen.append(1) or original(rng, size)
    trainer(max_epochs=1, min_epoch_targets=35).fit(bank(family, len(vocab)), family, table,
                                                    table, seed=0)
    assert len(seen) == 4, "10 targets, at least 35 an epoch: 4 passes"


@pytest.mark.parametrize(("setting", "value"), [
    ("batch_size", 0), ("batch_size", -5), ("eval_batch_size", 0), ("max_epochs", 0),
    ("lr", -1.0), ("lr", 0.0), ("lr_decay", 1.5), ("patience", 0)])
def test_trainer_refuses_out_of_range_settings(setting, value):
    with pytest.raises(ProbingError, match=rf"trainer\.{setting}={value} is out of range"):
        trainer(**{setting: value})
