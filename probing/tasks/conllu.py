"""CoNLL-U (Universal Dependencies) corpora and the part-of-speech task over them."""

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import conllu
from conllu.exceptions import ParseException
from conllu.parser import DEFAULT_FIELD_PARSERS, DEFAULT_FIELDS, parse_line

from probing.errors import ProbingError, setting_choice
from probing.tasks.base import Example, Target, Task

N_COLUMNS = 10
# Features, enhanced deps and misc stay raw strings: no task reads them, and parsing them
# triples the reading time of a treebank.
FIELD_PARSERS = {field: DEFAULT_FIELD_PARSERS[field] for field in ("id", "xpos", "head")}


@dataclass
class Sentence:
    """The words of one CoNLL-U sentence (multiword ranges and empty nodes left out)."""

    tokens: list[conllu.Token]
    lines: list[int]
    source: str

    @property
    def words(self) -> list[str]:
        return [token["form"] for token in self.tokens]


def read_conllu(path: Path) -> list[Sentence]:
    """Every sentence of a CoNLL-U file, with the line number of each word for error messages.

    The file must be UTF-8 (a byte-order mark is allowed); bytes that are not, an empty file
    and a folder in place of a file are errors that say where and what to do.
    """
    try:
        sentences = _read_sentences(path)
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    except IsADirectoryError:
        raise ProbingError(f"{path} is a folder; give the path of a CoNLL-U file in it "
                           f"(a .conllu file)") from None
    except OSError as e:
        raise ProbingError(f"cannot read {path}: {e.strerror or e}") from None
    if not sentences:
        raise ProbingError(f"{path}: no sentences in the file (it is empty or holds only comments "
                           f"and blank lines); give a CoNLL-U file with at least one sentence")
    return sentences


def _read_sentences(path: Path) -> list[Sentence]:
    sentences: list[Sentence] = []
    tokens: list[conllu.Token] = []
    lines: list[int] = []
    start = 1
    with open(path, encoding="utf-8-sig") as f:
        for lineno, line in enumerate(f, start=1):
            line = line.rstrip("\n")
            if not line.strip():
                if tokens:
                    sentences.append(Sentence(tokens, lines, f"{path}:{start}"))
                tokens, lines = [], []
                start = lineno + 1
            elif line.startswith("#"):
                continue
            else:
                token = _parse_token_line(path, lineno, line)
                if isinstance(token["id"], int):
                    _check_word_id(path, lineno, token["id"], len(tokens) + 1)
                    tokens.append(token)
                    lines.append(lineno)
    if tokens:
        sentences.append(Sentence(tokens, lines, f"{path}:{start}"))
    return sentences


def _not_utf8(path: Path) -> ProbingError:
    """Where the first bytes that are not UTF-8 sit, and how to convert the file."""
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as e:
                bad = raw[e.start:e.end]
                shown = raw.decode("utf-8", errors="replace").rstrip("\r\n")[:80]
                return ProbingError(
                    f"{path}:{lineno}: byte {bad.hex(' ')} at column {e.start + 1} is not UTF-8 "
                    f"({shown!r}); CoNLL-U files are UTF-8. Convert the file, e.g. with "
                    f"`iconv -f latin1 -t utf-8 {path} > {path.with_suffix('.utf8.conllu')}` "
                    f"(put the file's own encoding in place of latin1; `file -i {path}` guesses "
                    f"it), and point the task at the converted file")
    return ProbingError(f"{path}: the file is not valid UTF-8; convert it to UTF-8, e.g. with "
                        f"`iconv -f latin1 -t utf-8`")


def _parse_token_line(path: Path, lineno: int, line: str) -> conllu.Token:
    n_columns = line.count("\t") + 1
    if n_columns != N_COLUMNS:
        raise ProbingError(
            f"{path}:{lineno}: malformed CoNLL-U line: {N_COLUMNS} tab-separated columns expected, "
            f"found {n_columns}: {line[:80]!r}. Fix or remove the line."
        )
    try:
        return parse_line(line, DEFAULT_FIELDS, FIELD_PARSERS)
    except ParseException as e:
        raise ProbingError(
            f"{path}:{lineno}: malformed CoNLL-U line ({e}): {line[:80]!r}") from None


def _check_word_id(path: Path, lineno: int, found: int, expected: int) -> None:
    if found != expected:
        raise ProbingError(
            f"{path}:{lineno}: word ID {found} where {expected} was expected; CoNLL-U word IDs "
            f"count 1, 2, 3, ... within a sentence (is a blank line missing between sentences?)"
        )


class TagColumn(StrEnum):
    upos = "upos"
    xpos = "xpos"


class POSTask(Task):
    """Part of speech: one target per word, a one-word span labelled with its UPOS or XPOS tag."""

    def __init__(self, column: str, **common: Any) -> None:
        super().__init__(**common)
        self.column = setting_choice("task.column", column, TagColumn)

    def read_file(self, path: Path) -> list[Example]:
        return [self._example(path, sentence) for sentence in read_conllu(path)]

    def _example(self, path: Path, sentence: Sentence) -> Example:
        targets = []
        for i, (token, lineno) in enumerate(zip(sentence.tokens, sentence.lines, strict=True)):
            tag = token[self.column]
            if tag in (None, "_"):
                raise ProbingError(
                    f"{path}:{lineno}: word {token['form']!r} has no {self.column} tag")
            targets.append(Target((i, i + 1), None, tag, f"{path}:{lineno}"))
        return Example(sentence.words, targets, sentence.source)


class Subtypes(StrEnum):
    """What a dependency task does with language-specific subtypes such as `nmod:poss`."""

    cut = "cut"  # nmod:poss -> nmod, the universal relation
    keep = "keep"  # nmod:poss stays a label of its own


class DependencyTask(Task):
    """Dependency arcs of the basic tree: span1 is the dependent word, span2 its head word, the
    label its relation. The root (head 0) has no head word and is no target. The words are the
    POS task's, so both tasks share one activation cache."""

    n_spans = 2

    def __init__(self, subtypes: str, **common: Any) -> None:
        super().__init__(**common)
        self.subtypes = setting_choice("task.subtypes", subtypes, Subtypes)

    def read_file(self, path: Path) -> list[Example]:
        return [self._example(path, sentence) for sentence in read_conllu(path)]

    def describe(self) -> dict:
        return {"subtypes": self.subtypes.value}

    def _example(self, path: Path, sentence: Sentence) -> Example:
        targets = []
        for i, (token, lineno) in enumerate(zip(sentence.tokens, sentence.lines, strict=True)):
            head, relation = token["head"], token["deprel"]
            n = len(sentence.tokens)
            if not (isinstance(head, int) and 0 <= head <= n) or relation in (None, "_"):
                raise ProbingError(
                    f"{path}:{lineno}: word {token['form']!r} has no usable head and relation "
                    f"(head {head!r}, deprel {relation!r}); the basic tree needs a head between 0 "
                    f"and {n} and a relation for every word")
            if head == 0:
                continue
            if self.subtypes is Subtypes.cut:
                relation = relation.split(":")[0]
            targets.append(Target((i, i + 1), (head - 1, head), relation, f"{path}:{lineno}"))
        return Example(sentence.words, targets, sentence.source)
