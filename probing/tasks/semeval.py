"""SemEval-2010 Task 8: the relation between two marked nominals of a sentence, with its
official score."""

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from probing.tasks import resampled
from probing.tasks.base import Example, Label, Target
from probing.tasks.heldout import HeldOutDevTask
from probing.tasks.labels import SingleLabel
from probing.utils.atomic import write_text_atomic
from probing.utils.errors import ProbingError
from probing.utils.text_files import Lines, read_blocks, require_items

WHAT = "a SemEval-2010 Task 8 file (TRAIN_FILE.TXT or TEST_FILE_FULL.TXT)"

RELATIONS = ("Cause-Effect", "Component-Whole", "Content-Container", "Entity-Destination",
             "Entity-Origin", "Instrument-Agency", "Member-Collection", "Message-Topic",
             "Product-Producer")
OTHER = "Other"
LABELS = {OTHER} | {f"{r}({a},{b})" for r in RELATIONS for a, b in (("e1", "e2"), ("e2", "e1"))}

RECORD = re.compile(r'(\d+)\t"(.*)"')
MARKER = re.compile(r"(</?e[12]>)")
# A word is a run of letters and digits, joined across inner hyphens and apostrophes
# (tree-planting, don't); any other non-space character is a word of its own.
WORD = re.compile(r"\w+(?:[-'’]\w+)*|[^\w\s]")


def tokenize(text: str) -> tuple[list[str], dict[str, list[int]]]:
    """The words of a marked sentence, and for each marker the word positions where it stands.

    The text is cut at the markers before it is cut into words, so a marker always falls
    between two words, even inside a word: <e1>tree</e1>-planting gives tree, -, planting."""
    words: list[str] = []
    marks: dict[str, list[int]] = defaultdict(list)
    for piece in MARKER.split(text):
        if MARKER.fullmatch(piece):
            marks[piece].append(len(words))
        else:
            words += WORD.findall(piece)
    return words, marks


def _example(path: Path, block: Lines) -> Example:
    source = f"{path}:{block[0][0]}"
    record = RECORD.fullmatch(block[0][1])
    if not record or len(block) < 2:
        raise ProbingError(
            f"{source}: malformed SemEval record: expected a line <id><TAB>\"<sentence>\" "
            f"followed by a label line, found {block[0][1][:80]!r}")
    label_lineno, label = block[1]
    if label not in LABELS:
        raise ProbingError(f"{path}:{label_lineno}: unknown relation label {label!r}; "
                           f"expected Other or a relation such as Cause-Effect(e1,e2)")
    words, marks = tokenize(record.group(2))
    spans = [_span(source, marks, entity) for entity in ("e1", "e2")]
    order = MARKER.findall(record.group(2))
    if order not in (["<e1>", "</e1>", "<e2>", "</e2>"], ["<e2>", "</e2>", "<e1>", "</e1>"]):
        raise ProbingError(f"{source}: the markers nest or cross ({' '.join(order)}); the two "
                           f"nominals are marked apart, <e1>...</e1> and <e2>...</e2>")
    return Example(words, [Target(spans[0], spans[1], label, source)], source, record.group(1))


def _span(source: str, marks: dict[str, list[int]], entity: str) -> tuple[int, int]:
    opens, closes = marks[f"<{entity}>"], marks[f"</{entity}>"]
    if len(opens) != 1 or len(closes) != 1 or opens[0] >= closes[0]:
        raise ProbingError(f"{source}: the sentence needs one <{entity}>...</{entity}> "
                           f"around at least one word; fix its markers")
    return opens[0], closes[0]


def relation(label: str) -> str:
    """The relation of a directed label: Cause-Effect(e2,e1) -> Cause-Effect; Other stays."""
    return label.split("(")[0]


def semeval_official_f1(gold: list[str], predicted: list[str]) -> float:
    """The official score of SemEval-2010 Task 8 (semeval2010_task8_scorer-v1.2.pl, "(9+1)-way
    evaluation with directionality taken into account"), as a fraction rather than a percentage.

    Per relation R (direction dropped) that occurs in gold, Other left out:
      correct = items whose gold relation is R and whose prediction equals the gold label,
                direction included;
      P = correct / (items predicted as R in either direction); the scorer counts the
          predictions of R with the wrong direction separately (xDIRx) and adds them back to
          the denominator, so they are errors for both P and R;
      R = correct / (items whose gold relation is R);  F1 = 2PR / (P + R), 0 where P + R = 0.
    The score is the mean F1 over the relations that occur in gold. Predictions of relations
    absent from gold lower only the recall of the gold relation they replace (the scorer treats
    them like Other)."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")
    f1s = []
    for r in sorted({relation(label) for label in gold} - {OTHER}):
        correct = sum(g == p and relation(g) == r for g, p in zip(gold, predicted, strict=True))
        n_predicted = sum(relation(p) == r for p in predicted)
        n_gold = sum(relation(g) == r for g in gold)
        precision = correct / n_predicted if n_predicted else 0.0
        recall = correct / n_gold
        f1s.append(2 * precision * recall / (precision + recall) if correct else 0.0)
    return sum(f1s) / len(f1s) if f1s else 0.0


class SemEvalLabeling(SingleLabel):
    """One of the 19 labels a target; the dev metric is the official score, which needs the
    label names, beside accuracy and macro-F1."""

    metric: ClassVar[str] = "semeval_official_f1"

    def score(self, gold: np.ndarray, predicted: np.ndarray, labels: list[str]
              ) -> dict[str, float]:
        names = np.array(labels)
        official = semeval_official_f1(names[gold].tolist(), names[predicted].tolist())
        return {**super().score(gold, predicted, labels), "semeval_official_f1": official}

    def count_columns(self, metric: str, gold: np.ndarray, predicted: np.ndarray,
                      labels: list[str]) -> np.ndarray | None:
        if metric != "semeval_official_f1":
            return super().count_columns(metric, gold, predicted, labels)
        return official_f1_columns(gold, predicted, labels)

    def of_sums(self, metric: str, sums: np.ndarray, labels: list[str]) -> np.ndarray:
        if metric != "semeval_official_f1":
            return super().of_sums(metric, sums, labels)
        return official_f1_of_sums(sums)


def official_f1_columns(gold: np.ndarray, predicted: np.ndarray, labels: list[str]
                        ) -> np.ndarray:
    """The counts of the official score (`semeval_official_f1`), three per relation R (Other
    left out): correct (exact label, direction included), predicted as R in either direction,
    gold R: (items, 3 x relations)."""
    names = sorted({relation(label) for label in labels} - {OTHER})
    of = np.array([names.index(relation(label)) if relation(label) in names else -1
                   for label in labels])
    gold_r, predicted_r = of[gold], of[predicted]
    return np.concatenate([np.stack([(gold == predicted) & (gold_r == r), predicted_r == r,
                                     gold_r == r], axis=1) for r in range(len(names))], axis=1)


def official_f1_of_sums(sums: np.ndarray) -> np.ndarray:
    """The official score of summed counts (`official_f1_columns`): F1 per relation, averaged
    over the relations that occur in gold."""
    correct, n_predicted, n_gold = (sums[..., k::3] for k in range(3))
    precision = np.nan_to_num(resampled.ratio(correct, n_predicted))
    recall = np.nan_to_num(resampled.ratio(correct, n_gold))
    f1 = np.where(correct > 0, np.nan_to_num(resampled.ratio(2 * precision * recall,
                                                             precision + recall)), 0.0)
    present = n_gold > 0
    return np.where(present.any(axis=-1), resampled.ratio((f1 * present).sum(axis=-1),
                                                          present.sum(axis=-1)), 0.0)


@dataclass(kw_only=True, eq=False)
class RelationTask(HeldOutDevTask):
    """Relation classification: span1 is the first marked nominal (e1), span2 the second (e2),
    the label one of 19 (9 relations in two directions, and Other).

    The dev metric is the official score (`SemEvalLabeling`).
    The corpus has no dev split: `heldout_every` holds a fixed part of the training file out for
    early stopping (see `HeldOutDevTask`)."""

    n_spans = 2
    labeling = SemEvalLabeling()

    def read_file(self, path: Path) -> list[Example]:
        examples = [_example(path, block) for block in read_blocks(path, WHAT)]
        require_items(examples, path, "records")
        first: dict[str, str] = {}
        for example in examples:
            if (seen := first.setdefault(example.id, example.source)) != example.source:
                raise ProbingError(
                    f"{example.source}: sentence id {example.id} was already used at {seen}; "
                    f"ids must be unique (the official answer file names sentences by id)")
        return examples

    def write_predictions(self, folder: Path, examples: list[Example], predicted: list[Label]
                          ) -> None:
        """test_answers.txt in the official answer format: <sentence id><TAB><label> a line,
        for the official scorer. `predicted` holds one label a target (one a sentence here)."""
        ids = [example.id for example in examples for _ in example.targets]
        lines = [f"{id_}\t{label}\n" for id_, label in zip(ids, predicted, strict=True)]
        write_text_atomic(Path(folder) / "test_answers.txt", "".join(lines))
