"""xxh3-64 checksums of files read in pieces: the activation cache's shards and headers, the
pretraining token cache's files."""

import os
from pathlib import Path
from typing import BinaryIO

import xxhash

READ_BYTES = 16 << 20  # bytes read at a time while checksumming


def checksum(f: BinaryIO, start: int, size: int, buffer: bytearray | None = None) -> str:
    """xxh3-64 of `size` bytes of an open file from `start`, read in pieces through a buffer
    (never memory-mapped: the pages read do not stay in the process's resident memory)."""
    digest = xxhash.xxh3_64()
    view = memoryview(buffer if buffer is not None else bytearray(min(size, READ_BYTES) or 1))
    f.seek(start)
    while size > 0:
        n = f.readinto(view[:min(size, len(view))])
        if not n:
            raise ValueError(f"{Path(f.name).name} ends {size:,} bytes early")
        digest.update(view[:n])
        size -= n
    return digest.hexdigest()


def file_checksum(path: Path) -> str:
    with open(path, "rb", buffering=0) as f:
        return checksum(f, 0, os.fstat(f.fileno()).st_size)
