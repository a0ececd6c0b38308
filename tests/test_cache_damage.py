"""A damaged activation cache is never used: extraction finds it by its checksums, says so
naming the folder, and builds it again; a reader that does not rebuild refuses it with the
command that removes it; `probing-cache list | check | remove` show and remove it."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from from_yaml import extract_as_configured, hf_encoder
from helpers import REPO

from probing.features import Activations, DamagedCache
from probing.features.__main__ import main
from probing.features.layout import (
    META,
    OFFSETS,
    VECTORS,
    cache_key,
    partial_folder,
    read_header,
)
from probing.utils.errors import ProbingError

SENTENCES = [["the", "cat", "sat"], ["a", "big", "dog", "ran", "."], ["xyz"], ["the", "mat"]] * 40
SETTINGS = {"batch_size": 64, "shard_size": 16}


@pytest.fixture(scope="module")
def encoder(tiny_bert):
    return hf_encoder(tiny_bert)


@pytest.fixture
def built(encoder, tmp_path):
    """A complete cache, its folder, and the bytes of its files when whole."""
    activations = extract_as_configured(encoder, SENTENCES, tmp_path / "cache", **SETTINGS)
    folder = tmp_path / "cache" / activations.meta["key"]
    return folder, {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def data_start(folder):
    return read_header(folder / VECTORS)[2]


def infinities(folder):
    """4 KB of vectors.npy overwritten with float16 +inf."""
    with open(folder / VECTORS, "r+b") as f:
        f.seek(data_start(folder) + 4096)
        f.write(np.full(2048, np.inf, np.float16).tobytes())


def bit_flips(folder, n=200):
    data = bytearray((folder / VECTORS).read_bytes())
    rng = np.random.default_rng(0)
    for position, bit in zip(rng.integers(0, len(data), n), rng.integers(0, 8, n), strict=True):
        data[position] ^= 1 << int(bit)
    (folder / VECTORS).write_bytes(bytes(data))


def one_bit(folder):
    """A single flipped bit in the last shard's data."""
    data = bytearray((folder / VECTORS).read_bytes())
    data[-3] ^= 4
    (folder / VECTORS).write_bytes(bytes(data))


def header_bit(folder):
    data = bytearray((folder / VECTORS).read_bytes())
    data[data_start(folder) - 2] ^= 1  # the header's padding
    (folder / VECTORS).write_bytes(bytes(data))


def cut(name, fraction=0.5):
    def damage(folder):
        os.truncate(folder / name, int((folder / name).stat().st_size * fraction))
    return damage


def grown(folder):
    with open(folder / VECTORS, "ab") as f:
        f.write(b"\0" * 64)


def missing(name):
    def damage(folder):
        (folder / name).unlink()
    return damage


def offsets_changed(folder):
    offsets = np.load(folder / OFFSETS)
    offsets[3] += 1
    np.save(folder / OFFSETS, offsets)


def meta_of_other_key(folder):
    meta = json.loads((folder / META).read_text())
    (folder / META).write_text(json.dumps({**meta, "key": "0" * 64}))


def meta_without_checksums(folder):
    meta = json.loads((folder / META).read_text())
    del meta["checksums"]
    (folder / META).write_text(json.dumps(meta))


def a_file_instead(folder):
    import shutil

    shutil.rmtree(folder)
    folder.write_text("not a cache")


DAMAGES = {
    "4 KB of +inf": (infinities, "shard 0 of vectors.npy .* does not match its checksum"),
    "200 bit flips": (bit_flips, "vectors.npy|shard"),
    "one flipped bit": (one_bit, "shard 9 of vectors.npy \\(of 10\\) does not match"),
    "header bit": (header_bit, "header of vectors.npy|vectors.npy cannot be read"),
    "vectors cut short": (cut(VECTORS), "vectors.npy is [\\d,]+ bytes, [\\d,]+ expected"),
    "vectors grown": (grown, "vectors.npy is [\\d,]+ bytes"),
    "vectors missing": (missing(VECTORS), "vectors.npy cannot be read"),
    "meta cut short": (cut(META), "meta.json cannot be read"),
    "meta missing": (missing(META), "meta.json is missing"),
    "meta of another key": (meta_of_other_key, "meta.json is for key '0000"),
    "meta without checksums": (meta_without_checksums, "lacks the 10 xxh3_64 shard checksums"),
    "offsets cut short": (cut(OFFSETS), "offsets.npy"),
    "offsets changed": (offsets_changed, "offsets.npy does not match its checksum"),
    "offsets missing": (missing(OFFSETS), "offsets.npy cannot be read"),
    "a file, not a folder": (a_file_instead, "it is not a folder"),
}


@pytest.mark.parametrize("case", DAMAGES)
def test_damaged_cache_is_rebuilt_with_a_warning_that_names_it(encoder, built, case, caplog):
    folder, whole = built
    damage, reason = DAMAGES[case]
    damage(folder)
    with caplog.at_level("WARNING"):
        again = extract_as_configured(encoder, SENTENCES, folder.parent, desc="toy/train",
                                      **SETTINGS)
    assert not again.reused
    [warning] = [r.getMessage() for r in caplog.records if "damaged" in r.getMessage()]
    assert f"the activation cache {folder}" in warning
    assert "deleting it and extracting again" in warning
    assert __import__("re").search(reason, warning), warning
    for name in (VECTORS, OFFSETS):
        assert (folder / name).read_bytes() == whole[name]
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name, f"{folder.name}.lock"]
    assert extract_as_configured(encoder, SENTENCES, folder.parent, **SETTINGS).reused


@pytest.mark.parametrize("case", ["4 KB of +inf", "meta missing", "vectors cut short"])
def test_opening_a_damaged_cache_directly_is_refused_with_the_command_that_removes_it(
        built, case):
    folder, _ = built
    DAMAGES[case][0](folder)
    with pytest.raises(DamagedCache) as info:
        Activations.open(folder)
    refusal = info.value.refusal()
    assert isinstance(refusal, ProbingError)
    assert f"probing-cache remove {folder.name[:12]} --cache-dir {folder.parent}" in str(refusal)


def test_a_clean_cache_is_reused_and_equals_a_fresh_one(encoder, built, tmp_path):
    folder, _ = built
    reused = extract_as_configured(encoder, SENTENCES, folder.parent, **SETTINGS)
    assert reused.reused
    fresh = extract_as_configured(encoder, SENTENCES, tmp_path / "fresh", **SETTINGS)
    np.testing.assert_array_equal(reused.vectors, fresh.vectors)
    np.testing.assert_array_equal(reused.offsets, fresh.offsets)


def interrupted(encoder, root, settings: dict, batches: int) -> None:
    """An extraction that stops after `batches` batches, leaving its partial folder."""
    class Stop(Exception):
        pass

    calls = []
    original = encoder.forward

    def stop(batch):
        calls.append(1)
        if len(calls) > batches:
            raise Stop
        return original(batch)

    encoder.forward = stop
    try:
        with pytest.raises(Stop):
            extract_as_configured(encoder, SENTENCES, root, **settings)
    finally:
        del encoder.forward


def test_a_damaged_finished_shard_of_a_partial_cache_is_encoded_again(encoder, tmp_path,
                                                                      caplog):
    key = cache_key(encoder, SENTENCES)
    settings = {"batch_size": 64, "shard_size": 4}
    interrupted(encoder, tmp_path, settings, batches=3)
    partial = partial_folder(tmp_path, key)
    marks = sorted(p.name for p in (partial / "done").iterdir())
    assert marks, "some shards were finished"
    with open(partial / VECTORS, "r+b") as f:  # damage the first finished shard
        f.seek(data_start(partial) + 10)
        f.write(b"\xff\x7f" * 8)
    with caplog.at_level("WARNING"):
        activations = extract_as_configured(encoder, SENTENCES, tmp_path, **settings)
    assert "shard 0 does not match its checksum; encoding it again" in caplog.text
    clean = extract_as_configured(encoder, SENTENCES, tmp_path / "clean", **settings)
    np.testing.assert_array_equal(activations.vectors, clean.vectors)


@pytest.mark.parametrize("damage", [cut(OFFSETS), cut(VECTORS), missing("plan.json")])
def test_a_partial_cache_with_damaged_files_is_started_over(encoder, tmp_path, damage, caplog):
    key = cache_key(encoder, SENTENCES)
    interrupted(encoder, tmp_path, SETTINGS, batches=0)
    damage(partial_folder(tmp_path, key))
    with caplog.at_level("WARNING"):
        activations = extract_as_configured(encoder, SENTENCES, tmp_path, **SETTINGS)
    assert "starting this cache over" in caplog.text
    clean = extract_as_configured(encoder, SENTENCES, tmp_path / "clean", **SETTINGS)
    np.testing.assert_array_equal(activations.vectors, clean.vectors)


def test_list_shows_a_folder_without_meta_as_damaged_and_remove_takes_it(built, capsys):
    folder, _ = built
    (folder / META).unlink()
    main(["list", "--cache-dir", str(folder.parent)])
    out = capsys.readouterr().out
    assert folder.name[:12] in out and "damaged: meta.json is missing" in out
    main(["remove", "--damaged", "--cache-dir", str(folder.parent)])
    assert f"removed {folder.name[:12]}" in capsys.readouterr().out
    assert not folder.exists()


def test_check_names_a_cache_whose_checksum_fails_and_exits_1(built, tmp_path):
    folder, _ = built
    env = {**os.environ, "PYTHONPATH": str(REPO), "PROBING_CACHE_DIR": str(folder.parent)}
    ok = subprocess.run([sys.executable, "-m", "probing.features", "check"], env=env,
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert f"ok       {folder.name[:12]}" in ok.stdout
    infinities(folder)
    bad = subprocess.run([sys.executable, "-m", "probing.features", "check"], env=env,
                         capture_output=True, text=True)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert f"damaged  {folder.name[:12]} shard 0 of vectors.npy" in bad.stdout
    assert f"probing-cache remove {folder.name[:12]} --cache-dir {folder.parent}" in bad.stderr


def test_a_file_where_the_partial_folder_goes_is_replaced(encoder, tmp_path, caplog):
    partial_folder(tmp_path, cache_key(encoder, SENTENCES)).write_text("not a folder")
    with caplog.at_level("WARNING"):
        activations = extract_as_configured(encoder, SENTENCES, tmp_path, **SETTINGS)
    assert "starting this cache over" in caplog.text and not activations.reused
    assert not partial_folder(tmp_path, activations.meta["key"]).exists()
