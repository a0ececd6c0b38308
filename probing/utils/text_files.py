"""Reading text files, for every reader (the corpora of the tasks, pretraining text): one place
that opens a file as UTF-8 text and turns each way it can fail into a message that names the
file and what to do.

A UTF-8 byte-order mark is accepted in every format (editors on Windows write one); a byte that
is not UTF-8 is reported with its line, column and an `iconv` command; an empty file, a folder,
a file that cannot be read and a symbolic link that leads nowhere (or back to itself) each get
their own message, never a traceback.
"""

import errno
from collections.abc import Iterator, Sized
from pathlib import Path

from probing.utils.errors import ProbingError

Lines = list[tuple[int, str]]  # (line number, line without its line ending)


def read_text(path: Path, what: str) -> str:
    """The whole text of a corpus file. `what` says what the file should be ("a .mrg file of
    bracketed trees"), for the messages."""
    try:
        # utf-8-sig drops a byte-order mark; text mode reads CRLF files (SemEval ships them)
        # as plain lines.
        with open(path, encoding="utf-8-sig") as f:
            text = f.read()
    except UnicodeDecodeError:
        raise not_utf8(path, what) from None
    except OSError as e:
        raise unreadable(path, what, e) from None
    if not text:
        raise ProbingError(f"{path}: the file is empty; give {what}")
    return text


def read_lines(path: Path, what: str) -> Iterator[tuple[int, str]]:
    """The lines of a corpus file, numbered from 1, without their line endings."""
    for lineno, line in enumerate(read_text(path, what).split("\n"), start=1):
        yield lineno, line.rstrip("\r")


def read_blocks(path: Path, what: str) -> Iterator[Lines]:
    """The runs of non-blank lines of a corpus file, each line with its number."""
    block: Lines = []
    for lineno, line in read_lines(path, what):
        if line.strip():
            block.append((lineno, line))
        elif block:
            yield block
            block = []
    if block:
        yield block


def require_items(items: Sized, path: Path, noun: str) -> None:
    """Refuse a file that holds none of what a reader looks for (only blank lines or comments)."""
    if not len(items):
        raise ProbingError(f"{path}: no {noun} in the file (it holds only blank lines or "
                           f"comments); give a file with at least one")


def unreadable(path: Path, what: str, error: OSError) -> ProbingError:
    """The message for a file that cannot be opened, by cause."""
    if isinstance(error, IsADirectoryError) or path.is_dir():
        return ProbingError(f"{path} is a folder; give the path of {what} in it")
    if error.errno == errno.ELOOP:
        return ProbingError(f"{path} is a symbolic link that leads back to itself (a loop); "
                            f"point it at {what}, or put the file itself in its place")
    if isinstance(error, FileNotFoundError) and path.is_symlink():
        return ProbingError(f"{path} is a symbolic link to {path.readlink()}, which does not "
                            f"exist; point it at {what}")
    if isinstance(error, PermissionError):
        return ProbingError(f"cannot read {path}: permission denied; make it readable "
                            f"(chmod u+r {path}) or copy it somewhere readable")
    return ProbingError(f"cannot read {path}: {error.strerror or error}")


def not_utf8(path: Path, what: str) -> ProbingError:
    """Where the first byte that is not UTF-8 sits, and how to convert the file."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as e:
                bad = raw[e.start:e.end]
                shown = raw.decode("utf-8", errors="replace").rstrip("\r\n")[:80]
                converted = path.with_name(f"{path.stem}.utf8{path.suffix}")
                return ProbingError(
                    f"{path}:{lineno}: byte {bad.hex(' ')} at column {e.start + 1} is not UTF-8 "
                    f"({shown!r}); {what} must be UTF-8. Convert the file, e.g. with "
                    f"`iconv -f latin1 -t utf-8 {path} > {converted}` (put the file's own "
                    f"encoding in place of latin1; `file -i {path}` guesses it), and point the "
                    f"task at the converted file")
    return ProbingError(f"{path}: the file is not valid UTF-8; convert it to UTF-8, e.g. with "
                        f"`iconv -f latin1 -t utf-8`")
