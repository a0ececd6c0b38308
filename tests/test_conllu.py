"""CoNLL-U reading: words of the basic tree only, and errors that point at the line."""

import pytest
from conftest import task_files

from probing.tasks import LabelVocab
from probing.tasks.conllu import DependencyTask, POSTask, read_conllu
from probing.utils.errors import ProbingError

GOOD = """# sent_id = 1
# text = I can't go.
1	I	I	PRON	PRP	_	3	nsubj	_	_
2-3	can't	_	_	_	_	_	_	_	_
2	ca	can	AUX	MD	_	4	aux	_	_
3	n't	not	PART	RB	_	4	advmod	_	_
4	go	go	VERB	VB	_	0	root	_	_
4.1	went	go	VERB	VBD	_	_	_	0:root	_
5	.	.	PUNCT	.	_	4	punct	_	_

1	Hello	hello	INTJ	UH	_	0	root	_	_
"""


def write(tmp_path, text, name="x.conllu"):
    path = tmp_path / name
    path.write_text(text)
    return path


def task(path, column="upos"):
    return POSTask(column=column, **task_files("pos", "test-corpus", path))


def test_words_skip_multiword_ranges_and_empty_nodes(tmp_path):
    sentences = read_conllu(write(tmp_path, GOOD))
    assert [s.words for s in sentences] == [["I", "ca", "n't", "go", "."], ["Hello"]]
    assert sentences[1].source.endswith("x.conllu:11")


def test_pos_targets_are_one_word_spans(tmp_path):
    [first, _second] = task(write(tmp_path, GOOD)).read("train")
    assert [t.span1 for t in first.targets] == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]
    assert [t.label for t in first.targets] == ["PRON", "AUX", "PART", "VERB", "PUNCT"]
    assert all(t.span2 is None for t in first.targets)
    assert [t.label for t in task(write(tmp_path, GOOD), "xpos").read("dev")[1].targets] == ["UH"]


def test_malformed_line_names_file_and_line(tmp_path):
    bad = GOOD.replace("4\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\t_", "4\tgo\tgo\tVERB")
    path = write(tmp_path, bad)
    with pytest.raises(ProbingError, match=rf"{path}:7: malformed CoNLL-U line.*found 4"):
        task(path).read("train")


def test_bad_field_value_names_file_and_line(tmp_path):
    path = write(tmp_path, GOOD.replace("VB\t_\t0\troot", "VB\t_\tzero\troot"))
    with pytest.raises(ProbingError, match=rf"{path}:7: malformed CoNLL-U line"):
        read_conllu(path)


def test_missing_blank_line_between_sentences_is_caught(tmp_path):
    path = write(tmp_path, GOOD.replace("\n\n1\tHello", "\n1\tHello"))
    with pytest.raises(ProbingError, match=rf"{path}:10: word ID 1 where 6 was expected"):
        read_conllu(path)


def test_missing_tag_is_an_error(tmp_path):
    path = write(tmp_path, GOOD.replace("Hello\thello\tINTJ", "Hello\thello\t_"))
    with pytest.raises(ProbingError, match=rf"{path}:11: word 'Hello' has no upos tag"):
        task(path).read("train")


def test_missing_file_says_where_and_how_to_fetch(tmp_path):
    with pytest.raises(ProbingError, match=r"python -m probing\.data fetch test-corpus"):
        task(tmp_path / "test-corpus" / "absent.conllu").read("test")
    with pytest.raises(ProbingError, match=r"task\.test=.*absent\.conllu: no such file"):
        task(tmp_path / "absent.conllu").read("test")


def test_label_unknown_to_training_split_is_an_error(tmp_path):
    examples = task(write(tmp_path, GOOD)).read("train")
    vocab = LabelVocab.from_examples(examples[1:])
    assert vocab.labels == ["INTJ"]
    with pytest.raises(ProbingError, match="label 'PRON' does not occur in the training split"):
        vocab.encode(examples[0], examples[0].targets[0])


def test_ewt_sizes_match_the_release(data_dir):
    ewt = data_dir / "ud-english-ewt"
    pos = POSTask(column="upos", **task_files(
        "upos", "ud-english-ewt", ewt / "en_ewt-ud-train.conllu", ewt / "en_ewt-ud-dev.conllu",
        ewt / "en_ewt-ud-test.conllu"))
    sizes = {split: (len(ex := pos.read(split)), sum(len(e.words) for e in ex))
             for split in ("train", "dev", "test")}
    assert sizes == {"train": (12544, 204577), "dev": (2001, 25147), "test": (2077, 25094)}
    assert len(LabelVocab.from_examples(pos.read("dev"))) == 17


def test_latin1_file_names_line_and_how_to_convert(tmp_path):
    path = tmp_path / "latin1.conllu"
    path.write_bytes(GOOD.replace("Hello\thello", "Héllo\théllo").encode("latin-1"))
    with pytest.raises(ProbingError, match=rf"{path}:11: byte e9 at column 4 is not UTF-8 "
                       "\\('1\\\\tH\ufffdllo.*iconv -f latin1 -t utf-8"):
        read_conllu(path)


def test_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.conllu"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.split("\n# text")[0].encode() + b"\n"
                     + b"\n".join(GOOD.encode().split(b"\n")[2:]))
    assert [s.words for s in read_conllu(path)] == [["I", "ca", "n't", "go", "."], ["Hello"]]
    no_comment = tmp_path / "bom2.conllu"
    no_comment.write_bytes(b"\xef\xbb\xbf1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n")
    assert [s.words for s in read_conllu(no_comment)] == [["Hi"]]


@pytest.mark.parametrize("text", ["\n\n", "# only a comment\n"])
def test_empty_file_is_named(tmp_path, text):
    path = write(tmp_path, text)
    with pytest.raises(ProbingError, match=rf"{path}: no sentences in the file"):
        read_conllu(path)


def test_folder_in_place_of_a_file_says_so(tmp_path):
    with pytest.raises(ProbingError, match=rf"{tmp_path} is a folder; give the path of a "):
        read_conllu(tmp_path)


def test_upos_tag_outside_ud_is_warned_about_once_per_file(tmp_path, caplog):
    path = write(tmp_path, GOOD.replace("go\tVERB\tVB", "go\tVERBB\tVB").replace(
        "ca\tcan\tAUX", "ca\tcan\tVERBB").replace("Hello\thello\tINTJ", "Hello\thello\tINTJJ"))
    examples = task(path).read("train")
    assert "VERBB" in {t.label for t in examples[0].targets}, "still a class of its own"
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warning.startswith(f"{path}:5: UPOS tag 'VERBB' is not one of UD's 17 (ADJ ADP ")
    assert warning.endswith(f"also 'INTJJ' at {path}:11")
    caplog.clear()
    task(path, "xpos").read("train")
    assert not caplog.records, "XPOS tags have no fixed inventory"


def test_relation_outside_ud_is_warned_about(tmp_path, caplog):
    path = write(tmp_path, GOOD.replace("4\taux", "4\tauxx:pass"))
    DependencyTask(subtypes="keep", **task_files("deps", "test-corpus", path)).read("train")
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warning.startswith(f"{path}:5: relation 'auxx' is not one of UD's 37 (acl ")
