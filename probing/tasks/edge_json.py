"""Edge-probing data in jiant v1's JSON-lines format, the format in which Tenney et al. (2019)
prepared their eight tasks (POS, constituents, dependencies, entities, SRL, coreference, SPR,
relations): any of them, or a new one, is this reader and one YAML file (conf/task/edge_json.yaml).

One sentence a line:
    {"text": "The cat sat .", "targets": [{"span1": [1, 2], "span2": [2, 3], "label": "nsubj"}]}
The text is split on single spaces into words; spans are half-open word ranges [start, end);
`span2` is there in two-span tasks only; a label is a string, or in a multi-label task a list of
strings (SPR's properties). Other keys ("info", "span1_text", ...) are ignored.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from probing.tasks.base import Example, Label, Target, Task
from probing.tasks.labels import MultiLabel, SingleLabel
from probing.utils.errors import ProbingError
from probing.utils.text_files import read_lines, require_items

WHAT = 'an edge-probing JSON-lines file (one {"text": ..., "targets": [...]} a line)'


@dataclass(kw_only=True, eq=False)
class EdgeJSONTask(Task):
    """A task read from edge-probing JSON lines. `n_spans` (1 or 2) says whether targets are
    spans or pairs of spans; `multilabel` whether a target carries a list of labels (a sigmoid
    per label, micro-F1) or one label (softmax, accuracy)."""

    n_spans: int = field()  # a setting here, no default: field() hides Task's class-level 1
    multilabel: bool

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_spans not in (1, 2) or isinstance(self.n_spans, bool):
            raise ProbingError(f"task.n_spans={self.n_spans!r} must be 1 (one span a target) or "
                               f"2 (span1 and span2)")
        if not isinstance(self.multilabel, bool):
            raise ProbingError(f"task.multilabel={self.multilabel!r} must be true (a list of "
                               f"labels a target) or false (one label)")
        self.labeling = MultiLabel() if self.multilabel else SingleLabel()

    def read_file(self, path: Path) -> list[Example]:
        examples = [self._example(f"{path}:{lineno}", line)
                    for lineno, line in read_lines(path, WHAT) if line.strip()]
        require_items(examples, path, "records")
        return examples

    def describe(self) -> dict:
        return {"n_spans": self.n_spans, "multilabel": self.multilabel, **super().describe()}

    def _example(self, source: str, line: str) -> Example:
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise ProbingError(f"{source}: not valid JSON ({e.msg} at column {e.colno}); each "
                               f"line holds one JSON object") from None
        text = _field(record, "text", str, source, "a string")
        targets = _field(record, "targets", list, source, "a list")
        words = text.split(" ")
        if "" in words:
            raise ProbingError(f"{source}: the text has an empty word (two spaces in a row, or "
                               f"a space at either end, or no text); words are joined by single "
                               f"spaces")
        return Example(words, [self._target(source, k, target, len(words))
                               for k, target in enumerate(targets)], source)

    def _target(self, source: str, k: int, target: Any, n_words: int) -> Target:
        where = f"{source}: targets[{k}]"
        span1 = _span(where, _field(target, "span1", list, where, "a list"), n_words)
        if self.n_spans == 2:
            span2 = _span(where, _field(target, "span2", list, where, "a list"), n_words)
        elif "span2" in target:
            raise ProbingError(f"{where} has a span2, but task.n_spans=1; set task.n_spans=2 for "
                               f"a task over pairs of spans")
        else:
            span2 = None
        return Target(span1, span2, self._label(where, target), source)

    def _label(self, where: str, target: dict) -> Label:
        label = _field(target, "label", str | list, where, "a string or a list of strings")
        if isinstance(label, str):
            return (label,) if self.multilabel else label
        if not self.multilabel:
            raise ProbingError(f"{where}: the label is a list ({label!r}) in a single-label "
                               f"task; set task.multilabel=true, or give one label a target")
        if not all(isinstance(name, str) for name in label):
            raise ProbingError(f"{where}: labels must be strings, found {label!r}")
        return tuple(sorted(set(label)))


def _field(record: Any, key: str, kind: Any, where: str, expected: str) -> Any:
    """record[key], checked to be there and of the expected kind."""
    if not isinstance(record, dict):
        raise ProbingError(f"{where}: expected a JSON object, found {json.dumps(record)[:80]}")
    if key not in record:
        raise ProbingError(f"{where}: no {key!r}; each line holds {{\"text\": ..., "
                           f"\"targets\": [{{\"span1\": [start, end], \"label\": ...}}]}}")
    if not isinstance(record[key], kind):
        raise ProbingError(f"{where}: {key!r} is {json.dumps(record[key])[:80]}, not "
                           f"{expected}")
    return record[key]


def _span(where: str, span: list, n_words: int) -> tuple[int, int]:
    """A half-open word range [start, end) inside the sentence, with at least one word."""
    if not (len(span) == 2 and all(isinstance(i, int) and not isinstance(i, bool) for i in span)
            and 0 <= span[0] < span[1] <= n_words):
        raise ProbingError(f"{where}: span {span} is not a range [start, end) of word indices "
                           f"with 0 <= start < end <= {n_words} (the sentence's words)")
    return span[0], span[1]
