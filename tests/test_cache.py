"""The activation cache: keys, round trip, interrupted extraction and its resumption."""

import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from from_yaml import extract_as_configured, hf_encoder

from probing.features.cache import SCRATCH_PREFIX, scratch_folder
from probing.features.layout import cache_key

SENTENCES = [["the", "cat", "sat"], ["a", "big", "dog", "ran", "."], ["xyz"], ["the", "mat"]] * 5


class CountingEncoder:
    """Wraps an encoder; counts the sentences it encodes and can fail after some batches."""

    def __init__(self, encoder, fail_after: int | None = None):
        self.inner, self.fail_after, self.batches, self.sentences = encoder, fail_after, 0, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def prepare(self, sentences):
        if self.fail_after is not None and self.batches >= self.fail_after:
            raise KeyboardInterrupt("simulated kill")
        self.batches += 1
        self.sentences += len(sentences)
        return self.inner.prepare(sentences)


def test_round_trip(tiny_bert, tmp_path):
    encoder = hf_encoder(tiny_bert)
    activations = extract_as_configured(encoder, SENTENCES, tmp_path, batch_size=16, shard_size=3)
    assert activations.vectors.dtype == np.float16
    assert activations.vectors.shape == (sum(map(len, SENTENCES)), 3, 32)
    for i, words in enumerate(SENTENCES):
        expected = encoder.encode([words])[0].transpose(0, 1).numpy()
        np.testing.assert_allclose(activations.sentence(i), expected, atol=2e-3, rtol=2e-3)


def test_second_extraction_reads_the_cache(tiny_bert, tmp_path):
    first = extract_as_configured(hf_encoder(tiny_bert), SENTENCES, tmp_path)
    counting = CountingEncoder(hf_encoder(tiny_bert))
    again = extract_as_configured(counting, SENTENCES, tmp_path)
    assert counting.sentences == 0
    np.testing.assert_array_equal(first.vectors, again.vectors)


def test_key_depends_on_weights_pooling_and_sentences(tiny_bert, tmp_path):
    from conftest import make_tiny_bert

    encoder = hf_encoder(tiny_bert)
    key = cache_key(encoder, SENTENCES)
    assert cache_key(hf_encoder(tiny_bert), SENTENCES) == key
    assert cache_key(hf_encoder(tiny_bert, pooling="first"), SENTENCES) != key
    assert cache_key(hf_encoder(tiny_bert, stride=5), SENTENCES) != key
    other = make_tiny_bert(tmp_path / "other", seed=1)
    assert cache_key(hf_encoder(other), SENTENCES) != key
    assert cache_key(encoder, SENTENCES[:-1]) != key
    assert cache_key(encoder, [["the", "cat sat"]]) != cache_key(encoder, [["the cat", "sat"]])


def test_interrupted_extraction_is_never_read_and_resumes(tiny_bert, tmp_path):
    encoder = hf_encoder(tiny_bert)
    key = cache_key(encoder, SENTENCES)
    interrupted = CountingEncoder(encoder, fail_after=6)
    with pytest.raises(KeyboardInterrupt):
        extract_as_configured(interrupted, SENTENCES, tmp_path, batch_size=8, shard_size=4)
    assert not (tmp_path / key).exists()
    assert (tmp_path / f"{key}.partial").is_dir()

    resumed = CountingEncoder(encoder)
    activations = extract_as_configured(resumed, SENTENCES, tmp_path, batch_size=8, shard_size=4)
    assert 0 < resumed.sentences < len(SENTENCES), "finished shards must not be encoded again"
    assert not (tmp_path / f"{key}.partial").exists()
    clean = extract_as_configured(encoder, SENTENCES, tmp_path / "clean", batch_size=8,
                                  shard_size=4)
    np.testing.assert_array_equal(activations.vectors, clean.vectors)


def test_killed_process_leaves_no_complete_cache(tiny_bert, tmp_path):
    """A real SIGKILL in the middle of writing: the folder named by the key never appears."""
    script = textwrap.dedent(f"""
        import os, signal
        from probing.config.composed import configured_encoder
        from probing.features import extract
        encoder = configured_encoder("hf", name_or_path={str(tiny_bert)!r}, device="cpu")
        calls = []
        original = encoder.forward
        def forward(batch):
            calls.append(1)
            if len(calls) == 3:
                os.kill(os.getpid(), signal.SIGKILL)
            return original(batch)
        encoder.forward = forward
        extract(encoder, {SENTENCES!r}, {str(tmp_path)!r}, batch_size=8, shard_size=4)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert result.returncode == -9
    key = cache_key(hf_encoder(tiny_bert), SENTENCES)
    assert not (tmp_path / key).exists()
    activations = extract_as_configured(hf_encoder(tiny_bert), SENTENCES, tmp_path, batch_size=8,
                          shard_size=4)
    clean = extract_as_configured(hf_encoder(tiny_bert), SENTENCES, tmp_path / "clean")
    np.testing.assert_array_equal(activations.vectors, clean.vectors)


def test_non_finite_activations_are_refused(tiny_bert, tmp_path):
    from probing.utils.errors import ProbingError

    encoder = hf_encoder(tiny_bert)
    with torch.no_grad():
        encoder.model.embeddings.word_embeddings.weight.mul_(1e30)
    encoder._fingerprint = None
    with pytest.raises(ProbingError, match="non-finite"):
        extract_as_configured(encoder, SENTENCES, tmp_path)
    assert not any(p.name == cache_key(encoder, SENTENCES) for p in tmp_path.iterdir())


def test_empty_sentence_is_refused(tiny_bert, tmp_path):
    from probing.utils.errors import ProbingError

    with pytest.raises(ProbingError, match="empty sentence"):
        extract_as_configured(hf_encoder(tiny_bert), [["a"], []], tmp_path)


def test_scratch_folders_of_killed_processes_are_removed_and_others_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    host = socket.gethostname()
    left = {name: tmp_path / name for name in (
        f"{SCRATCH_PREFIX}{host}-{dead}-abc",         # killed on this host: removed
        f"{SCRATCH_PREFIX}{host}-{os.getpid()}-abc",  # a live process's: kept
        f"{SCRATCH_PREFIX}otherhost-{dead}-abc")}     # another host's: kept
    for folder in left.values():
        (folder / "key").mkdir(parents=True)
    with scratch_folder(tmp_path) as folder:
        assert folder.is_dir() and folder.parent == tmp_path
        used = folder
    assert not used.exists(), "its own scratch folder goes when the block ends"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(list(left)[1:])
