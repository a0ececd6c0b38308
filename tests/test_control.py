"""Control tasks: the same spans, a fixed random label per word type, drawn as training is."""

from collections import Counter

from probing.tasks import Example, Target
from probing.tasks.control import control_task

WORDS = ["the", "cat", "sat", "on", "a", "mat", "dog", "ran"]


def splits(n: int = 400) -> dict[str, list[Example]]:
    def sentence(i: int) -> Example:
        words = [WORDS[(i * 7 + k * 3) % len(WORDS)] + str(k % 2) for k in range(5)]
        return Example(words, [Target((k, k + 1), None, "NOUN" if k % 3 else "VERB")
                               for k in range(5)] + [Target((0, 1), (2, 4), "rel")])
    return {"train": [sentence(i) for i in range(n)], "dev": [sentence(i) for i in range(9)],
            "test": [sentence(i + 3) for i in range(9)]}


def test_control_labels_are_a_function_of_the_span_words():
    control = control_task(splits(), seed=0)
    label_of: dict[tuple, str] = {}
    for examples in control.values():
        for ex in examples:
            for t in ex.targets:
                key = (tuple(ex.words[slice(*t.span1)]),
                       t.span2 and tuple(ex.words[slice(*t.span2)]))
                assert label_of.setdefault(key, t.label) == t.label
    assert len(set(label_of.values())) > 1


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
