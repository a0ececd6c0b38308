"""The activation cache: every layer's word vectors of one corpus under one encoder, on disk.

A cache is a folder named by its key, holding `vectors.npy` (n_words, n_layers, dim) float16,
memory-mapped on reading, `offsets.npy` (sentence i is rows offsets[i]:offsets[i+1]) and
`meta.json`. It is built in `<key>.partial/` and renamed into place when complete, so a folder
named by a key is always whole; a partial folder records finished shards and is resumed.
"""

import errno
import fcntl
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from probing.atomic import write_json_atomic
from probing.encoders.base import Encoder
from probing.errors import ProbingError

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


def corpus_hash(sentences: list[list[str]]) -> str:
    """Hash of the exact word sequences encoded: tasks that read the same sentences, from the
    same file or not, share one cache, and a change in how a reader splits words does not."""
    digest = hashlib.sha256()
    for words in sentences:
        digest.update("\x1f".join(words).encode())
        digest.update(b"\x1e")
    return digest.hexdigest()


def cache_key(encoder: Encoder, sentences: list[list[str]]) -> str:
    parts = {"encoder": encoder.fingerprint(), "settings": encoder.settings,
             "corpus": corpus_hash(sentences), "format": FORMAT_VERSION}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


@dataclass
class Activations:
    """A complete cache, opened read-only."""

    vectors: np.ndarray
    offsets: np.ndarray
    meta: dict
    reused: bool = True

    @classmethod
    def open(cls, folder: Path, reused: bool = True) -> "Activations":
        meta = json.loads((folder / "meta.json").read_text())
        return cls(np.load(folder / "vectors.npy", mmap_mode="r"),
                   np.load(folder / "offsets.npy"), meta, reused)

    @property
    def n_layers(self) -> int:
        return self.vectors.shape[1]

    @property
    def dim(self) -> int:
        return self.vectors.shape[2]

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def sentence(self, i: int) -> np.ndarray:
        """Vectors of sentence i: (n_words, n_layers, dim)."""
        return self.vectors[self.offsets[i]:self.offsets[i + 1]]


def is_complete(folder: Path) -> bool:
    return (folder / "meta.json").is_file()


@contextmanager
def exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock, so that two runs of a sweep never build the same cache at once."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


class PartialCache:
    """A cache being written: shards of sentences are filled in and marked done one by one.

    `plan.json` says what the folder is being built for (key, shape, shard size, format); a
    partial folder whose plan is missing, unreadable, invalid or made for anything else is
    deleted and started over, never trusted.
    """

    def __init__(self, folder: Path, key: str, offsets: np.ndarray, n_layers: int, dim: int,
                 shard_size: int, describe: dict | None = None) -> None:
        self.folder = folder
        self.done = folder / "done"
        self.offsets = offsets
        shape = (int(offsets[-1]), n_layers, dim)
        n_shards = -(-(len(offsets) - 1) // shard_size)
        expected = {"format": FORMAT_VERSION, "key": key, "shape": list(shape),
                    "n_sentences": len(offsets) - 1}
        if folder.exists():
            reason = self._unusable(expected)
            if reason is None:
                self.vectors = np.load(folder / "vectors.npy", mmap_mode="r+")
                ensure_space(folder, self.vectors.nbytes, folder / "vectors.npy")
                reserve(folder / "vectors.npy")
                return
            log.warning("%s: %s; starting this cache over", folder, reason)
            shutil.rmtree(folder)
        ensure_space(folder.parent, shape_bytes(shape) + offsets.nbytes)
        try:
            folder.mkdir(parents=True)
            self.done.mkdir()
            self.shard_size = shard_size
            np.save(folder / "offsets.npy", offsets)
            self.vectors = np.lib.format.open_memmap(folder / "vectors.npy", mode="w+",
                                                     dtype=np.float16, shape=shape)
            reserve(folder / "vectors.npy")
            # The plan is written last: a folder without it is restarted from scratch.
            write_json_atomic(folder / "plan.json", {**expected, "shard_size": shard_size,
                                                     "n_shards": n_shards, **(describe or {})})
        except BaseException:
            # Leave nothing that takes space and could never be resumed.
            self.vectors = None
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def _unusable(self, expected: dict) -> str | None:
        """Why the partial folder cannot be resumed, or None when it can (sets shard_size)."""
        try:
            plan = json.loads((self.folder / "plan.json").read_text())
        except (OSError, ValueError) as e:
            return f"no readable plan.json ({e})"
        if not isinstance(plan, dict):
            return "plan.json is not an object"
        for name, value in expected.items():
            if plan.get(name) != value:
                return f"plan.json has {name}={plan.get(name)!r}, this run needs {value!r}"
        shard_size = plan.get("shard_size")
        if type(shard_size) is not int or shard_size < 1:
            return f"plan.json has an invalid shard_size {shard_size!r}"
        self.shard_size = shard_size
        n_shards = -(-expected["n_sentences"] // shard_size)
        try:
            vectors = np.load(self.folder / "vectors.npy", mmap_mode="r")
            offsets = np.load(self.folder / "offsets.npy")
            marks = [p.name for p in self.done.iterdir()]
        except (OSError, ValueError) as e:
            return f"its files cannot be read ({e})"
        if list(vectors.shape) != expected["shape"] or vectors.dtype != np.float16:
            return f"vectors.npy holds {vectors.dtype} {vectors.shape}"
        del vectors
        if not np.array_equal(offsets, self.offsets):
            return "offsets.npy differs from this corpus"
        if any(not m.isdigit() or int(m) >= n_shards for m in marks):
            return f"unexpected files in {self.done}"
        return None

    def is_done(self, shard: int) -> bool:
        return (self.done / str(shard)).exists()

    def write(self, sentence: int, vectors: np.ndarray) -> None:
        """vectors: (n_layers, n_words, dim) of one sentence."""
        self.vectors[self.offsets[sentence]:self.offsets[sentence + 1]] = vectors.swapaxes(0, 1)

    def mark_done(self, shard: int) -> None:
        self.vectors.flush()
        (self.done / str(shard)).touch()

    def finish(self, final: Path, meta: dict) -> None:
        """Write the metadata and rename the folder into place: from here on it is complete."""
        self.vectors.flush()
        del self.vectors
        write_json_atomic(self.folder / "meta.json", meta)
        os.replace(self.folder, final)


def shape_bytes(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape)) * np.dtype(np.float16).itemsize + 128


# Room left beside the vectors for the offsets, the plan, the metadata and the lock.
MARGIN = 1 << 16


def ensure_space(folder: Path, size: int, existing: Path | None = None) -> None:
    """Stop before writing when the file system of `folder` cannot hold `size` more bytes (less
    what `existing` already has on disk): a memory-mapped write to a full disk is a bus error,
    not an exception."""
    needed = size + MARGIN
    if existing is not None:
        needed -= min(size, existing.stat().st_blocks * 512)
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise NoSpaceError(folder, needed, free)


def reserve(path: Path) -> None:
    """Allocate every block of `path` now, so that a disk that fills up later fails here with
    an error rather than in the middle of a memory-mapped write."""
    fd = os.open(path, os.O_RDWR)
    try:
        os.posix_fallocate(fd, 0, os.fstat(fd).st_size)
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise NoSpaceError(path.parent.parent, os.fstat(fd).st_size, shutil.disk_usage(
                path.parent).free) from None
        if e.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise
    finally:
        os.close(fd)


class NoSpaceError(ProbingError):
    def __init__(self, folder: Path, needed: int, free: int) -> None:
        super().__init__(
            f"not enough free space for the activation cache in {folder}: it needs "
            f"{_mb(needed)}, {_mb(free)} are free. Free some space there, or move the cache to "
            f"a larger disk with PROBING_CACHE_DIR=/path or the override paths.cache_dir=/path "
            f"(`python -m probing.cache list` shows the caches there and their sizes)")


def _mb(n: int) -> str:
    return f"{n / 2**20:,.1f} MB"
