"""The activation cache: every layer's word vectors of one corpus under one encoder, on disk.

A cache is a folder named by its key, holding `vectors.npy` (n_words, n_layers, dim) float16,
memory-mapped on reading, `offsets.npy` (sentence i is rows offsets[i]:offsets[i+1]) and
`meta.json`. It is built in `<key>.partial/` and renamed into place when complete, so a folder
named by a key is always whole; a partial folder records finished shards and is resumed.
"""

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from probing.encoders.base import Encoder
from probing.files import write_json_atomic

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
    """A cache being written: shards of sentences are filled in and marked done one by one."""

    def __init__(self, folder: Path, offsets: np.ndarray, n_layers: int, dim: int,
                 shard_size: int) -> None:
        self.folder = folder
        self.done = folder / "done"
        plan_file = folder / "plan.json"
        shape = (int(offsets[-1]), n_layers, dim)
        if plan_file.is_file():
            plan = json.loads(plan_file.read_text())
            self.shard_size = plan["shard_size"]
            self.vectors = np.load(folder / "vectors.npy", mmap_mode="r+")
            if self.vectors.shape != shape:
                raise RuntimeError(f"{folder} holds vectors of shape {self.vectors.shape}, "
                                   f"expected {shape}; delete the folder to start over")
        else:
            self.done.mkdir(parents=True, exist_ok=True)
            self.shard_size = shard_size
            np.save(folder / "offsets.npy", offsets)
            self.vectors = np.lib.format.open_memmap(folder / "vectors.npy", mode="w+",
                                                     dtype=np.float16, shape=shape)
            # The plan is written last: a folder without it is restarted from scratch.
            write_json_atomic(plan_file, {"shard_size": shard_size})
        self.offsets = offsets

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
