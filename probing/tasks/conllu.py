"""CoNLL-U (Universal Dependencies) corpora and the part-of-speech task over them."""

import logging
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import ClassVar

import conllu
from conllu.exceptions import ParseException
from conllu.parser import DEFAULT_FIELD_PARSERS, DEFAULT_FIELDS, parse_line

from probing.tasks.base import DependencyTree, Example, Target, Task
from probing.utils.errors import ProbingError, setting_choice
from probing.utils.text_files import read_lines, require_items

log = logging.getLogger(__name__)

WHAT = "a CoNLL-U file (.conllu)"
N_COLUMNS = 10
# Features, enhanced deps and misc stay raw strings: no task reads them, and parsing them
# triples the reading time of a treebank.
FIELD_PARSERS = {field: DEFAULT_FIELD_PARSERS[field] for field in ("id", "xpos", "head")}
# The inventories of Universal Dependencies v2: part-of-speech tags and universal relations.
UPOS_TAGS = frozenset({"ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART",
                       "PRON", "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X"})
UD_RELATIONS = frozenset({
    "acl", "advcl", "advmod", "amod", "appos", "aux", "case", "cc", "ccomp", "clf", "compound",
    "conj", "cop", "csubj", "dep", "det", "discourse", "dislocated", "expl", "fixed", "flat",
    "goeswith", "iobj", "list", "mark", "nmod", "nsubj", "nummod", "obj", "obl", "orphan",
    "parataxis", "punct", "reparandum", "root", "vocative", "xcomp"})


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

    Bytes that are not UTF-8, an empty file, a folder in place of a file and a file with no
    sentence are errors that say where and what to do (utils/text_files.py)."""
    sentences: list[Sentence] = []
    tokens: list[conllu.Token] = []
    lines: list[int] = []
    start = 1
    for lineno, line in read_lines(path, WHAT):
        if not line.strip():
            if tokens:
                sentences.append(Sentence(tokens, lines, f"{path}:{start}"))
            tokens, lines = [], []
            start = lineno + 1
        elif not line.startswith("#"):
            token = _parse_token_line(path, lineno, line)
            if isinstance(token["id"], int):
                _check_word_id(path, lineno, token["id"], len(tokens) + 1)
                tokens.append(token)
                lines.append(lineno)
    if tokens:
        sentences.append(Sentence(tokens, lines, f"{path}:{start}"))
    require_items(sentences, path, "sentences")
    return sentences


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


def dependency_tree(sentence: Sentence) -> DependencyTree | None:
    """The sentence's basic tree, or None where it has none: a head missing or out of range,
    not exactly one root, or a cycle (a POS task reads such files; a tree probe cannot)."""
    n = len(sentence.tokens)
    heads = [token["head"] for token in sentence.tokens]
    if not all(isinstance(head, int) and 0 <= head <= n for head in heads) or heads.count(0) != 1:
        return None
    heads = [head - 1 for head in heads]
    for word in range(n):  # every word reaches the root within n steps, or there is a cycle
        steps = 0
        while word != -1 and steps <= n:
            word, steps = heads[word], steps + 1
        if word != -1:
            return None
    return DependencyTree(tuple(heads), tuple(token["upos"] == "PUNCT"
                                              for token in sentence.tokens))


def warn_outside(examples: list[Example], known: frozenset[str], what: str,
                 name: Callable[[str], str] = str) -> None:
    """One warning for a file whose labels fall outside the UD inventory (a typo such as
    VERBB would otherwise become a class of its own without a word), naming each such label
    with where it first occurs."""
    first: dict[str, str] = {}
    for example in examples:
        for target in example.targets:
            if name(target.label) not in known:
                first.setdefault(name(target.label), target.source)
    if first:
        (label, source), *others = first.items()
        also = "".join(f"; also {other!r} at {where}" for other, where in others)
        log.warning("%s: %s %r is not one of UD's %d (%s); it is kept as a class of its own. "
                    "Fix the corpus file if it is a typo%s", source, what, label, len(known),
                    " ".join(sorted(known)), also)


@dataclass(kw_only=True, eq=False)
class CoNLLUTask(Task):
    """A task over a CoNLL-U corpus: one example a sentence, with its dependency tree (for the
    structural probes) whatever the targets are."""

    has_trees: ClassVar[bool] = True

    def read_file(self, path: Path) -> list[Example]:
        return [Example(s.words, self.targets(path, s), s.source, tree=dependency_tree(s))
                for s in read_conllu(path)]

    @abstractmethod
    def targets(self, path: Path, sentence: Sentence) -> list[Target]:
        """The targets of one sentence."""


@dataclass(kw_only=True, eq=False)
class POSTask(CoNLLUTask):
    """Part of speech: one target per word, a one-word span labelled with its UPOS or XPOS tag
    (`column`). A UPOS tag outside UD's 17 is warned about once per file."""

    column: TagColumn

    def __post_init__(self) -> None:
        super().__post_init__()
        self.column = setting_choice("task.column", self.column, TagColumn)

    def read_file(self, path: Path) -> list[Example]:
        examples = super().read_file(path)
        if self.column is TagColumn.upos:
            warn_outside(examples, UPOS_TAGS, "UPOS tag")
        return examples

    def targets(self, path: Path, sentence: Sentence) -> list[Target]:
        targets = []
        for i, (token, lineno) in enumerate(zip(sentence.tokens, sentence.lines, strict=True)):
            tag = token[self.column]
            if tag in (None, "_"):
                raise ProbingError(
                    f"{path}:{lineno}: word {token['form']!r} has no {self.column} tag")
            targets.append(Target((i, i + 1), None, tag, f"{path}:{lineno}"))
        return targets


class Subtypes(StrEnum):
    """What a dependency task does with language-specific subtypes such as `nmod:poss`."""

    cut = "cut"  # nmod:poss -> nmod, the universal relation
    keep = "keep"  # nmod:poss stays a label of its own


def universal(relation: str) -> str:
    """The universal relation of a subtyped one: nmod:poss -> nmod."""
    return relation.split(":")[0]


@dataclass(kw_only=True, eq=False)
class DependencyTask(CoNLLUTask):
    """Dependency arcs of the basic tree: span1 is the dependent word, span2 its head word, the
    label its relation. The root (head 0) has no head word and is no target. The words are the
    POS task's, so both tasks share one activation cache. A relation outside UD's 37 universal
    ones is warned about once per file."""

    n_spans = 2
    subtypes: Subtypes

    def __post_init__(self) -> None:
        super().__post_init__()
        self.subtypes = setting_choice("task.subtypes", self.subtypes, Subtypes)

    def read_file(self, path: Path) -> list[Example]:
        examples = super().read_file(path)
        warn_outside(examples, UD_RELATIONS, "relation", universal)
        return examples

    def describe(self) -> dict:
        return {"subtypes": self.subtypes.value, **super().describe()}

    def targets(self, path: Path, sentence: Sentence) -> list[Target]:
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
                relation = universal(relation)
            targets.append(Target((i, i + 1), (head - 1, head), relation, f"{path}:{lineno}"))
        return targets
