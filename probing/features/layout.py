"""The on-disk layout of the activation cache, defined here and nowhere else.

A cache folder `<root>/<key>/` holds one corpus under one encoder:

- `vectors.npy`: every word's vectors of every layer, (n_words, n_layers, dim) float16 in
  corpus order, a plain .npy file that is memory-mapped on reading;
- `offsets.npy`: int64 (n_sentences + 1,); sentence i is rows offsets[i]:offsets[i + 1];
- `meta.json`: what the cache holds (encoder, corpus, shape, settings) and the checksums:
  xxh3-64 of offsets.npy, of vectors.npy's header and of each shard of its data, a shard
  being the rows of `shard_size` consecutive sentences (the last one shorter).

It is built in `<key>.partial/`, which also holds `plan.json` (what it is being built for,
written when the folder is set up) and `done/<shard>` (one file per finished shard, holding its
checksum), and renamed to `<key>/` when complete. `<key>.lock` serializes runs that build the
same key. A folder named by a key is opened only after every checksum matches.
"""

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from probing.encoders.base import Encoder
from probing.utils.checksums import checksum

FORMAT_VERSION = 2  # 2: per-shard checksums, shards of consecutive sentences
VECTORS = "vectors.npy"
OFFSETS = "offsets.npy"
META = "meta.json"
PLAN = "plan.json"
DONE = "done"
PARTIAL = ".partial"
LOCK = ".lock"
CHECKSUM = "xxh3_64"
DTYPE = np.dtype(np.float16)
_KEY = re.compile(r"[0-9a-f]{64}")


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


def is_key(name: str) -> bool:
    return _KEY.fullmatch(name) is not None


def complete_folder(root: Path, key: str) -> Path:
    return root / key


def partial_folder(root: Path, key: str) -> Path:
    return root / f"{key}{PARTIAL}"


def lock_file(root: Path, key: str) -> Path:
    return root / f"{key}{LOCK}"


def shard_bounds(n_sentences: int, shard_size: int) -> list[tuple[int, int]]:
    """Sentences [start, end) of each shard."""
    return [(start, min(start + shard_size, n_sentences))
            for start in range(0, n_sentences, shard_size)]


def write_header(path: Path, shape: tuple[int, ...]) -> int:
    """Create vectors.npy holding only its .npy header, sized for its data; returns where the
    data starts."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(
            f, {"descr": np.lib.format.dtype_to_descr(DTYPE), "fortran_order": False,
                "shape": shape})
        start = f.tell()
        f.truncate(start + int(np.prod(shape)) * DTYPE.itemsize)
    return start


def read_header(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and data start of an .npy file; ValueError where it is not one."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read = {(1, 0): np.lib.format.read_array_header_1_0,
                (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read is None:
            raise ValueError(f"unknown .npy version {version}")
        shape, fortran_order, dtype = read(f)
        if fortran_order:
            raise ValueError("Fortran-ordered array")
        return shape, dtype, f.tell()


def header_checksum(path: Path, data_start: int) -> str:
    """Of the .npy header, so that no byte of vectors.npy goes unchecked."""
    with open(path, "rb", buffering=0) as f:
        return checksum(f, 0, data_start)


@dataclass(frozen=True)
class Shards:
    """Byte ranges of vectors.npy that make up its shards."""

    data_start: int
    row_bytes: int
    offsets: np.ndarray
    shard_size: int

    def byte_range(self, shard: int) -> tuple[int, int]:
        start, end = shard_bounds(len(self.offsets) - 1, self.shard_size)[shard]
        first, last = int(self.offsets[start]), int(self.offsets[end])
        return self.data_start + first * self.row_bytes, (last - first) * self.row_bytes

    def checksum(self, f: BinaryIO, shard: int, buffer: bytearray) -> str:
        return checksum(f, *self.byte_range(shard), buffer)

    def __len__(self) -> int:
        return len(shard_bounds(len(self.offsets) - 1, self.shard_size))
