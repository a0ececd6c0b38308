"""The activation cache: a complete cache opened for reading, and one being written.

The files and their names are `layout`'s; whether a folder is whole is `check`'s. A cache is
built in its partial folder shard by shard (plain writes at each sentence's rows, no growing
memory map, so that the process's memory does not grow with the corpus), each finished shard's
checksum read back from the file and kept in its mark, and the folder is renamed into place
with the checksums in meta.json once every shard is done.
"""

import errno
import fcntl
import json
import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from probing.features.check import check_folder
from probing.features.layout import (
    CHECKSUM,
    DONE,
    DTYPE,
    FORMAT_VERSION,
    META,
    OFFSETS,
    PLAN,
    VECTORS,
    Shards,
    header_checksum,
    read_header,
    shard_bounds,
    write_header,
)
from probing.utils.atomic import delete, removal_name, replace, write_json_atomic
from probing.utils.checksums import READ_BYTES, file_checksum
from probing.utils.errors import ProbingError

log = logging.getLogger(__name__)


@dataclass
class Activations:
    """A complete cache, opened read-only: `vectors` (n_words, n_layers, dim) float16,
    memory-mapped; sentence i is rows offsets[i]:offsets[i + 1]."""

    vectors: np.ndarray
    offsets: np.ndarray
    meta: dict
    reused: bool = True

    @classmethod
    def open(cls, folder: Path, reused: bool = True, checksums: bool = True) -> "Activations":
        """Open after checking the folder (every shard's checksum unless `checksums` is
        False); a damaged folder raises DamagedCache."""
        checked = check_folder(folder, checksums)
        meta = checked.meta
        vectors = np.memmap(folder / VECTORS, dtype=DTYPE, mode="r", offset=checked.data_start,
                            shape=(meta["n_words"], meta["n_layers"], meta["dim"]))
        return cls(vectors, checked.offsets, meta, reused)

    @property
    def n_layers(self) -> int:
        return self.vectors.shape[1]

    @property
    def dim(self) -> int:
        return self.vectors.shape[2]

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def mean_norms(self, chunk: int = 16384) -> list[float]:
        """Per layer, the mean L2 norm of a word's vector over every word of the split (a probe
        mixes only its targets' words, whose norms may differ a little): the scale a mixing
        weight multiplies (a weight on a layer of large norms moves the mix more than its size
        says)."""
        totals = np.zeros(self.n_layers)
        for start in range(0, len(self.vectors), chunk):
            rows = np.asarray(self.vectors[start:start + chunk], dtype=np.float32)
            totals += np.linalg.norm(rows, axis=-1).sum(axis=0)
        return (totals / max(len(self.vectors), 1)).tolist()

    def sentence(self, i: int) -> np.ndarray:
        """Vectors of sentence i: (n_words, n_layers, dim)."""
        return self.vectors[self.offsets[i]:self.offsets[i + 1]]


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


def discard(path: Path) -> None:
    """Delete a cache folder (or whatever sits at its name): renamed away first, so that no
    reader ever opens it half deleted."""
    delete(path, removal_name(path))


class PartialCache:
    """A cache being written: shards of consecutive sentences are filled in and marked done.

    `plan.json` says what the folder is being built for (key, shape, shard size, format); a
    partial folder whose plan is missing, unreadable, invalid or made for anything else is
    deleted and started over, never trusted. A finished shard whose checksum no longer matches
    its mark is encoded again.
    """

    def __init__(self, folder: Path, key: str, offsets: np.ndarray, n_layers: int, dim: int,
                 shard_size: int, describe: dict) -> None:
        self.folder, self.offsets = folder, offsets
        self.done = folder / DONE
        shape = (int(offsets[-1]), n_layers, dim)
        self.plan = {"format": FORMAT_VERSION, "key": key, "shape": list(shape),
                     "n_sentences": len(offsets) - 1}
        if folder.exists() or folder.is_symlink():
            reason = self._unusable()
            if reason is None:
                ensure_space(folder, shape_bytes(shape), folder / VECTORS)
                reserve(folder / VECTORS)
                self._open(shape)
                self._forget_damaged_shards()
                return
            log.warning("%s: %s; starting this cache over", folder, reason)
            discard(folder)
        self.shard_size = shard_size
        ensure_space(folder.parent, shape_bytes(shape) + offsets.nbytes)
        try:
            self.done.mkdir(parents=True)
            np.save(folder / OFFSETS, offsets)
            write_header(folder / VECTORS, shape)
            reserve(folder / VECTORS)
            self._open(shape)
            # The plan is written last: a folder without it is restarted from scratch.
            write_json_atomic(folder / PLAN, {**self.plan, "shard_size": shard_size,
                                              "n_shards": len(self.bounds), **describe})
        except BaseException:
            # Leave nothing that takes space and could never be resumed.
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def _open(self, shape: tuple[int, ...]) -> None:
        self.bounds = shard_bounds(len(self.offsets) - 1, self.shard_size)
        _, _, data_start = read_header(self.folder / VECTORS)
        self.shards = Shards(data_start, shape[1] * shape[2] * DTYPE.itemsize, self.offsets,
                             self.shard_size)
        # closed by finish or close
        self.file = open(self.folder / VECTORS, "r+b", buffering=0)  # noqa: SIM115

    def _unusable(self) -> str | None:
        """Why the partial folder cannot be resumed, or None when it can (sets shard_size)."""
        try:
            plan = json.loads((self.folder / PLAN).read_text())
        except (OSError, ValueError) as e:
            return f"no readable {PLAN} ({e})"
        if not isinstance(plan, dict):
            return f"{PLAN} is not an object"
        for name, value in self.plan.items():
            if plan.get(name) != value:
                return f"{PLAN} has {name}={plan.get(name)!r}, this run needs {value!r}"
        shard_size = plan.get("shard_size")
        if type(shard_size) is not int or shard_size < 1:
            return f"{PLAN} has an invalid shard_size {shard_size!r}"
        self.shard_size = shard_size
        n_shards = len(shard_bounds(self.plan["n_sentences"], shard_size))
        try:
            shape, dtype, start = read_header(self.folder / VECTORS)
            size = (self.folder / VECTORS).stat().st_size
            offsets = np.load(self.folder / OFFSETS)
            marks = [p.name for p in self.done.iterdir()]
        except (OSError, ValueError, SyntaxError, TypeError) as e:
            return f"its files cannot be read ({e})"
        if list(shape) != self.plan["shape"] or dtype != DTYPE:
            return f"{VECTORS} holds {dtype} {shape}"
        if size != start + int(np.prod(shape)) * DTYPE.itemsize:
            return f"{VECTORS} is {size:,} bytes, not the size of {tuple(shape)}"
        if not np.array_equal(offsets, self.offsets):
            return f"{OFFSETS} differs from this corpus"
        if any(not m.isdigit() or int(m) >= n_shards for m in marks):
            return f"unexpected files in {self.done} (this corpus has {n_shards} shards)"
        return None

    def _forget_damaged_shards(self) -> None:
        buffer = bytearray(READ_BYTES)
        for mark in sorted(self.done.iterdir()):
            shard = int(mark.name)
            if mark.read_text().strip() != self.shards.checksum(self.file, shard, buffer):
                log.warning("%s: shard %d does not match its checksum; encoding it again",
                            self.folder, shard)
                mark.unlink()

    def is_done(self, shard: int) -> bool:
        return (self.done / str(shard)).exists()

    def write(self, sentence: int, rows: np.ndarray) -> None:
        """rows: (n_words, n_layers, dim) float16 of one sentence, C-contiguous."""
        position = self.shards.data_start + int(self.offsets[sentence]) * self.shards.row_bytes
        view = memoryview(rows).cast("B")
        while view:
            written = os.pwrite(self.file.fileno(), view, position)
            view, position = view[written:], position + written

    def mark_done(self, shard: int) -> None:
        """The shard's checksum, read back from the file, is its mark."""
        digest = self.shards.checksum(self.file, shard, bytearray(READ_BYTES))
        (self.done / str(shard)).write_text(digest)

    def finish(self, final: Path, meta: dict) -> None:
        """Write the metadata with every checksum and rename the folder into place: from
        here on it is complete."""
        self.file.close()
        sums = [(self.done / str(shard)).read_text().strip() for shard in range(len(self.bounds))]
        write_json_atomic(self.folder / META, {
            **meta, "format": FORMAT_VERSION, "shard_size": self.shard_size,
            "checksums": {"algorithm": CHECKSUM, "offsets": file_checksum(self.folder / OFFSETS),
                          "header": header_checksum(self.folder / VECTORS,
                                                    self.shards.data_start),
                          "shards": sums}})
        replace(self.folder, final)

    def close(self) -> None:
        if not self.file.closed:
            self.file.close()


def shape_bytes(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape)) * DTYPE.itemsize + 128


# Room left beside the vectors for the offsets, the plan, the metadata and the lock.
MARGIN = 1 << 16


def ensure_space(folder: Path, size: int, existing: Path | None = None) -> None:
    """Stop before writing when the file system of `folder` cannot hold `size` more bytes (less
    what `existing` already has on disk)."""
    needed = size + MARGIN
    if existing is not None:
        needed -= min(size, existing.stat().st_blocks * 512)
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise NoSpaceError(folder, needed, free)


def reserve(path: Path) -> None:
    """Allocate every block of `path` now, so that a disk that fills up later fails here with
    an error rather than in the middle of an extraction."""
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
            f"(`probing-cache list` shows the caches there and their sizes)")


def _mb(n: int) -> str:
    return f"{n / 2**20:,.1f} MB"


SCRATCH_PREFIX = ".scratch-"  # + host-pid-: activations that serve one measurement


@contextmanager
def scratch_folder(root: Path) -> Iterator[Path]:
    """A folder in the cache folder for activations used once and removed after (an edited
    encoder's, `Inputs.edited`). Those that a process of this host left behind when it was
    killed are removed first (another host's are left alone: its process may be running)."""
    root.mkdir(parents=True, exist_ok=True)
    mine = f"{SCRATCH_PREFIX}{socket.gethostname()}-"
    for stale in root.glob(f"{mine}*"):
        pid = stale.name.removeprefix(mine).split("-", 1)[0]
        if pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{mine}{os.getpid()}-", dir=root))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
