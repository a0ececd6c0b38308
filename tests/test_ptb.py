"""Constituents from PTB trees: traces removed, function tags and indices stripped, unary chains
one multi-label target, split by file number."""

import pytest
from conftest import REPO, task_files
from omegaconf import OmegaConf

from probing.tasks import LabelVocab
from probing.tasks.labels import MultiLabel
from probing.tasks.ptb import ConstituentTask, category
from probing.utils.errors import ProbingError

TREES = """( (S
    (NP-SBJ-1 (NNP John) )
    (VP (VBD wanted)
      (S
        (NP-SBJ (-NONE- *-1) )
        (VP (TO to)
          (VP (VB leave)
            (PRN (-LRB- -LRB-) (NP (NN now) ) (-RRB- -RRB-) )
            (PP-LOC=2 (IN at) (NP (CD 5) ))))))
    (. .) ))
( (NP-HLN (NN Briefs) (: :) ))
"""
RANGES = {"train": [1, 2], "dev": [3, 3], "test": [3, 3]}


def consts(folder, file_numbers=RANGES):
    return ConstituentTask(file_numbers=file_numbers, **task_files("consts", "test-corpus", folder))


def test_targets_of_a_tree_with_traces_tags_indices_and_a_unary_chain(tmp_path):
    (tmp_path / "wsj_0001.mrg").write_text(TREES)
    first, second = consts(tmp_path).read_file(tmp_path / "wsj_0001.mrg")
    assert first.words == ["John", "wanted", "to", "leave", "(", "now", ")", "at", "5", "."]
    # the subject trace and the NP-SBJ over it are gone; the infinitival S and its VP cover
    # the same words: one target labelled with both
    assert [(t.span1, t.label) for t in first.targets] == [
        ((0, 10), ("S",)), ((0, 1), ("NP",)), ((1, 9), ("VP",)), ((2, 9), ("S", "VP")),
        ((3, 9), ("VP",)), ((4, 7), ("PRN",)), ((5, 6), ("NP",)), ((7, 9), ("PP",)),
        ((8, 9), ("NP",))]
    assert all(t.span2 is None for t in first.targets)
    assert second.words == ["Briefs", ":"] and second.source.endswith("wsj_0001.mrg:11")
    assert [(t.span1, t.label) for t in second.targets] == [((0, 2), ("NP",))]
    assert isinstance(ConstituentTask.labeling, MultiLabel)


def test_splits_are_file_number_ranges(tmp_path):
    for number in (1, 2, 3):
        (tmp_path / f"wsj_000{number}.mrg").write_text(TREES)
    task = consts(tmp_path)
    assert [len(task.read(split)) for split in ("train", "dev", "test")] == [4, 2, 2]
    assert task.describe() == {"split": {"train": "wsj_0001.mrg .. wsj_0002.mrg",
                                         "dev": "wsj_0003.mrg .. wsj_0003.mrg",
                                         "test": "wsj_0003.mrg .. wsj_0003.mrg"}}
    (tmp_path / "wsj_0002.mrg").unlink()
    with pytest.raises(ProbingError, match=r"task\.train=.*wsj_0002\.mrg: no such file"):
        task.read("train")


def test_malformed_tree_names_file_and_line(tmp_path):
    path = tmp_path / "wsj_0001.mrg"
    path.write_text(TREES.replace("(: :) ))", "(: :) )"))
    with pytest.raises(ProbingError, match=rf"{path}:11: malformed tree"):
        consts(tmp_path).read("train")


@pytest.mark.parametrize("numbers", [{"train": [1, 159], "dev": [160, 179]},
                                     {"train": [1, 2], "dev": [3, 3], "test": ["a", "b"]},
                                     {"train": [2, 1], "dev": [3, 3], "test": [4, 4]}])
def test_bad_file_numbers_are_a_config_error(tmp_path, numbers):
    with pytest.raises(ProbingError, match=r"task\.file_numbers must give each of train, dev, "
                                           r"test a range \[first, last\]"):
        consts(tmp_path, numbers)


def test_ptb_sample_split_of_the_config(data_dir):
    """The split of conf/task/consts.yaml covers the 3,914 trees, and every dev and test
    label occurs in train."""
    numbers = OmegaConf.load(REPO / "conf" / "task" / "consts.yaml").file_numbers
    task = consts(data_dir / "ptb-sample", OmegaConf.to_container(numbers))
    splits = {split: task.read(split) for split in ("train", "dev", "test")}
    assert {split: len(ex) for split, ex in splits.items()} == {
        "train": 3470, "dev": 224, "test": 220}
    vocab = LabelVocab.from_examples(splits["train"])
    vocab.check(splits["dev"])
    vocab.check(splits["test"])
    assert len(vocab) == 26


@pytest.mark.parametrize("old,new,message", [("(PRN (-LRB-", "( (-LRB-", "a bracket without"),
                                             ("(NP (CD 5) )", "(NP )", "empty bracket"),
                                             ("(PP-LOC=2 (IN", "(=2 (IN",
                                              "bracket label '=2' names no category")])
def test_bad_bracket_names_file_and_tree(tmp_path, old, new, message):
    path = tmp_path / "wsj_0001.mrg"
    path.write_text(TREES.replace(old, new))
    with pytest.raises(ProbingError, match=rf"{path}:1: {message}"):
        consts(tmp_path).read("train")


def test_categories_lose_function_tags_and_indices():
    labels = ["NP-SBJ-1", "PP-LOC=2", "NP=3", "S-TPC-1", "ADVP|PRT", "-NONE-", "-LRB-", "PRP$"]
    assert [category(label) for label in labels] == [
        "NP", "PP", "NP", "S", "ADVP", "-NONE-", "-LRB-", "PRP$"]


def test_tree_of_traces_only_names_file_and_line(tmp_path):
    path = tmp_path / "wsj_0001.mrg"
    path.write_text(TREES + "( (S (NP-SBJ (-NONE- *T*-1) ) ) )\n")
    with pytest.raises(ProbingError, match=rf"{path}:12: the tree has no words \(only -NONE- "
                                           rf"traces\)"):
        consts(tmp_path).read("train")


def test_empty_file_in_a_split_is_named(tmp_path):
    (tmp_path / "wsj_0001.mrg").write_text(TREES)
    (tmp_path / "wsj_0002.mrg").write_text("")
    with pytest.raises(ProbingError, match=rf"{tmp_path / 'wsj_0002.mrg'}: the file is empty"):
        consts(tmp_path).read("train")
