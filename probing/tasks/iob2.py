"""IOB2-tagged corpora (Universal NER) and the entity-typing task over them."""

import re
from pathlib import Path

from probing.errors import ProbingError
from probing.tasks.base import Example, Target
from probing.tasks.heldout import HeldOutDevTask
from probing.tasks.text_files import Lines, read_blocks

# Columns of a token line: index, word, tag, then corpus-specific ones (UNER: annotators).
WORD, TAG = 1, 2
TAG_PATTERN = re.compile(r"O|[BI]-\S+")
SENT_ID = re.compile(r"#\s*sent_id\s*=\s*(\S+)")


class EntityTask(HeldOutDevTask):
    """Named entities: each gold entity is a target over its words, labelled with its type.

    The tags are strict IOB2: an entity starts with B-TYPE and goes on with I-TYPE. An I-TYPE
    that continues no entity of its type (after O, or after another type) is an error naming
    the file and line, not repaired: the corpus is IOB2 throughout, so such a tag means a broken
    file, and a silent repair would change the gold spans.

    The corpus has no train split, so train and dev both read the dev file and `heldout_every`
    holds a fixed part of it out for early stopping (see `HeldOutDevTask`); test is the test file.
    """

    def read_file(self, path: Path) -> list[Example]:
        return [example for block in read_blocks(path)
                if (example := self._example(path, block)) is not None]

    def _example(self, path: Path, block: Lines) -> Example | None:
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
        return Example(words, targets, f"{path}:{block[0][0]}", ids[0] if ids else "")
