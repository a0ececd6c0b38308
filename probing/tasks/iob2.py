"""IOB2-tagged corpora (Universal NER) and the entity-typing task over them."""

import logging
import os
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from probing.tasks.base import Example, Target, Task
from probing.tasks.heldout import HeldOut, ordinal
from probing.utils.errors import ProbingError, setting_choice
from probing.utils.text_files import Lines, read_blocks, require_items

log = logging.getLogger(__name__)

WHAT = "an IOB2 file (.iob2: index, word and tag a line)"
# Columns of a token line: index, word, tag, then corpus-specific ones (UNER: annotators).
WORD, TAG = 1, 2
TAG_PATTERN = re.compile(r"O|[BI]-\S+")
SENT_ID = re.compile(r"#\s*sent_id\s*=\s*(\S+)")
NEWDOC_ID = re.compile(r"#\s*newdoc id\s*=\s*(\S+)")


def read_iob2(path: Path) -> list[Example]:
    """The sentences of an IOB2 file, each gold entity a target over its words labelled with
    its type (see `EntityTask` for the strict reading of the tags). A sentence belongs to the
    document of the last `# newdoc id` line before it; a file without such lines has each
    sentence as a document of its own."""
    examples, document = [], None
    for block in read_blocks(path, WHAT):
        document = next((m.group(1) for _, line in block if (m := NEWDOC_ID.match(line))),
                        document)
        if (example := _example(path, block, document)) is not None:
            examples.append(example)
    require_items(examples, path, "sentences")
    return examples


def _example(path: Path, block: Lines, document: str | None) -> Example | None:
    ids = [m.group(1) for _, line in block if (m := SENT_ID.match(line))]
    tokens = [(lineno, line) for lineno, line in block if not line.startswith("#")]
    if not tokens:  # comments only
        return None
    words, tags = [], []
    for lineno, line in tokens:
        columns = line.split("\t")
        if len(columns) <= TAG or not TAG_PATTERN.fullmatch(columns[TAG]):
            raise ProbingError(
                f"{path}:{lineno}: malformed IOB2 line: expected tab-separated index, word "
                f"and tag (O, B-TYPE or I-TYPE), found {line[:80]!r}")
        words.append(columns[WORD])
        tags.append(columns[TAG])
    targets, start = [], 0
    # A closing O after the last word ends an entity at the end of the sentence.
    for i, tag in enumerate([*tags, "O"]):
        if i > 0 and tags[i - 1] != "O" and not tag.startswith("I-"):
            targets.append(Target((start, i), None, tags[start][2:],
                                  f"{path}:{tokens[start][0]}"))
        if tag.startswith("B-"):
            start = i
        elif tag.startswith("I-") and (i == 0 or tags[i - 1][2:] != tag[2:]):
            raise ProbingError(
                f"{path}:{tokens[i][0]}: {tag} continues no {tag[2:]} entity (the word before "
                f"is tagged {tags[i - 1] if i else 'nothing'}); in IOB2 an entity starts with "
                f"B-{tag[2:]}. Fix the tag in the corpus file.")
    source = f"{path}:{block[0][0]}"
    return Example(words, targets, source, ids[0] if ids else "", document=document or source)


def _words(example: Example, target: Target) -> tuple[str, ...]:
    start, end = target.span1
    return tuple(example.words[start:end])


class TrainSource(StrEnum):
    """Where the entity task's training split comes from."""

    auto = "auto"  # the training file where it is present, else dev_heldout (with a warning)
    file = "file"  # the training file (task.train); refused where it is absent
    dev_heldout = "dev_heldout"  # the dev file without every heldout_every-th document


@dataclass(kw_only=True, eq=False)
class EntityTask(Task):
    """Named entities: each gold entity is a target over its words, labelled with its type.

    The tags are strict IOB2: an entity starts with B-TYPE and goes on with I-TYPE. An I-TYPE
    that continues no entity of its type (after O, or after another type) is an error naming
    the file and line, not repaired: the corpus is IOB2 throughout, so such a tag means a broken
    file, and a silent repair would change the gold spans.

    `train_source` says what the probe trains on (`TrainSource`): the training file, with the
    dev file for early stopping; or, for a copy of the corpus without its training file, the
    dev file without every `heldout_every`-th document, those held out as the dev split: whole
    documents, since sentences of one document share their entities (every 10th sentence of
    UNER's dev file made half of the held-out entity strings ones seen in training). Test is
    the test file either way; the run record states which was used and, per split, the share of
    entities whose words occur as an entity in training (`describe`).
    """

    train_source: TrainSource
    heldout_every: int

    def __post_init__(self) -> None:
        super().__post_init__()
        self.train_source = setting_choice("task.train_source", self.train_source, TrainSource)
        self.heldout = HeldOut(self.heldout_every, unit="document")
        self.trains_on = self._resolve_train_source()

    @property
    def files(self) -> dict[str, Path]:
        if self.trains_on is TrainSource.dev_heldout:
            return {"train": self.dev, "dev": self.dev, "test": self.test}
        return super().files

    @property
    def dev_held_out(self) -> bool:
        return self.trains_on is TrainSource.dev_heldout

    def read(self, split: str) -> list[Example]:
        examples = super().read(split)
        if self.trains_on is TrainSource.dev_heldout:
            return self.heldout.select(split, examples, [e.document for e in examples])
        return examples

    def read_file(self, path: Path) -> list[Example]:
        return read_iob2(path)

    def summarize_splits(self, splits: dict[str, list[Example]]) -> dict:
        """Per split, the share of its entities (mentions) whose words occur as an entity in
        training: how much of dev's and test's score can be memorised names."""
        seen = {_words(example, target) for example in splits["train"]
                for target in example.targets}
        shares = {}
        for split in ("dev", "test"):
            mentions = [_words(e, t) in seen for e in splits[split] for t in e.targets]
            shares[split] = round(sum(mentions) / len(mentions), 4)
        return {"entities_seen_in_training": shares}

    def describe(self) -> dict:
        if self.trains_on is TrainSource.file:
            split = (f"train: {self.train.name}; dev (early stopping): {self.dev.name}; "
                     f"test: {self.test.name}")
            rule = {"split": split}
        else:
            rule = self.heldout.describe(self.files)
        return {**rule, "train_source": self.trains_on.value,
                "train_source_setting": self.train_source.value, **super().describe()}

    def _resolve_train_source(self) -> TrainSource:
        if self.train_source is TrainSource.dev_heldout:
            return TrainSource.dev_heldout
        absent = not (self.train.exists() or self.train.is_symlink())  # a bad link: say so below
        if self.train_source is TrainSource.auto and absent:
            log.warning(
                "task %s: the training file %s is absent, so the probe trains on the dev file "
                "without every %s document, which are the dev split for early stopping. To "
                "train on the training file, fetch it with `python -m probing.data fetch %s` "
                "(or point task.train at it); task.train_source=file insists on the file, "
                "task.train_source=dev_heldout always holds dev out.", self.name, self.train,
                ordinal(self.heldout_every), self.corpus)
            return TrainSource.dev_heldout
        if os.path.realpath(self.train) == os.path.realpath(self.dev):
            raise ProbingError(
                f"task {self.name}: task.train and task.dev name the same file ({self.train}), "
                f"so early stopping would watch the training data; give the dev file as "
                f"task.dev, or set task.train_source=dev_heldout to hold part of it out")
        return TrainSource.file
