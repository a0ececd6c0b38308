"""Reading the text files of a corpus: runs of non-blank lines, each line with its number."""

from collections.abc import Iterator
from pathlib import Path

Lines = list[tuple[int, str]]  # (line number, line without its line ending)


def read_blocks(path: Path) -> Iterator[Lines]:
    """The runs of non-blank lines of a text file, each with its lines' numbers."""
    block: Lines = []
    # Text mode reads CRLF files (SemEval ships them) as plain lines.
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            line = line.rstrip("\r\n")
            if line.strip():
                block.append((lineno, line))
            elif block:
                yield block
                block = []
    if block:
        yield block
