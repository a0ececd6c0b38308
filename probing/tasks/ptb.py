"""Penn Treebank bracketed trees (.mrg) and the constituent-labelling task over them."""

import os
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from nltk import Tree

from probing.tasks.base import SPLITS, Example, Target, Task, require_file
from probing.tasks.labels import MultiLabel
from probing.utils.errors import ProbingError
from probing.utils.text_files import read_text, require_items

WHAT = "a .mrg file of bracketed trees"
# Every tree of a .mrg file starts on a line of its own with "(" in the first column.
TREE_START = re.compile(r"^\(", re.MULTILINE)
# A category without its function tags and indices: NP-SBJ-1 -> NP, PP-LOC=2 -> PP. The
# bracket and trace tags (-LRB-, -NONE-) start with "-" and are kept whole. An annotator's
# undecided ADVP|PRT (once in the sample) counts as its first category.
CATEGORY = re.compile(r"-[A-Z]+-|[^-=|]+")
TRACE = "-NONE-"
# Encoders read raw text, so the treebank's escaped brackets become brackets again.
BRACKETS = {"-LRB-": "(", "-RRB-": ")", "-LCB-": "{", "-RCB-": "}", "-LSB-": "[", "-RSB-": "]"}


def category(label: str) -> str | None:
    """The category of a bracket's label; None where the label starts with none (=1)."""
    match = CATEGORY.match(label)
    return match.group() if match else None


def read_trees(path: Path) -> list[tuple[int, Tree]]:
    """The trees of a .mrg file, each with the line it starts on (nltk parses the brackets)."""
    text = read_text(path, WHAT)
    starts = [m.start() for m in TREE_START.finditer(text)]
    require_items(text.strip(), path, "trees")
    if not starts or text[:starts[0]].strip():
        raise ProbingError(f"{path}:1: text before the first tree; a .mrg file holds bracketed "
                           f"trees, each starting with '(' at the start of a line")
    trees = []
    for start, end in zip(starts, [*starts[1:], len(text)], strict=True):
        lineno = text.count("\n", 0, start) + 1
        try:
            trees.append((lineno, Tree.fromstring(text[start:end],
                                                  remove_empty_top_bracketing=False)))
        except ValueError as e:
            raise ProbingError(f"{path}:{lineno}: malformed tree ({e}). Fix its brackets or "
                               f"remove the tree.") from None
    return trees


def constituents(tree: Tree, source: str) -> tuple[list[str], dict[tuple[int, int], set[str]]]:
    """The words of a tree without traces, and the categories of each word span.

    A constituent that covered only traces covers no words and is dropped with them; the
    unlabelled outer bracket ( (S ...) ) only wraps the tree and is no constituent."""
    words: list[str] = []
    spans: dict[tuple[int, int], set[str]] = defaultdict(set)

    def walk(node: Tree) -> None:
        if len(node) == 0:
            raise ProbingError(f"{source}: empty bracket ({node.label()} ); every bracket "
                               f"holds a word or constituents")
        if isinstance(node[0], str):  # a preterminal: (TAG word)
            if len(node) != 1:
                raise ProbingError(f"{source}: ({node.label()} ...) mixes words and "
                                   f"constituents; a tag covers exactly one word")
            if node.label() != TRACE:
                words.append(BRACKETS.get(node[0], node[0]))
            return
        if not node.label():
            raise ProbingError(f"{source}: a bracket without a category inside the tree; only "
                               f"the outer bracket that wraps a tree may have none")
        start = len(words)
        for child in node:
            if isinstance(child, str):
                raise ProbingError(f"{source}: word {child!r} outside a (TAG word) pair")
            walk(child)
        if len(words) > start:
            if (name := category(node.label())) is None:
                raise ProbingError(f"{source}: bracket label {node.label()!r} names no "
                                   f"category (NP, VP-TMP, ...); fix the label")
            spans[start, len(words)].add(name)

    for top in tree if tree.label() == "" else [tree]:
        walk(top)
    return words, spans


@dataclass(kw_only=True, eq=False)
class ConstituentTask(Task):
    """Constituent labelling: every constituent above the preterminals is a target over its
    word span, labelled with its category. Several constituents over one span (a unary chain
    such as (S (VP ...))) are one target carrying all their categories: a multi-label task.

    The PTB sample has no official split: `file_numbers` gives each split a range of file
    numbers [first, last], both included (wsj_0001.mrg is file 1), read from the split's folder.
    """

    labeling = MultiLabel()
    file_numbers: dict[str, list[int]]

    def __post_init__(self) -> None:
        super().__post_init__()
        ranges = self.file_numbers
        if set(ranges) != set(SPLITS) or not all(
                len(r) == 2 and all(isinstance(n, int) for n in r) and r[0] <= r[1]
                for r in ranges.values()):
            raise ProbingError(f"task.file_numbers must give each of {', '.join(SPLITS)} a "
                               f"range [first, last] of file numbers; got {ranges}")
        self.file_numbers = {split: (int(r[0]), int(r[1])) for split, r in ranges.items()}

    def read(self, split: str) -> list[Example]:
        if split not in SPLITS:
            raise ProbingError(f"task {self.name} has no split {split!r}; splits: {SPLITS}")
        return [example for path in self.split_files(split) for example in self.read_file(
            require_file(path, self.corpus, f"task.{split}"))]

    def split_files(self, split: str) -> list[Path]:
        first, last = self.file_numbers[split]
        return [self.files[split] / f"wsj_{number:04d}.mrg" for number in range(first, last + 1)]

    def split_sources(self) -> dict[str, set[str]]:
        return {split: {os.path.realpath(path) for path in self.split_files(split)}
                for split in SPLITS}

    def read_file(self, path: Path) -> list[Example]:
        examples = []
        for lineno, tree in read_trees(path):
            source = f"{path}:{lineno}"
            words, spans = constituents(tree, source)
            if not words:
                raise ProbingError(f"{source}: the tree has no words (only -NONE- traces); "
                                   f"remove it or give it its words")
            targets = [Target(span, None, tuple(sorted(labels)), source)
                       for span, labels in sorted(spans.items(), key=lambda s: (s[0][0], -s[0][1]))]
            examples.append(Example(words, targets, source))
        return examples

    def describe(self) -> dict:
        return {"split": {split: f"wsj_{first:04d}.mrg .. wsj_{last:04d}.mrg"
                          for split, (first, last) in self.file_numbers.items()},
                **super().describe()}
