"""Entities from IOB2: spans closed at O, at B- and at the sentence end; strict I- tags; a fixed
tenth of the training file held out as dev."""

import pytest
from conftest import task_files

from probing.errors import ProbingError
from probing.tasks.iob2 import EntityTask

SENTENCES = """# newdoc id = d1
# sent_id = s1
# text = Ann met Bob Lee in New York
1	Ann	B-PER	-	-
2	met	O	-	-
3	Bob	B-PER	-	-
4	Lee	I-PER	-	-
5	IBM	B-ORG	-	-
6	in	O	-	-
7	New	B-LOC	-	-
8	York	I-LOC	-	-

# sent_id = s2
1	Hi	O	-	-
"""


def entities(path, every=2, source="dev_heldout", train=None):
    return EntityTask(train_source=source, heldout_every=every,
                      **task_files("entities", "test-corpus", train or path, path, path))


def write(tmp_path, text):
    path = tmp_path / "x.iob2"
    path.write_text(text)
    return path


def test_entities_end_at_o_at_b_and_at_the_sentence_end(tmp_path):
    path = write(tmp_path, SENTENCES)
    first, second = entities(path).read("test")
    assert first.words == ["Ann", "met", "Bob", "Lee", "IBM", "in", "New", "York"]
    assert [(t.span1, t.label) for t in first.targets] == [
        ((0, 1), "PER"), ((2, 4), "PER"), ((4, 5), "ORG"), ((6, 8), "LOC")]
    assert first.targets[3].source == f"{path}:10"
    assert (first.id, first.source, second.id) == ("s1", f"{path}:1", "s2")
    assert second.words == ["Hi"] and second.targets == []


@pytest.mark.parametrize("old,new,line", [("7\tNew\tB-LOC", "7\tNew\tI-LOC", 10),
                                          ("1\tAnn\tB-PER", "1\tAnn\tI-PER", 4),
                                          ("8\tYork\tI-LOC", "8\tYork\tI-ORG", 11)])
def test_i_tag_that_continues_no_entity_of_its_type_names_file_and_line(tmp_path, old, new, line):
    path = write(tmp_path, SENTENCES.replace(old, new))
    with pytest.raises(ProbingError, match=rf"{path}:{line}: I-\w+ continues no"):
        entities(path).read("train")


def test_malformed_line_names_file_and_line(tmp_path):
    path = write(tmp_path, SENTENCES.replace("6\tin\tO", "6\tin\tX-LOC"))
    with pytest.raises(ProbingError, match=rf"{path}:9: malformed IOB2 line"):
        entities(path).read("test")


def test_dev_is_a_fixed_share_held_out_of_train(tmp_path):
    path = write(tmp_path, "\n\n".join(f"1\tw{i}\tO" for i in range(7)))
    task = entities(path, every=3)
    assert [e.words[0] for e in task.read("train")] == ["w0", "w1", "w3", "w4", "w6"]
    assert [e.words[0] for e in task.read("dev")] == ["w2", "w5"]
    assert len(task.read("test")) == 7
    assert task.describe()["heldout_every"] == 3
    assert task.describe()["train_source"] == "dev_heldout"


def test_uner_split_sizes(data_dir):
    uner = data_dir / "uner-english-ewt"
    dev, test = uner / "en_ewt-ud-dev.iob2", uner / "en_ewt-ud-test.iob2"
    task = EntityTask(train_source="dev_heldout", heldout_every=10,
                      **task_files("entities", "uner-english-ewt", uner / "absent", dev, test))
    sizes = {split: (len(ex := task.read(split)), sum(len(e.targets) for e in ex))
             for split in ("train", "dev", "test")}
    assert sizes == {"train": (1801, 877), "dev": (200, 89), "test": (2077, 1088)}
