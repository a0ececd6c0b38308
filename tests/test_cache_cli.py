"""`probing-cache list | check | remove` (python -m probing.features): what the activation
cache holds, whether it is whole, and removing it."""

import argparse
import os
import subprocess
import sys

import pytest
from from_yaml import extract_as_configured, hf_encoder
from helpers import REPO

from probing.features.__main__ import main, remove_caches
from probing.features.layout import cache_key
from probing.utils.errors import ProbingError

TRAIN = [["the", "cat", "sat"], ["a", "big", "dog", "ran", "."]] * 3
DEV = [["the", "mat"], ["a", "dog"]]


@pytest.fixture
def caches(tiny_bert, tmp_path):
    """Three complete caches (two encoders) and one interrupted extraction."""
    first = hf_encoder(tiny_bert, name="tiny", pooling="first")
    second = hf_encoder(tiny_bert, name="tiny-mean", pooling="mean")
    root = tmp_path / "cache"
    extract_as_configured(first, TRAIN, root, desc="toy/train")
    extract_as_configured(first, DEV, root, desc="toy/dev")
    extract_as_configured(second, TRAIN, root, desc="toy/train")

    class Stop(Exception):
        pass

    def fail(batch):
        raise Stop

    broken = hf_encoder(tiny_bert, name="tiny-last", pooling="last")
    broken.forward = fail
    with pytest.raises(Stop):
        extract_as_configured(broken, DEV, root, desc="toy/dev")
    keys = {"train": cache_key(first, TRAIN), "dev": cache_key(first, DEV),
            "mean": cache_key(second, TRAIN), "partial": cache_key(broken, DEV)}
    return root, keys


def names(root):
    return sorted(p.name for p in root.iterdir() if p.is_dir())


def test_list_shows_encoder_corpus_size_and_state(caches, capsys):
    root, keys = caches
    main(["list", "--cache-dir", str(root)])
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line[:12] in
             {k[:12] for k in keys.values()}}
    assert set(lines) == {k[:12] for k in keys.values()}
    train = lines[keys["train"][:12]].split()
    assert train[1:6] == ["tiny", "toy/train", "6", "24", "3x32"]
    assert "complete" in lines[keys["train"][:12]]
    assert "toy/dev" in lines[keys["dev"][:12]] and "tiny-mean" in lines[keys["mean"][:12]]
    assert "tiny-last" in lines[keys["partial"][:12]]
    assert "partial 0/1 shards" in lines[keys["partial"][:12]]
    assert "4 caches," in out and str(root) in out
    assert " KB" in lines[keys["train"][:12]]


def test_list_reads_PROBING_CACHE_DIR(caches, capsys, monkeypatch):
    root, keys = caches
    monkeypatch.setenv("PROBING_CACHE_DIR", str(root))
    main(["list"])
    assert keys["mean"][:12] in capsys.readouterr().out


def test_remove_by_key_prefix(caches, capsys):
    root, keys = caches
    main(["remove", keys["dev"][:8], "--cache-dir", str(root)])
    assert "removed" in capsys.readouterr().out
    assert keys["dev"] not in names(root) and keys["train"] in names(root)
    assert not (root / f"{keys['dev']}.lock").exists()
    # a removed cache is simply extracted again by the next run that needs it
    assert len(names(root)) == 3


def test_remove_by_encoder_name(caches):
    root, keys = caches
    main(["remove", "--encoder", "tiny", "--cache-dir", str(root)])
    assert names(root) == sorted([keys["mean"], keys["partial"] + ".partial"])


def test_remove_partial_only(caches):
    root, keys = caches
    main(["remove", "--partial", "--cache-dir", str(root)])
    assert names(root) == sorted([keys["train"], keys["dev"], keys["mean"]])


def test_remove_skips_a_cache_being_extracted(caches, capsys):
    import fcntl

    root, keys = caches
    with open(root / f"{keys['partial']}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        main(["remove", keys["partial"][:10], "--cache-dir", str(root)])
    assert "a run is extracting it now" in capsys.readouterr().out
    assert f"{keys['partial']}.partial" in names(root)


@pytest.mark.parametrize(("keys", "encoder", "message"), [
    (["ffffffffffff"], None, "no cache key starts with 'ffffffffffff'"),
    ([""], None, "starts 4 keys"),
    ([], "nobody", "no cache of encoder 'nobody'; encoders with caches"),
    ([], None, "say what to remove"),
])
def test_remove_mistakes_are_clear_errors(caches, keys, encoder, message):
    root, _ = caches
    args = argparse.Namespace(cache_dir=root, keys=keys, encoder=encoder, partial=False,
                              damaged=False)
    with pytest.raises(ProbingError, match=message):
        remove_caches(args)
    assert len(names(root)) == 4


def test_command_line(caches, tmp_path):
    root, keys = caches
    env = {**os.environ, "PYTHONPATH": str(REPO), "PROBING_CACHE_DIR": str(root)}
    listed = subprocess.run([sys.executable, "-m", "probing.features", "list"], env=env,
                            capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert keys["train"][:12] in listed.stdout
    missing = subprocess.run([sys.executable, "-m", "probing.features", "list", "--cache-dir",
                              str(tmp_path / "nowhere")], env=env, capture_output=True, text=True)
    assert missing.returncode == 1
    assert f"no cache folder at {tmp_path / 'nowhere'}" in missing.stderr
    assert "Traceback" not in missing.stderr
