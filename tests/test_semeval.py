"""SemEval-2010 Task 8: marker-exact tokenization, the record format, the fixed held-out dev
split, the official score and the official answer file."""

import numpy as np
import pytest
from conftest import task_files

from probing.tasks.semeval import LABELS, RelationTask, semeval_official_f1, tokenize
from probing.utils.errors import ProbingError

RECORDS = (
    '1\t"The <e1>tree</e1>-planting crew\'s \\"<e2>truck-mounted rigs</e2>\\", (sic)."\n'
    "Product-Producer(e2,e1)\n"
    "Comment: markers next to a hyphen and inside quotes\n"
    "\n"
    '2\t"A m<e2>bath</e2> of <e1>soap</e1>."\n'
    "Other\n"
    "Comment:\n"
    "\n"
).replace('\\"', '"').replace("\n", "\r\n")  # the corpus files have CRLF line endings


def relations(path, every=2):
    return RelationTask(heldout_every=every, **task_files("relations", "test-corpus", path))


def write(tmp_path, text=RECORDS):
    path = tmp_path / "TRAIN_FILE.TXT"
    path.write_bytes(text.encode())
    return path


def test_markers_always_fall_between_words():
    words, marks = tokenize('The <e1>tree</e1>-planting crew\'s "<e2>truck-mounted rigs</e2>", '
                            '(sic).')
    assert words == ["The", "tree", "-", "planting", "crew's", '"', "truck-mounted", "rigs", '"',
                     ",", "(", "sic", ")", "."]
    assert dict(marks) == {"<e1>": [1], "</e1>": [2], "<e2>": [6], "</e2>": [8]}
    # a marker inside a word cuts the word
    assert tokenize("m<e2>bath</e2>")[0] == ["m", "bath"]


def test_records_give_e1_and_e2_spans_with_the_corpus_id(tmp_path):
    path = write(tmp_path)
    first, second = relations(path).read("test")
    assert first.id == "1" and first.source == f"{path}:1"
    [target] = first.targets
    assert (first.words[1:2], first.words[6:8]) == (["tree"], ["truck-mounted", "rigs"])
    assert (target.span1, target.span2, target.label) == ((1, 2), (6, 8), "Product-Producer(e2,e1)")
    [target] = second.targets
    assert (second.id, second.words, target.span1, target.span2, target.label) == (
        "2", ["A", "m", "bath", "of", "soap", "."], (4, 5), (2, 3), "Other")
    assert RelationTask.n_spans == 2 and len(LABELS) == 19


@pytest.mark.parametrize("old,new,message", [
    ("</e1>-planting", "-planting", r":1: the sentence needs one <e1>\.\.\.</e1>"),
    ("\"A m<e2>", "A m<e2>", ":5: malformed SemEval record"),
    ("\nOther", "\nOther(e1,e2)", ":6: unknown relation label 'Other\\(e1,e2\\)'"),
    ("<e2>bath</e2> of <e1>soap</e1>", "<e1>bath <e2>of</e2> soap</e1>",
     ":5: the markers nest or cross \\(<e1> <e2> </e2> </e1>\\)"),
    ("<e2>bath</e2> of <e1>soap</e1>", "<e2>bath <e1>of</e2> soap</e1>",
     ":5: the markers nest or cross \\(<e2> <e1> </e2> </e1>\\)"),
    ('2\t"A', '1\t"A', ":5: sentence id 1 was already used at .*:1; ids must be unique"),
])
def test_malformed_records_name_file_and_line(tmp_path, old, new, message):
    path = write(tmp_path, RECORDS.replace(old, new))
    with pytest.raises(ProbingError, match=f"{path}{message}"):
        relations(path).read("train")


def test_official_score_by_hand(tmp_path):
    CE, CW, MT, EO = "Cause-Effect", "Component-Whole", "Message-Topic", "Entity-Origin"
    pairs = [  # (gold, predicted)
        (f"{CE}(e1,e2)", f"{CE}(e1,e2)"),  # 1  correct
        (f"{CE}(e1,e2)", f"{CE}(e2,e1)"),  # 2  wrong direction
        (f"{CE}(e2,e1)", f"{CE}(e2,e1)"),  # 3  correct
        (f"{CE}(e2,e1)", "Other"),         # 4  missed
        (f"{CW}(e1,e2)", f"{CW}(e1,e2)"),  # 5  correct
        (f"{CW}(e2,e1)", f"{CE}(e1,e2)"),  # 6  wrong relation
        (f"{CW}(e1,e2)", f"{CW}(e2,e1)"),  # 7  wrong direction
        (f"{MT}(e1,e2)", f"{MT}(e1,e2)"),  # 8  correct
        ("Other", "Other"),                # 9  Other right: counts for nothing
        ("Other", f"{MT}(e2,e1)"),         # 10 false MT
        ("Other", f"{EO}(e1,e2)"),         # 11 a relation absent from gold
        (f"{MT}(e2,e1)", f"{EO}(e2,e1)"),  # 12 missed MT
        ("Other", f"{CE}(e2,e1)"),         # 13 false CE
    ]
    # Relations in gold, Other left out: CE, CW, MT (EO is never gold, so it is not averaged).
    # P = correct / predicted as the relation in either direction (the scorer's xDIRx column is
    # added back to the denominator), R = correct / gold of the relation, direction must match:
    #   CE: correct {1, 3} = 2; predicted {1, 2, 3, 6, 13} = 5; gold {1, 2, 3, 4} = 4
    #       P = 2/5, R = 2/4, F1 = 2 * 2/5 * 1/2 / (2/5 + 1/2) = (2/5) / (9/10) = 4/9
    #   CW: correct {5} = 1; predicted {5, 7} = 2; gold {5, 6, 7} = 3
    #       P = 1/2, R = 1/3, F1 = 2 * 1/2 * 1/3 / (1/2 + 1/3) = (1/3) / (5/6) = 2/5
    #   MT: correct {8} = 1; predicted {8, 10} = 2; gold {8, 12} = 2
    #       P = 1/2, R = 1/2, F1 = 1/2
    # official = (4/9 + 2/5 + 1/2) / 3 = (40 + 36 + 45) / 90 / 3 = 121/270 = 0.448148...
    # (the scorer prints 44.81%)
    gold, predicted = zip(*pairs, strict=True)
    assert semeval_official_f1(list(gold), list(predicted)) == pytest.approx(121 / 270)
    assert semeval_official_f1(list(gold), list(gold)) == 1.0

    labels = sorted(LABELS)
    task_scores = relations(write(tmp_path)).labeling.score(
        np.array([labels.index(g) for g in gold]), np.array([labels.index(p) for p in predicted]),
        labels)
    assert task_scores["semeval_official_f1"] == pytest.approx(121 / 270)
    assert task_scores["accuracy"] == pytest.approx(5 / 13)
    assert set(task_scores) == {"accuracy", "macro_f1", "semeval_official_f1"}


def test_dev_metric_is_the_official_score_and_answers_are_in_the_official_format(tmp_path):
    path = write(tmp_path)
    task = relations(path)
    assert task.metric == "semeval_official_f1"
    task.write_predictions(tmp_path, task.read("test"), ["Other", "Cause-Effect(e1,e2)"])
    assert (tmp_path / "test_answers.txt").read_text() == "1\tOther\n2\tCause-Effect(e1,e2)\n"


def test_semeval_split_sizes(data_dir):
    folder = data_dir / "semeval2010-task8"
    train, test = folder / "TRAIN_FILE.TXT", folder / "TEST_FILE_FULL.TXT"
    task = RelationTask(heldout_every=10,
                        **task_files("relations", "semeval2010-task8", train, train, test))
    splits = {split: task.read(split) for split in ("train", "dev", "test")}
    assert {split: len(ex) for split, ex in splits.items()} == {
        "train": 7200, "dev": 800, "test": 2717}
    assert [e.id for e in splits["dev"][:2]] == ["10", "20"]
    assert (splits["test"][0].id, splits["test"][-1].id) == ("8001", "10717")
    assert {t.label for e in splits["train"] for t in e.targets} == LABELS


def test_the_training_file_as_test_is_refused(tmp_path):
    """Train and dev are held out of one file; a test split read from it too is refused."""
    path = write(tmp_path)
    task = RelationTask(heldout_every=2, **task_files("relations", "test-corpus", path, path,
                                                      path))
    with pytest.raises(ProbingError, match=r"task relations: the train split .* both read "
                                           r".*TRAIN_FILE\.TXT, so the probe would train on "
                                           r"what it is tested on"):
        task.read_splits()
    (tmp_path / "t").mkdir()
    task = RelationTask(heldout_every=2, **task_files("relations", "test-corpus", path, path,
                                                      write(tmp_path / "t")))
    assert set(task.read_splits()) == {"train", "dev", "test"}, "dev held out of train is fine"
