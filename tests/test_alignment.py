"""Pieces back to words, and long sentences through model-sized windows."""

import itertools
import random

import numpy as np
import pytest
import torch
from from_yaml import extract_as_configured, hf_encoder

from probing.encoders.alignment import plan_windows
from probing.encoders.hf import HFEncoder
from probing.utils.errors import ProbingError

SENTENCE = ["The", "cats", "sat", "on", "a", "xyz", "mat", "."]


def reference_pieces(encoder: HFEncoder, words: list[str]) -> tuple[torch.Tensor, list]:
    """All layers of every piece of `words` in one plain pass, and each piece's word."""
    batch = encoder.tokenizer(words, is_split_into_words=True, return_tensors="pt")
    with torch.no_grad():
        output = encoder.model(**batch, output_hidden_states=True)
    return torch.stack(output.hidden_states)[:, 0], batch.word_ids(0)


def positions_of(word_ids: list, word: int) -> list[int]:
    return [p for p, w in enumerate(word_ids) if w == word]


@pytest.mark.parametrize("pooling", ["first", "mean", "last"])
def test_pooling_selects_the_words_pieces(tiny_bert, pooling):
    encoder = hf_encoder(tiny_bert, pooling=pooling)
    [words] = encoder.encode([SENTENCE])
    pieces, word_ids = reference_pieces(encoder, SENTENCE)
    assert words.shape == (3, len(SENTENCE), 32)
    pick = {"first": lambda p: p[:1], "mean": lambda p: p, "last": lambda p: p[-1:]}[pooling]
    for i in range(len(SENTENCE)):
        expected = pieces[:, pick(positions_of(word_ids, i))].mean(dim=1)
        torch.testing.assert_close(words[:, i], expected, atol=1e-5, rtol=1e-5)


def test_multi_piece_word_poolings_differ(tiny_bert):
    """'xyz' is three pieces: first, mean and last must give three different vectors."""
    vectors = [hf_encoder(tiny_bert, pooling=p).encode([SENTENCE])[0][:, 5]
               for p in ("first", "mean", "last")]
    assert not torch.allclose(vectors[0], vectors[1])
    assert not torch.allclose(vectors[1], vectors[2])


def test_batch_mates_and_padding_do_not_change_a_sentence(tiny_bert):
    encoder = hf_encoder(tiny_bert)
    alone = encoder.encode([SENTENCE[:3]])[0]
    in_batch = encoder.encode([SENTENCE, SENTENCE[:3], ["a"]])[1]
    torch.testing.assert_close(alone, in_batch, atol=1e-5, rtol=1e-5)


def test_word_without_pieces_gets_the_unknown_token(tiny_bert):
    encoder = hf_encoder(tiny_bert)
    [words] = encoder.encode([["the", "\u200b", "cat"]])
    [expected] = encoder.encode([["the", "[UNK]", "cat"]])
    torch.testing.assert_close(words, expected)


def test_windows_partition_the_sentence():
    rng = random.Random(0)
    for _ in range(500):
        counts = [rng.randint(1, 4) for _ in range(rng.randint(1, 60))]
        max_pieces = rng.randint(4, 20)
        windows = plan_windows(counts, max_pieces, rng.randint(1, max_pieces))
        assert windows[0].keep_start == 0 and windows[-1].keep_end == len(counts)
        for left, right in itertools.pairwise(windows):
            assert left.keep_end == right.keep_start
        for w in windows:
            assert w.start <= w.keep_start <= w.keep_end <= w.end
            assert sum(counts[w.start:w.end]) <= max_pieces


def test_a_sentence_that_fits_is_one_window():
    assert len(plan_windows([1, 2, 3], max_pieces=6, stride=3)) == 1


def test_long_sentence_equals_single_pass_over_each_words_window(tiny_bert):
    """Windows of whole words: a word's vectors are those of a plain pass over its window."""
    encoder = hf_encoder(tiny_bert, pooling="mean", max_length=12, stride=4)
    words = [random.Random(i).choice(["the", "cat", "sat", "xyz", "mats", "."])
             for i in range(40)]
    [vectors] = encoder.encode([words])
    counts = encoder._piece_counts([words])[0]
    windows = plan_windows(counts, encoder.max_pieces, encoder.stride)
    assert len(windows) > 3
    for window in windows:
        [single_pass] = encoder.encode([words[window.start:window.end]])
        keep = slice(window.keep_start - window.start, window.keep_end - window.start)
        torch.testing.assert_close(vectors[:, window.keep_start:window.keep_end],
                                   single_pass[:, keep], atol=1e-5, rtol=1e-5)


def test_windows_do_not_change_a_sentence_that_fits(tiny_bert):
    wide = hf_encoder(tiny_bert, max_length=64)
    narrow = hf_encoder(tiny_bert, max_length=64, stride=2)
    torch.testing.assert_close(wide.encode([SENTENCE])[0], narrow.encode([SENTENCE])[0])


def test_thousand_word_sentence(tiny_bert):
    encoder = hf_encoder(tiny_bert)
    words = ["the", "big", "cat", "sat", "."] * 200
    [vectors] = encoder.encode([words])
    assert vectors.shape == (3, 1000, 32)
    assert torch.isfinite(vectors).all()
    assert (vectors.abs().sum(dim=(0, 2)) > 0).all(), "every word must get a vector"


def test_word_longer_than_the_window_is_an_error(tiny_bert):
    encoder = hf_encoder(tiny_bert, max_length=6)
    with pytest.raises(ProbingError, match=r"alone is .*long_words=truncate"):
        encoder.encode([["the", "xyzxyz"]])


def test_word_longer_than_the_window_can_be_cut(tiny_bert, caplog):
    encoder = hf_encoder(tiny_bert, max_length=6, long_words="truncate")
    [vectors] = encoder.encode([["the", "xyzxyz", "mat"]])
    assert vectors.shape == (3, 3, 32) and torch.isfinite(vectors).all()
    assert "cut the" in caplog.text and "'xyzxyz'" in caplog.text
    assert encoder.settings != hf_encoder(tiny_bert, max_length=6).settings


def test_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(ProbingError, match="could not load"):
        hf_encoder(tmp_path / "no-such-model")


def test_fingerprint_follows_weights_not_location(tiny_bert, tmp_path):
    from conftest import make_tiny_bert

    same = make_tiny_bert(tmp_path / "copy", seed=0)
    other = make_tiny_bert(tmp_path / "other", seed=1)
    fingerprint = hf_encoder(tiny_bert).fingerprint()
    assert hf_encoder(same).fingerprint() == fingerprint
    assert hf_encoder(other).fingerprint() != fingerprint
    assert hf_encoder(tiny_bert, random_init=True, seed=3).fingerprint() != fingerprint


BLANKS = ["", " ", "\u200b", "\ufeff"]


def test_blank_words_are_the_unknown_token_and_extraction_warns_once(tiny_bert, tmp_path,
                                                                     caplog):
    """Empty, whitespace-only and zero-width words make no piece: each is encoded as [UNK],
    keeps a vector of its own, and leaves the other words' vectors as they were; extraction
    warns once per corpus, with how many there are and where the first one is."""

    torch.set_num_threads(1)
    encoder = hf_encoder(tiny_bert)
    sentences = [["the", "cat", "sat"], *(["the", blank, "cat", blank, "."] for blank in BLANKS)]
    assert encoder.blank_words(sentences) == [(i, j) for i in range(1, 5) for j in (1, 3)]
    encoded = encoder.encode(sentences)
    [expected] = encoder.encode([["the", "[UNK]", "cat", "[UNK]", "."]])
    for vectors in encoded[1:]:
        assert vectors.shape == (3, 5, 32) and torch.isfinite(vectors).all()
        torch.testing.assert_close(vectors, expected)
    torch.testing.assert_close(encoded[0], encoder.encode([["the", "cat", "sat"]])[0])

    clean = extract_as_configured(encoder, [["the", "cat", "sat"]], tmp_path / "clean",
                                  desc="toy/clean")
    assert "no piece" not in caplog.text
    with caplog.at_level("WARNING"):
        activations = extract_as_configured(encoder, sentences, tmp_path / "cache", batch_size=8,
                              shard_size=2, desc="toy/train")
    warnings = [r.getMessage() for r in caplog.records if "no piece of" in r.getMessage()]
    assert len(warnings) == 1, "once per corpus, not once per batch"
    assert "toy/train: 8 word(s)" in warnings[0]
    assert "unknown token [UNK]" in warnings[0]
    assert "word 2 ('') of sentence 2" in warnings[0]
    assert activations.vectors.shape[:2] == (3 + 4 * 5, 3), "a vector for every word"
    for i, vectors in enumerate(encoded):
        cached = torch.from_numpy(np.array(activations.sentence(i)))
        torch.testing.assert_close(cached.float().transpose(0, 1), vectors, atol=2e-3, rtol=2e-3)
    assert clean.meta["key"] != activations.meta["key"]
    assert clean.meta["settings"] == encoder.settings == {"pooling": "mean", "max_length": 64,
                                                          "stride": 31}


def test_damaged_weights_file_is_named_with_a_fix(tiny_bert, tmp_path):
    import shutil

    damaged = tmp_path / "damaged"
    shutil.copytree(tiny_bert, damaged)
    weights = damaged / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])  # a copy cut short
    with pytest.raises(ProbingError, match=r"model\.safetensors is damaged or incomplete.*again"):
        hf_encoder(damaged)
