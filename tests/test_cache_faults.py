"""The activation cache under a full disk, bad settings, stale partial folders, unwritable
folders, kill -9 and concurrent runs."""

import errno
import json
import subprocess
import sys
import textwrap
from collections import namedtuple

import pytest
from from_yaml import extract_as_configured, hf_encoder

import probing.features.cache as cache_module
from probing.encoders.hf import HFEncoder
from probing.features.cache import PartialCache
from probing.features.layout import cache_key
from probing.runs.record import RunRecord
from probing.utils.errors import ProbingError

SENTENCES = [["the", "cat", "sat"], ["a", "big", "dog", "ran", "."], ["xyz"], ["the", "mat"]] * 5
Usage = namedtuple("Usage", "total used free")


@pytest.fixture
def encoder(tiny_bert):
    return hf_encoder(tiny_bert)


def files_of(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.suffix == ".npy"}


def test_too_little_free_space_stops_before_writing(encoder, tmp_path, monkeypatch):
    monkeypatch.setattr(cache_module.shutil, "disk_usage", lambda path: Usage(10, 10, 1000))
    cache = tmp_path / "cache"
    with pytest.raises(ProbingError, match=rf"not enough free space .* in {cache}: it needs "
                       r"[\d.]+ MB, 0.0 MB are free.*PROBING_CACHE_DIR.*paths.cache_dir"):
        extract_as_configured(encoder, SENTENCES, cache, desc="toy/train")
    assert not any(p.name.endswith(".partial") for p in cache.iterdir())


def test_write_error_becomes_a_probing_error(encoder, tmp_path, monkeypatch):
    def full(self, sentence, vectors):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(PartialCache, "write", full)
    with pytest.raises(ProbingError, match=rf"disk holding the activation cache {tmp_path} is "
                       r"full.*free some space there, or move the cache.*PROBING_CACHE_DIR"):
        extract_as_configured(encoder, SENTENCES, tmp_path)


def test_full_disk_while_reserving_is_a_probing_error(encoder, tmp_path, monkeypatch):
    def fallocate(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cache_module.os, "posix_fallocate", fallocate)
    with pytest.raises(ProbingError, match=f"not enough free space .* in {tmp_path}: it needs"):
        extract_as_configured(encoder, SENTENCES, tmp_path)
    assert not list(tmp_path.glob("*.partial")), "nothing that takes space is left behind"


@pytest.mark.parametrize(("setting", "value"), [("shard_size", 0), ("batch_size", 0),
                                                ("shard_size", -3), ("batch_size", 2.5)])
def test_invalid_settings_are_refused_before_anything_is_created(encoder, tmp_path, setting,
                                                                  value):
    cache = tmp_path / "cache"
    with pytest.raises(ProbingError, match=rf"features.{setting}={value}: it must be a whole"):
        extract_as_configured(encoder, SENTENCES, cache, **{setting: value})
    assert not cache.exists()


@pytest.mark.parametrize("plan", [
    {"shard_size": 0},                                   # what the old code left behind
    "not json",
    {"format": 1, "key": "other", "shape": [1, 1, 1], "n_sentences": 1, "shard_size": 4},
])
def test_partial_cache_with_a_bad_plan_is_started_over(encoder, tmp_path, plan):
    key = cache_key(encoder, SENTENCES)
    partial = tmp_path / f"{key}.partial"
    (partial / "done").mkdir(parents=True)
    (partial / "done" / "0").touch()
    (partial / "plan.json").write_text(plan if isinstance(plan, str) else json.dumps(plan))
    (partial / "vectors.npy").write_bytes(b"junk")
    activations = extract_as_configured(encoder, SENTENCES, tmp_path, batch_size=8, shard_size=4)
    assert not partial.exists()
    extract_as_configured(encoder, SENTENCES, tmp_path / "clean", batch_size=8, shard_size=4)
    assert files_of(tmp_path / key) == files_of(tmp_path / "clean" / key)
    assert not activations.reused


def test_partial_cache_with_corrupt_marks_is_started_over(encoder, tmp_path):
    key = cache_key(encoder, SENTENCES)

    class Stop(Exception):
        pass

    def fail(batch):
        raise Stop

    broken = HFEncoder.__new__(HFEncoder)
    broken.__dict__.update(encoder.__dict__)
    broken.forward = fail
    with pytest.raises(Stop):
        extract_as_configured(broken, SENTENCES, tmp_path, batch_size=8, shard_size=4)
    (tmp_path / f"{key}.partial" / "done" / "99").touch()
    extract_as_configured(encoder, SENTENCES, tmp_path, batch_size=8, shard_size=4)
    extract_as_configured(encoder, SENTENCES, tmp_path / "clean", batch_size=8, shard_size=4)
    assert files_of(tmp_path / key) == files_of(tmp_path / "clean" / key)


def test_cache_folder_that_cannot_be_made_names_it_and_the_setting(encoder, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ProbingError, match=rf"cannot write the activation cache folder "
                       rf"{blocker / 'cache'}.*PROBING_CACHE_DIR=/path.*paths.cache_dir=/path"):
        extract_as_configured(encoder, SENTENCES, blocker / "cache")


def test_unwritable_cache_folder_names_it_and_the_setting(encoder, tmp_path, monkeypatch):
    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "x.lock"))

    monkeypatch.setattr(cache_module, "open", denied, raising=False)
    with pytest.raises(ProbingError, match=rf"cannot write the activation cache folder "
                       rf"{tmp_path}: .*Permission denied.*make it a writable folder"):
        extract_as_configured(encoder, SENTENCES, tmp_path)


KILLED_RUN = """
import os, signal, sys
from probing.features import extract
from probing.config.composed import configured_encoder
encoder = configured_encoder("hf", name_or_path=sys.argv[1], device="cpu")
calls = []
original = encoder.forward
def forward(batch):
    calls.append(1)
    if len(calls) == int(sys.argv[3]):
        os.kill(os.getpid(), signal.SIGKILL)
    return original(batch)
encoder.forward = forward
extract(encoder, SENTENCES, sys.argv[2], batch_size=8, shard_size=4)
"""


def test_kill_9_then_resume_gives_a_byte_identical_cache(tiny_bert, encoder, tmp_path):
    script = f"SENTENCES = {SENTENCES!r}\n" + KILLED_RUN
    killed = subprocess.run([sys.executable, "-c", script, str(tiny_bert), str(tmp_path), "7"],
                            capture_output=True)
    assert killed.returncode == -9
    key = cache_key(encoder, SENTENCES)
    assert list((tmp_path / f"{key}.partial" / "done").iterdir()), "some shards were finished"
    extract_as_configured(encoder, SENTENCES, tmp_path, batch_size=8, shard_size=4)
    extract_as_configured(encoder, SENTENCES, tmp_path / "clean", batch_size=8, shard_size=4)
    assert files_of(tmp_path / key) == files_of(tmp_path / "clean" / key)


CONCURRENT_RUN = textwrap.dedent("""
    import sys, time
    from probing.features import extract
    from probing.config.composed import configured_encoder
    encoder = configured_encoder("hf", name_or_path=sys.argv[1], device="cpu")
    original = encoder.forward
    def slow(batch):
        time.sleep(0.05)
        return original(batch)
    encoder.forward = slow
    print("reused" if extract(encoder, SENTENCES, sys.argv[2], batch_size=8,
                              shard_size=4).reused else "extracted")
""")


def test_two_concurrent_runs_share_one_extraction(tiny_bert, encoder, tmp_path):
    script = f"SENTENCES = {SENTENCES!r}\n" + CONCURRENT_RUN
    runs = [subprocess.Popen([sys.executable, "-c", script, str(tiny_bert), str(tmp_path)],
                             stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = sorted(run.communicate(timeout=300)[0].strip() for run in runs)
    assert outputs == ["extracted", "reused"]
    key = cache_key(encoder, SENTENCES)
    assert sorted(p.name for p in tmp_path.iterdir()) == [key, f"{key}.lock"]
    extract_as_configured(encoder, SENTENCES, tmp_path / "clean", batch_size=8, shard_size=4)
    assert files_of(tmp_path / key) == files_of(tmp_path / "clean" / key)


def small_treebank(folder):
    """Train, dev and test files of 8 sentences each."""
    from helpers import write_treebank

    folder.mkdir()
    return {split: write_treebank(folder / f"{split}.conllu", 8, seed)
            for seed, split in enumerate(("train", "dev", "test"))}


def test_command_line_reports_bad_settings_and_folders_without_traceback(tiny_bert, tmp_path):
    from helpers import probe_overrides, run_cli

    corpus = small_treebank(tmp_path / "treebank")
    cache = tmp_path / "cache"
    bad = run_cli([*probe_overrides(tiny_bert, corpus, cache), "features.shard_size=0",
                   f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    output = bad.stdout + bad.stderr
    assert bad.returncode == 1 and "Traceback" not in output
    assert "features.shard_size=0: it must be a whole number" in output
    assert not cache.exists()
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    unwritable = run_cli([*probe_overrides(tiny_bert, corpus, blocker / "cache"),
                          f"hydra.run.dir={tmp_path / 'run2'}"], tmp_path)
    output = unwritable.stdout + unwritable.stderr
    assert unwritable.returncode == 1 and "Traceback" not in output
    assert f"cannot write the activation cache folder {blocker / 'cache'}" in output
    assert "PROBING_CACHE_DIR" in output and "paths.cache_dir" in output


@pytest.mark.slow
def test_a_probe_run_on_a_damaged_cache_warns_and_gives_the_clean_numbers(tiny_bert, tmp_path):
    import numpy as np
    from helpers import probe_overrides, run_cli

    from probing.features.layout import VECTORS, read_header

    corpus = small_treebank(tmp_path / "treebank")
    cache = tmp_path / "cache"
    args = [*probe_overrides(tiny_bert, corpus, cache), "trainer.max_epochs=2"]
    clean = run_cli([*args, f"hydra.run.dir={tmp_path / 'clean'}"], tmp_path)
    assert clean.returncode == 0, clean.stderr
    for key in [p for p in cache.iterdir() if p.is_dir()]:  # 64 values of each made +inf
        with open(key / VECTORS, "r+b") as f:
            f.seek(read_header(key / VECTORS)[2] + 256)
            f.write(np.full(64, np.inf, np.float16).tobytes())
    damaged = run_cli([*args, f"hydra.run.dir={tmp_path / 'damaged'}"], tmp_path)
    assert damaged.returncode == 0, damaged.stderr
    assert "is damaged" in damaged.stdout + damaged.stderr
    records = [RunRecord.read(tmp_path / run / "results.json") for run in ("clean", "damaged")]
    assert records[0].test == records[1].test
