"""Dependency arcs from CoNLL-U: dependent -> head pairs, subtypes cut or kept, root skipped."""

import pytest
from conftest import task_files

from probing.tasks.base import DependencyTree
from probing.tasks.conllu import DependencyTask, POSTask
from probing.utils.errors import ProbingError

# A multiword token (2-3), an empty node (4.1) and a subtyped relation (nmod:poss).
SENTENCE = """# text = My cat can't go.
1	My	my	PRON	PRP$	_	2	nmod:poss	_	_
2	cat	cat	NOUN	NN	_	5	nsubj	_	_
3-4	can't	_	_	_	_	_	_	_	_
3	ca	can	AUX	MD	_	5	aux	_	_
4	n't	not	PART	RB	_	5	advmod	_	_
4.1	went	go	VERB	VBD	_	_	_	0:root	_
5	go	go	VERB	VB	_	0	root	_	_
6	.	.	PUNCT	.	_	5	punct	_	_

"""


def deps(path, dev=None, test=None, subtypes="cut"):
    return DependencyTask(subtypes=subtypes, **task_files("deps", "test-corpus", path, dev, test))


@pytest.fixture
def conllu_file(tmp_path):
    path = tmp_path / "x.conllu"
    path.write_text(SENTENCE)
    return path


def test_arcs_point_from_dependent_to_head_and_skip_the_root(conllu_file):
    [example] = deps(conllu_file).read("train")
    assert example.words == ["My", "cat", "ca", "n't", "go", "."]
    assert [(t.span1, t.span2, t.label) for t in example.targets] == [
        ((0, 1), (1, 2), "nmod"), ((1, 2), (4, 5), "nsubj"), ((2, 3), (4, 5), "aux"),
        ((3, 4), (4, 5), "advmod"), ((5, 6), (4, 5), "punct")]
    assert example.targets[0].source == f"{conllu_file}:2"
    assert DependencyTask.n_spans == 2


def test_subtypes_are_kept_on_request(conllu_file):
    [example] = deps(conllu_file, subtypes="keep").read("dev")
    assert example.targets[0].label == "nmod:poss"
    assert deps(conllu_file, subtypes="keep").describe() == {"subtypes": "keep"}


def test_unknown_subtypes_setting_names_the_key_and_the_choices(conllu_file):
    with pytest.raises(ProbingError, match=r"task\.subtypes='drop' is not one of: cut \| keep"):
        deps(conllu_file, subtypes="drop")


@pytest.mark.parametrize("head", ["_", "9"])
def test_missing_or_out_of_range_head_names_file_and_line(tmp_path, head):
    path = tmp_path / "bad.conllu"
    path.write_text(SENTENCE.replace("_\t5\tnsubj", f"_\t{head}\tnsubj"))
    with pytest.raises(ProbingError, match=rf"{path}:3: word 'cat' has no usable head"):
        deps(path).read("train")


def test_ewt_dev_has_an_arc_for_every_word_but_the_roots(data_dir):
    dev = data_dir / "ud-english-ewt" / "en_ewt-ud-dev.conllu"
    examples = deps(dev).read("dev")
    assert sum(len(e.targets) for e in examples) == 25147 - 2001
    # the same sentences as the POS task, hence one shared activation cache
    pos = POSTask(column="upos", **task_files("upos", "ud-english-ewt", dev)).read("dev")
    assert [e.words for e in examples] == [e.words for e in pos]
    assert len({t.label for e in examples for t in e.targets}) < len(
        {t.label for e in deps(dev, subtypes="keep").read("dev") for t in e.targets})


def test_tree_of_the_basic_words_without_multiword_tokens_and_empty_nodes(conllu_file):
    """Heads 0-based, -1 for the root; the range 3-4 and the empty node 4.1 are not words."""
    for task in (deps(conllu_file), POSTask(column="xpos",
                                            **task_files("xpos", "test-corpus", conllu_file))):
        [example] = task.read("test")
        assert example.tree == DependencyTree(heads=(1, 4, 4, 4, -1, 4),
                                              punct=(False, False, False, False, False, True))
        assert len(example.tree.heads) == len(example.words)


@pytest.mark.parametrize("replacements", [
    [("_\t5\tnsubj", "_\t_\tnsubj")],  # a head missing: a POS task reads the file all the same
    [("_\t5\taux", "_\t4\taux"), ("_\t5\tadvmod", "_\t3\tadvmod")],  # 3 -> 4 -> 3: a cycle
    [("_\t5\tpunct", "_\t0\troot")],  # two roots
])
def test_no_tree_where_the_heads_make_none(tmp_path, replacements):
    text = SENTENCE
    for old, new in replacements:
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "x.conllu"
    path.write_text(text)
    [example] = POSTask(column="upos", **task_files("upos", "test-corpus", path)).read("train")
    assert example.tree is None


def test_every_ewt_sentence_has_a_tree(data_dir):
    dev = data_dir / "ud-english-ewt" / "en_ewt-ud-dev.conllu"
    examples = deps(dev).read("dev")
    assert all(e.tree is not None and len(e.tree.heads) == len(e.words) for e in examples)
    assert sum(e.tree.heads.count(-1) for e in examples) == len(examples)
    # every arc target is the tree's: dependent i, head tree.heads[i]
    assert all(t.span2[0] == e.tree.heads[t.span1[0]] for e in examples for t in e.targets)


def test_split_without_any_arc_is_named(tmp_path):
    path = tmp_path / "x.conllu"
    path.write_text("1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n\n1\tHo\tho\tINTJ\tUH\t_\t0\troot\t_\t_\n")
    for name in ("dev.conllu", "test.conllu"):
        path.with_name(name).write_text(path.read_text())
    with pytest.raises(ProbingError, match=rf"task deps: the train split \(task\.train={path}\) "
                                           rf"holds 2 sentences but no target to probe"):
        deps(path, path.with_name("dev.conllu"), path.with_name("test.conllu")).read_splits()
