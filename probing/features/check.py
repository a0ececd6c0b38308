"""Is a cache folder whole? Its metadata, its files' sizes and headers, and its checksums.

A folder named by a key is opened only after this check passes; extraction rebuilds a folder
that fails it (with a warning naming it), and anything else that opens it refuses it with the
command that removes it (`DamagedCache.refusal`).
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from probing.features.layout import (
    CHECKSUM,
    DTYPE,
    FORMAT_VERSION,
    META,
    OFFSETS,
    VECTORS,
    Shards,
    header_checksum,
    read_header,
)
from probing.utils.checksums import READ_BYTES, file_checksum
from probing.utils.errors import ProbingError


class DamagedCache(ProbingError):
    """A cache folder that is not whole: what is wrong with it, in words."""

    def __init__(self, folder: Path, reason: str, meta: dict | None = None) -> None:
        self.folder, self.reason, self.meta = folder, reason, meta or {}
        what = ", ".join(str(self.meta[k]) for k in ("encoder", "corpus") if self.meta.get(k))
        super().__init__(f"the activation cache {folder}{f' ({what})' if what else ''} is "
                         f"damaged: {reason}")

    def refusal(self) -> ProbingError:
        """The error for a reader that does not rebuild: with the command that removes it."""
        return ProbingError(
            f"{self}. Remove it with `probing-cache remove {self.folder.name[:12]} --cache-dir "
            f"{self.folder.parent}` (python -m probing.features remove ...); the next run that "
            f"needs it extracts it again")


@dataclass(frozen=True)
class Checked:
    """What a folder that passed the check holds."""

    meta: dict
    offsets: np.ndarray
    data_start: int


def read_meta(folder: Path) -> dict:
    """meta.json as a dict with the fields the layout needs, or DamagedCache."""
    try:
        meta = json.loads((folder / META).read_text())
    except FileNotFoundError:
        raise DamagedCache(folder, f"{META} is missing") from None
    except (OSError, ValueError) as e:
        raise DamagedCache(folder, f"{META} cannot be read ({e})") from None
    if not isinstance(meta, dict):
        raise DamagedCache(folder, f"{META} is not an object")
    if meta.get("format") != FORMAT_VERSION:
        raise DamagedCache(folder, f"written in cache format {meta.get('format')!r}, this "
                           f"version reads format {FORMAT_VERSION}", meta)
    if meta.get("key") != folder.name:
        raise DamagedCache(folder, f"{META} is for key {meta.get('key')!r}", meta)
    for name in ("n_sentences", "n_words", "n_layers", "dim", "shard_size"):
        if type(meta.get(name)) is not int or meta[name] < (name != "n_words"):
            raise DamagedCache(folder, f"{META} has an invalid {name} {meta.get(name)!r}", meta)
    sums = meta.get("checksums")
    n_shards = -(-meta["n_sentences"] // meta["shard_size"])
    if (not isinstance(sums, dict) or sums.get("algorithm") != CHECKSUM
            or not isinstance(sums.get("shards"), list) or len(sums["shards"]) != n_shards):
        raise DamagedCache(folder, f"{META} lacks the {n_shards} {CHECKSUM} shard checksums",
                           meta)
    return meta


def check_files(folder: Path, meta: dict) -> Checked:
    """Sizes, headers and the offsets' checksum: cheap, reads no vectors."""
    shape = (meta["n_words"], meta["n_layers"], meta["dim"])
    try:
        found, dtype, data_start = read_header(folder / VECTORS)
        size = (folder / VECTORS).stat().st_size
    except (OSError, ValueError, SyntaxError, TypeError) as e:
        raise DamagedCache(folder, f"{VECTORS} cannot be read ({e})", meta) from None
    if tuple(found) != shape or dtype != DTYPE:
        raise DamagedCache(folder, f"{VECTORS} holds {dtype} {tuple(found)}, {META} says "
                           f"{DTYPE} {shape}", meta)
    expected = data_start + int(np.prod(shape)) * DTYPE.itemsize
    if size != expected:
        raise DamagedCache(folder, f"{VECTORS} is {size:,} bytes, {expected:,} expected "
                           f"(cut short or overwritten)", meta)
    if header_checksum(folder / VECTORS, data_start) != meta["checksums"].get("header"):
        raise DamagedCache(folder, f"the header of {VECTORS} does not match its checksum", meta)
    try:
        matches = file_checksum(folder / OFFSETS) == meta["checksums"].get("offsets")
        offsets = np.load(folder / OFFSETS) if matches else None
    except (OSError, ValueError) as e:
        raise DamagedCache(folder, f"{OFFSETS} cannot be read ({e})", meta) from None
    if offsets is None:
        raise DamagedCache(folder, f"{OFFSETS} does not match its checksum", meta)
    return Checked(meta, offsets, data_start)


def check_folder(folder: Path, checksums: bool = True) -> Checked:
    """The whole check (every shard's checksum when `checksums`), or DamagedCache."""
    if not folder.is_dir():
        raise DamagedCache(folder, "it is not a folder")
    checked = check_files(folder, read_meta(folder))
    if checksums:
        meta = checked.meta
        shards = Shards(checked.data_start, meta["n_layers"] * meta["dim"] * DTYPE.itemsize,
                        checked.offsets, meta["shard_size"])
        buffer = bytearray(READ_BYTES)
        with open(folder / VECTORS, "rb", buffering=0) as f:
            for shard, expected in enumerate(meta["checksums"]["shards"]):
                if shards.checksum(f, shard, buffer) != expected:
                    raise DamagedCache(folder, f"shard {shard} of {VECTORS} (of "
                                       f"{len(shards)}) does not match its checksum", meta)
    return checked
