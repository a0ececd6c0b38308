"""Control tasks: the same spans, a fixed random label per word type, drawn as training is."""

from collections import Counter

from conftest import task_files

from probing.tasks import Example, Target
from probing.tasks.conllu import POSTask
from probing.tasks.control import KEY_RULE, control_record, control_task

WORDS = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran"]


def splits(n: int = 400) -> dict[str, list[Example]]:
    def sentence(i: int) -> Example:
        words = [WORDS[(i * 7 + k * 3) % len(WORDS)] + str(k % 2) for k in range(5)]
        return Example(words, [Target((k, k + 1), None, "NOUN" if k % 3 else "VERB")
                               for k in range(5)] + [Target((0, 1), (2, 4), "rel")])
    return {"train": [sentence(i) for i in range(n)], "dev": [sentence(i) for i in range(9)],
            "test": [sentence(i + 3) for i in range(9)]}


def test_control_labels_are_a_function_of_the_key_word():
    """One word: the word; a longer span: its last word; a pair: span 1's key."""
    control = control_task(splits(), seed=0)
    label_of: dict[str, str] = {}
    for examples in control.values():
        for ex in examples:
            for t in ex.targets:
                assert label_of.setdefault(ex.words[t.span1[1] - 1], t.label) == t.label
    assert len(set(label_of.values())) > 1


def test_nested_spans_that_share_their_last_word_share_a_control_label():
    # consts-style: (S (NP the cat) (VP sat (PP on (NP the mat)))) as multi-label targets
    words = ["the", "cat", "sat", "on", "the", "mat"]
    spans = [((0, 6), ("S",)), ((0, 2), ("NP",)), ((2, 6), ("VP",)), ((3, 6), ("PP",)),
             ((4, 6), ("NP",)), ((1, 2), ("NN",))]
    train = [Example(words, [Target(span, None, label) for span, label in spans])]
    [example] = control_task({"train": train}, seed=3)["train"]
    by_span = {t.span1: t.label for t in example.targets}
    assert by_span[0, 6] == by_span[2, 6] == by_span[3, 6] == by_span[4, 6]  # all end on "mat"
    assert by_span[0, 2] == by_span[1, 2]  # both end on "cat"
    pair = Example(words, [Target((1, 2), (2, 3), ("NP",)), Target((0, 2), (5, 6), ("VP",))])
    [relabelled] = control_task({"train": train, "test": [pair]}, seed=3)["test"]
    assert [t.label for t in relabelled.targets] == [by_span[1, 2], by_span[1, 2]]


def test_share_of_targets_whose_key_was_seen_in_training():
    train = [Example(["a", "b", "c"], [Target((0, 1), None, "X"), Target((1, 3), None, "Y")])]
    dev = [Example(["c", "d"], [Target((0, 1), None, "X"), Target((1, 2), None, "X")])]
    # keys: train {a, c}; dev c, d; test b (the span "c b" ends on b), a (span 1 of the
    # pair), c, a (the span "c b a")
    test = [Example(["c", "b", "a"], [Target((0, 2), None, "Y"), Target((2, 3), (0, 1), "X"),
                                      Target((0, 1), None, "X"), Target((0, 3), None, "Y")])]
    record = control_record({"train": train, "dev": dev, "test": test})
    assert record["control_key_seen_in_train"] == 3 / 4
    assert record["control_key_seen_in_train_dev"] == 1 / 2
    assert record["control_key"] == KEY_RULE


def test_control_run_records_its_key_rule_and_seen_shares(tmp_path):
    path = tmp_path / "x.conllu"
    path.write_text("1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n\n"
                    "1\tHo\tho\tINTJ\tUH\t_\t0\troot\t_\t_\n")
    copies = [tmp_path / name for name in ("dev.conllu", "test.conllu")]
    for copy in copies:
        copy.write_text(path.read_text())
    task = POSTask(column="upos", **{**task_files("upos", "test-corpus", path, *copies),
                                     "control": True})
    assert "control_key" not in task.describe(), "known once the splits are read"
    task.read_splits()
    assert task.describe() == {"control_key": KEY_RULE, "control_key_seen_in_train": 1.0,
                               "control_key_seen_in_train_dev": 1.0}


def test_control_keeps_spans_and_follows_training_label_shares():
    original, control = splits(), control_task(splits(), seed=0)
    for before, after in zip(original["train"], control["train"], strict=True):
        assert [(t.span1, t.span2) for t in before.targets] == [
            (t.span1, t.span2) for t in after.targets]
        assert before.words == after.words


def test_control_labels_follow_training_label_shares():
    # 4,000 word types, one target each, 3 in 4 labelled NOUN
    train = [Example([f"w{i}"], [Target((0, 1), None, "NOUN" if i % 4 else "VERB")])
             for i in range(4000)]
    control = control_task({"train": train}, seed=0)
    share = Counter(t.label for ex in control["train"] for t in ex.targets)["NOUN"] / 4000
    assert abs(share - 0.75) < 0.03  # 4 standard errors


def test_control_is_fixed_by_its_seed():
    first, again = control_task(splits(), seed=0), control_task(splits(), seed=0)
    other = control_task(splits(), seed=1)
    labels = lambda c: [t.label for ex in c["train"] for t in ex.targets]  # noqa: E731
    assert labels(first) == labels(again)
    assert labels(first) != labels(other)


def test_a_control_tasks_labels_are_every_label_its_function_can_give(tmp_path):
    # 30 words tagged NOUN and one VERB: relabelled by word, training most likely holds no VERB,
    # yet a test word unseen in training may draw it (deps' rare 'dislocated', control seed 3)
    rows = [f"{i + 1}\tw{i}\tw\t{'VERB' if i == 0 else 'NOUN'}\tNN\t_\t0\troot\t_\t_"
            for i in range(31)]
    path = tmp_path / "x.conllu"
    path.write_text("\n".join(rows) + "\n")
    copies = [tmp_path / name for name in ("dev.conllu", "test.conllu")]
    for copy in copies:
        copy.write_text(path.read_text())
    task = POSTask(column="upos", **{**task_files("upos", "test-corpus", path, *copies),
                                     "control": True})
    splits = task.read_splits()
    vocab = task.vocabulary(splits)
    assert vocab.labels == ["NOUN", "VERB"]
    example = splits["test"][0]
    vocab.check([Example(example.words, [Target((0, 1), None, "VERB")])])  # no error
