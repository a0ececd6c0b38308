"""ELMo pretraining: the word vocabulary and its cache, the biLM loss against a hand computation,
the approximate softmaxes, the unigram baseline, the command line, exact resume, and checkpoints
read by the ELMo encoder. Tiny models on generated text."""

import functools
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from from_yaml import elmo_encoder
from hydra.utils import instantiate
from safetensors.torch import load_file

from probing.models.checkpoints import list_checkpoints, read_info
from probing.models.elmo_chars import batch_to_char_ids, word_char_ids
from probing.pretrain.corpus import TextCorpus
from probing.pretrain.elmo_objective import (
    NO_TARGET,
    UNK_ID,
    LMBatches,
    char_table,
    running_text,
    sentence_layout,
    unigram_log_probs,
    window_layout,
    word_corpus,
)
from probing.pretrain.loop import pretrain
from probing.pretrain.pretrain_schemas import compose_pretraining
from probing.pretrain.softmax import AdaptiveSoftmax, FullSoftmax, SampledSoftmax
from probing.pretrain.token_cache import TokenizedText, offsets
from probing.utils.errors import ProbingError

REPO = Path(__file__).resolve().parents[1]
SUBJECTS = ["the cat", "a dog", "the old sailor", "my sister", "the king"]
VERBS = ["saw", "liked", "chased", "found"]
OBJECTS = ["the whale", "a red ship", "the small house", "the river"]


def write_text(folder: Path, n_docs: int = 3, n_paragraphs: int = 40, seed: int = 0) -> Path:
    """Documents of sentences from one small grammar: much to learn beyond word frequencies."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for d in range(n_docs):
        paragraphs = []
        for _ in range(n_paragraphs):
            sentences = [f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} ."
                         for _ in range(4)]
            paragraphs.append(" ".join(s[0].upper() + s[1:] for s in sentences))
        (folder / f"doc{d}.txt").write_text("\n\n".join(paragraphs) + "\n")
    return folder


def tiny_overrides(corpus: Path, cache: Path) -> list[str]:
    return ["objective=elmo_tiny", "text=files", f"text.paths=[{corpus}]",
            "text.heldout_fraction=0.1", "text.workers=1", f"paths.cache_dir={cache}",
            "device=cpu", "train.batch_size=16", "train.max_steps=40", "train.log_every=10",
            "train.eval_every=20", "train.save_every=20", "train.eval_batches=null",
            "train.eval_each_epoch=true",
            "optim.warmup_steps=4", "optim.optimizer.lr=3e-3"]


def built_objective(overrides: list[str]):
    """The `objective` the pretraining config composes with `overrides`, unprepared."""
    return instantiate(compose_pretraining(overrides).objective)


def objective(corpus: TextCorpus, cache: Path, *overrides: str):
    """The objective config's objective, prepared where the loop would (`<cache>/pretrain`)."""
    made = built_objective([*tiny_overrides(corpus.paths[0], cache), *overrides])
    made.prepare(corpus, cache / "pretrain")
    return made


def text_corpus(folder: Path, heldout_fraction: float = 0.1) -> TextCorpus:
    """conf/pretrain/text/files.yaml's corpus over `folder`, read by one process."""
    return instantiate(compose_pretraining(["text=files"]).text, paths=[str(folder)],
                       heldout_fraction=heldout_fraction, workers=1)


def heldout_metrics(run_dir: Path) -> dict[int, dict[str, float]]:
    by_step: dict[int, dict[str, float]] = {}
    for row in (run_dir / "metrics.csv").read_text().splitlines()[1:]:
        step, split, name, value = row.split(",")
        if split == "heldout":
            by_step.setdefault(int(step), {})[name] = float(value)
    return by_step


def final_weights(run_dir: Path) -> dict[str, np.ndarray]:
    return checkpoint_weights(list_checkpoints(run_dir)[-1])


def checkpoint_weights(folder: Path) -> dict[str, np.ndarray]:
    with h5py.File(folder / "weights.hdf5", "r") as f:
        weights = {}
        f.visititems(lambda name, d: weights.update({name: d[...]})
                     if isinstance(d, h5py.Dataset) else None)
    softmax = load_file(folder / "softmax.safetensors")
    return weights | {f"softmax.{k}": v.numpy() for k, v in softmax.items()}


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    return write_text(tmp_path_factory.mktemp("text"))


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory, corpus_dir) -> Path:
    """`python -m probing.pretrain objective=elmo_tiny ...`: 40 steps, checkpoints at 0, 20, 40;
    27 steps make an epoch."""
    run_dir = tmp_path_factory.mktemp("run")
    cache = run_dir.parent / "cache"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-m", "probing.pretrain",
                             *tiny_overrides(corpus_dir, cache), f"hydra.run.dir={run_dir}"],
                            cwd=run_dir, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "unigram baseline on all held-out text: perplexity" in result.stdout + result.stderr
    return run_dir


@pytest.fixture(scope="module")
def full_softmax(corpus_dir, tmp_path_factory):
    """The prepared objective with an exact softmax and no dropout."""
    return objective(text_corpus(corpus_dir), tmp_path_factory.mktemp("cache"),
                     "objective/softmax=full",
                     "objective.dropout=0.0")


# --- vocabulary, batches, unigram baseline --------------------------------------------------

def test_vocabulary_by_frequency_with_unk(tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text("b b b c c c a a d .\n\nb e a.\n\nc zebra b a.\n")
    corpus = text_corpus(tmp_path, heldout_fraction=0.34)  # the last sentence
    made = objective(corpus, tmp_path / "cache", "objective.vocab_size=6")
    # Training counts: b 4, a 3, c 3, '.' 2, d 1, e 1; ties in code-point order, then cut.
    assert made.vocab == ["<S>", "</S>", "<UNK>", "b", "a", "c"]
    layout = made.heldout
    batch = LMBatches(layout, [np.arange(len(layout.spans))], made.chars, len(made.vocab))[0]
    words = ["c", "zebra", "b", "a", "."]
    assert batch.inputs["char_ids"][0, 1:6].tolist() == [word_char_ids(w) for w in words], \
        "the input reads every word's own characters"
    assert batch.inputs["next_ids"][0].tolist() == [5, UNK_ID, 3, 4, UNK_ID, 1, NO_TARGET]
    assert batch.inputs["previous_ids"][0].tolist() == [NO_TARGET, 0, 5, UNK_ID, 3, 4, UNK_ID]

    def no_reading(self):
        raise AssertionError("the corpus was read again")

    folder = word_corpus(corpus, tmp_path / "cache" / "pretrain")
    monkeypatch.setattr(TextCorpus, "read", no_reading)
    again = objective(corpus, tmp_path / "cache", "objective.vocab_size=4")
    assert again.vocab == ["<S>", "</S>", "<UNK>", "b"], "another size, the same cache"
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]


def test_unigram_baseline_by_hand():
    counts = np.array([0, 0, 0, 6, 3, 1])  # <S>, </S>, <UNK>, then words; V = 5 cuts the last
    log_p = unigram_log_probs(counts, vocab_size=5, n_sentences=2).exp().numpy()
    # Forward: <UNK> 1 (the cut word), </S> 2, words 6 and 3; add-one over 5 entries: / (12 + 5).
    np.testing.assert_allclose(log_p[0], np.array([1, 3, 2, 7, 4]) / 17, rtol=1e-6)
    np.testing.assert_allclose(log_p[1], np.array([3, 1, 2, 7, 4]) / 17, rtol=1e-6)


def test_sentence_and_window_layouts():
    text = TokenizedText(np.arange(10, 17, dtype=np.int32), offsets(np.array([2, 5])),
                         np.array([0, 2]))
    layout = sentence_layout(text, max_length=3)
    pieces = [layout.ids[s - 1:e + 1].tolist() for s, e in layout.spans]
    assert pieces == [[-1, 0, 10, 11, 1, -1], [-1, 0, 12, 13, 14, 1, -1], [-1, 0, 15, 16, 1, -1]]
    stream = running_text(text)
    windows = window_layout(stream, unroll_steps=3, offset=2)
    chars = np.zeros((20, 50), dtype=np.int16)
    chars[:-1, 0] = np.arange(1, 20)  # a real position: any non-zero character
    batch = LMBatches(windows, [np.array([0, 1])], chars, vocab_size=100)[0]
    assert stream.tolist() == [0, 10, 11, 1, 0, 12, 13, 14, 15, 16, 1]
    assert batch.inputs["next_ids"].tolist() == [[1, 0, 12], [13, 14, 15]]
    assert batch.inputs["previous_ids"].tolist() == [[10, 11, 1], [0, 12, 13]]
    assert batch.n_tokens == 6


# --- the loss and the softmaxes -------------------------------------------------------------

def hand_loss(made, model, sentences: list[list[str]]) -> tuple[float, float, int]:
    """(loss, summed NLL, predictions) from the encoder's path: the biLM adds <S> and </S>;
    forward position t predicts token t + 1, backward position t token t - 1."""
    index = {w: i for i, w in enumerate(made.vocab)}
    with torch.no_grad():
        out = model.bilm(batch_to_char_ids(sentences))
    means, total, count = [], 0.0, 0
    for top, step in ((out.forward[-1], 1), (out.backward[-1], -1)):
        nll = []
        for row, words in enumerate(sentences):
            ids = [0, *(index.get(w, UNK_ID) for w in words), 1]
            for t in range(len(ids)):
                if 0 <= t + step < len(ids):
                    logits = top[row, t] @ model.softmax.weight.T + model.softmax.bias
                    nll.append(-torch.log_softmax(logits, 0)[ids[t + step]].item())
        means.append(sum(nll) / len(nll))
        total, count = total + sum(nll), count + len(nll)
    return sum(means) / 2, total, count


def text_batch(made, sentences: list[list[str]]):
    """One batch of these sentences, words outside the vocabulary read as they are."""
    types = made.vocab + sorted({w for s in sentences for w in s} - set(made.vocab))
    index = {w: i for i, w in enumerate(types)}
    ids = np.array([index[w] for s in sentences for w in s], dtype=np.int32)
    text = TokenizedText(ids, offsets(np.array([len(s) for s in sentences])),
                         np.array([0, len(sentences)]))
    return LMBatches(sentence_layout(text, 100), [np.arange(len(sentences))],
                     char_table(types, 50), len(made.vocab))[0]


def test_loss_is_the_mean_of_both_directions_over_real_positions(full_softmax):
    made = full_softmax
    model = made.build_model()
    sentences = [["The", "cat", "saw", "the", "whale", "."], ["A", "dog", "."]]
    expected, total, count = hand_loss(made, model, sentences)
    batch = text_batch(made, sentences)
    assert batch.inputs["char_ids"].shape[1] == 8, "the short sentence is padded"
    for training in (False, True):  # without dropout, the training loss is the same number
        model.train(training)
        loss, metrics = model(**batch.inputs)
        assert loss.item() == pytest.approx(expected, rel=1e-5)
    model.eval()
    _, metrics = model(**batch.inputs)
    assert metrics["nll"][0].item() == pytest.approx(total, rel=1e-5)
    assert metrics["nll"][1] == count == 2 * (7 + 4)
    alone = [model(**text_batch(made, [s]).inputs)[1]["nll"][0].item() for s in sentences]
    assert sum(alone) == pytest.approx(total, rel=1e-5), "padding adds nothing"


def test_sampled_softmax_estimates_the_full_one():
    torch.manual_seed(0)
    h, targets = torch.randn(30, 8), torch.randint(0, 20, (30,))
    sampled = SampledSoftmax(20, 8, n_samples=100_000)  # every word drawn, q(v) = 1
    exact = sampled.nll(h, targets)
    torch.testing.assert_close(sampled.loss(h, targets), exact, rtol=1e-4, atol=1e-4)
    few = SampledSoftmax(20, 8, n_samples=3)
    few.load_state_dict(sampled.state_dict())
    assert not torch.allclose(few.loss(h, targets), exact)
    assert few.sample(h.device).numel() <= 3


@pytest.mark.parametrize("softmax", [functools.partial(SampledSoftmax, n_samples=8),
                                     functools.partial(AdaptiveSoftmax, cutoffs=[5, 15],
                                                       div_value=4.0)])
def test_approximate_softmax_gradients_reach_the_model(full_softmax, softmax):
    made = full_softmax
    made.softmax, kept = softmax, made.softmax
    try:
        model = made.build_model().train()
    finally:
        made.softmax = kept
    sentences = [["The", "cat", "saw", "the", "whale", "."], ["A", "dog", "."]]
    loss, metrics = model(**text_batch(made, sentences).inputs)
    loss.backward()
    assert set(metrics) == {"forward_loss", "backward_loss"}
    for name, parameter in model.bilm.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.softmax.parameters())
    model.eval()
    _, metrics = model(**text_batch(made, sentences).inputs)
    assert {"nll", "forward_nll", "backward_nll", "unigram_nll"} <= set(metrics)


def test_full_softmax_in_chunks(monkeypatch):
    softmax = FullSoftmax(50, 4)
    h, targets = torch.randn(9, 4), torch.randint(0, 50, (9,))
    whole = softmax.nll(h, targets)
    monkeypatch.setattr("probing.pretrain.softmax.LOGITS_PER_CHUNK", 100)  # two rows a chunk
    torch.testing.assert_close(softmax.nll(h, targets), whole, rtol=1e-6, atol=1e-6)


# --- the loop: learning, resume, checkpoints ------------------------------------------------

def test_heldout_perplexity_falls_below_the_unigram(pretrained):
    assert [read_info(c)["step"] for c in list_checkpoints(pretrained)] == [0, 20, 40]
    metrics = heldout_metrics(pretrained)
    assert sorted(metrics) == [0, 20, 27, 40], "every eval_every steps and after each epoch"
    first, last = metrics[0], metrics[40]
    assert last["unigram_perplexity"] == first["unigram_perplexity"]
    assert last["perplexity"] == pytest.approx(math.exp(last["nll"]), rel=1e-4)
    assert last["perplexity"] < 0.8 * last["unigram_perplexity"] < first["perplexity"]
    assert read_info(list_checkpoints(pretrained)[-1])["heldout"]["perplexity"] == \
        pytest.approx(last["perplexity"], rel=1e-5)


def test_stopped_and_resumed_run_ends_with_the_same_weights(pretrained, corpus_dir, tmp_path):
    overrides = tiny_overrides(corpus_dir, pretrained.parent / "cache")
    pretrain(compose_pretraining([*overrides, "train.stop_at=20"]), tmp_path)
    pretrain(compose_pretraining([*overrides, "train.resume=true"]), tmp_path)
    resumed, straight = final_weights(tmp_path), final_weights(pretrained)
    assert resumed.keys() == straight.keys()
    assert all(np.array_equal(resumed[k], straight[k]) for k in straight)


def encoder_matches(folder: Path, model) -> None:
    """The ELMo encoder reads the checkpoint in `folder` and gives `model`'s layers."""
    encoder = elmo_encoder(folder / "options.json", folder / "weights.hdf5")
    sentences = [["The", "old", "sailor", "saw", "a", "whale", "."], ["Unseen", "words"]]
    with torch.no_grad():
        layers = model.bilm.eval()(batch_to_char_ids(sentences)).layers()
    for i, vectors in enumerate(encoder.encode(sentences)):
        torch.testing.assert_close(vectors, layers[:, i, 1:len(sentences[i]) + 1],
                                   rtol=0, atol=0)


def test_trained_model_round_trips_and_is_an_elmo_encoder(full_softmax, tmp_path):
    made = full_softmax
    model = made.build_model().train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    batches = made.train_batches(0, 8, 0, 1)
    for i in range(3):
        model(**batches[i].inputs)[0].backward()
        optimizer.step()
        optimizer.zero_grad()
    made.save(model, tmp_path)
    encoder_matches(tmp_path, model)
    reloaded = made.load_model(tmp_path).eval()
    batch = text_batch(made, [["The", "old", "sailor", "saw", "a", "whale", "."], ["Unseen"]])
    with torch.no_grad():
        assert model.eval()(**batch.inputs)[0].item() == reloaded(**batch.inputs)[0].item()
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                reloaded.state_dict().values(), strict=True))


def test_pretraining_checkpoint_is_an_elmo_encoder(pretrained, corpus_dir):
    folder = list_checkpoints(pretrained)[-1]
    assert (folder / "vocab.txt").read_text().split("\n")[:4] == ["<S>", "</S>", "<UNK>", "."]
    made = objective(text_corpus(corpus_dir), pretrained.parent / "cache")
    encoder_matches(folder, made.load_model(folder))
    encoder = elmo_encoder(folder / "options.json", folder / "weights.hdf5")
    assert encoder.provenance()["step"] == 40


# --- configs --------------------------------------------------------------------------------

PUBLISHED = {"lstm": {"dim": 4096, "projection_dim": 512, "n_layers": 2, "cell_clip": 3.0,
                      "proj_clip": 3.0, "use_skip_connections": True},
             "char_cnn": {"embedding": {"dim": 16}, "filters": [[1, 32], [2, 32], [3, 64],
                                                                [4, 128], [5, 256], [6, 512],
                                                                [7, 1024]],
                          "n_highway": 2, "activation": "relu", "max_characters_per_token": 50,
                          "n_characters": 262}}


def test_sizes_compose(tmp_path):
    sizes = {}
    for name in ("elmo_tiny", "elmo", "elmo_small", "elmo_medium", "elmo_original"):
        made = built_objective([f"objective={name}"])
        sizes[name] = made.options["lstm"]["dim"]
    assert list(sizes.values()) == sorted(sizes.values())
    assert made.options == PUBLISHED
    assert built_objective([]).name == "bert_small" == built_objective(["objective=bert"]).name
    adaptive = built_objective(["objective=elmo", "objective/softmax=adaptive"])
    assert adaptive.softmax.func is AdaptiveSoftmax
    with pytest.raises(ProbingError, match=r"objective\.vocab_size must be at least 4; got 3"):
        built_objective(["objective=elmo_tiny", "objective.vocab_size=3"]).check()
