"""Writing files and folders so that a reader never sees half of one.

Everything is written under a temporary name beside its target (so on the same file system) and
renamed into place in one step, which POSIX makes atomic: a reader sees the old target or the
new one, never a mix. Every rename of the package goes through here.
"""

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

REMOVING = ".removing-"  # prefix of a folder being deleted: renamed away first, never read


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write to a temporary name beside `path`, then rename over it (atomic on POSIX)."""
    with written_in_place(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def write_json_atomic(path: str | Path, value: dict) -> Path:
    return write_text_atomic(path, json.dumps(value, indent=2, default=str) + "\n")


@contextlib.contextmanager
def written_in_place(target: str | Path, suffix: str | None = None, *,
                     keep_existing: bool = False) -> Iterator[Path]:
    """A temporary path beside `target` for the block to write a file or a folder at, renamed
    over `target` when the block succeeds and removed when it fails (so that a full disk leaves
    no half-written temporary behind).

    The temporary is `target`'s name plus `suffix` (default `.tmp-<process id>`); whatever an
    interrupted run left at that name is removed first. With `keep_existing`, a folder that
    another process renamed into place first is kept, and this one removed.
    """
    target = Path(target)
    tmp = target.with_name(target.name + (suffix or f".tmp-{os.getpid()}"))
    _remove(tmp)
    try:
        yield tmp
    except BaseException:
        _remove_quietly(tmp)
        raise
    try:
        os.replace(tmp, target)
    except OSError:
        _remove_quietly(tmp)
        if not keep_existing:
            raise


def replace(source: Path, target: Path) -> Path:
    """Rename `source` over `target` in one step (a file or a folder written elsewhere in full,
    on the same file system); `target` is returned."""
    os.replace(source, target)
    return target


def removal_name(folder: Path) -> Path:
    """Where a folder goes while it is deleted, so that no run ever opens it half deleted."""
    return folder.with_name(f"{REMOVING}{folder.name}-{os.getpid()}")


def delete(path: Path, aside: Path) -> None:
    """Delete a file, link or folder by renaming it to `aside` first, so that no reader ever
    opens it half deleted. One already gone (another process deleted it first) is no error."""
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        return
    _remove(aside)


def _remove(path: Path) -> None:
    """Whatever is at `path`: a folder with everything in it, a file or a link."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _remove_quietly(path: Path) -> None:
    """Remove a temporary after a failure, without hiding that failure behind another."""
    with contextlib.suppress(OSError):
        _remove(path)
