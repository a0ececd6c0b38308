"""Entities from IOB2: spans closed at O, at B- and at the sentence end; strict I- tags; a fixed
tenth of the training file held out as dev."""

import pytest
from conftest import task_files
from helpers import composed
from hydra.utils import instantiate

from probing.tasks.iob2 import EntityTask
from probing.utils.errors import ProbingError

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


def entities(path, every=2, source="dev_heldout", train=None, test=None):
    return EntityTask(train_source=source, heldout_every=every,
                      **task_files("entities", "test-corpus", train or path, path, test or path))


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


def test_a_held_out_dev_takes_whole_documents(tmp_path):
    """Documents of 2, 1, 3, 1 and 2 sentences; every 2nd document is dev. A sentence before
    the file's first `# newdoc id` is a document of its own."""
    blocks, i = ["1\tw0\tO"], 1
    for doc, size in enumerate((2, 1, 3, 1, 2)):
        for j in range(size):
            newdoc = f"# newdoc id = d{doc}\n" if j == 0 else ""
            blocks.append(f"{newdoc}# sent_id = d{doc}-{j}\n1\tw{i}\tB-PER")
            i += 1
    task = entities(write(tmp_path, "\n\n".join(blocks)), every=2)
    assert [e.words[0] for e in task.read("dev")] == ["w1", "w2", "w4", "w5", "w6", "w8", "w9"]
    assert [e.words[0] for e in task.read("train")] == ["w0", "w3", "w7"]
    assert [e.document for e in task.read("dev")] == ["d0", "d0", "d2", "d2", "d2", "d4", "d4"]
    assert "every 2nd document" in task.describe()["split"]


def test_the_record_states_the_share_of_entities_seen_in_training(tmp_path):
    train = write(tmp_path, "1\tAnn\tB-PER\n2\tand\tO\n3\tBob\tB-PER")
    dev = tmp_path / "dev.iob2"
    dev.write_text("1\tAnn\tB-PER\n\n1\tCarl\tB-PER\n2\tLee\tI-PER\n\n1\tDee\tB-LOC")
    test = tmp_path / "test.iob2"
    test.write_text("1\tBob\tB-ORG\n2\tAnn\tB-PER")
    task = EntityTask(train_source="file", heldout_every=2,
                      **task_files("entities", "test-corpus", train, dev, test))
    task.read_splits()
    # "Carl Lee" is not "Carl"; a type does not count, only the words
    assert task.describe()["entities_seen_in_training"] == {"dev": round(1 / 3, 4),
                                                            "test": 1.0}


def test_uner_split_sizes(data_dir):
    uner = data_dir / "uner-english-ewt"
    dev, test = uner / "en_ewt-ud-dev.iob2", uner / "en_ewt-ud-test.iob2"
    task = EntityTask(train_source="dev_heldout", heldout_every=5,
                      **task_files("entities", "uner-english-ewt", uner / "absent", dev, test))
    splits = task.read_splits()
    sizes = {split: (len(ex), sum(len(e.targets) for e in ex)) for split, ex in splits.items()}
    assert sizes == {"train": (1565, 754), "dev": (436, 212), "test": (2077, 1088)}
    assert not {e.document for e in splits["train"]} & {e.document for e in splits["dev"]}
    # whole documents held out: dev's entities are no likelier seen in training than test's
    assert task.describe()["entities_seen_in_training"] == {"dev": 0.2358, "test": 0.2362}


def uner_folder(tmp_path, with_train: bool):
    """A hand-written UNER folder: train (when asked for), dev and test files."""
    folder = tmp_path / "uner-english-ewt"
    folder.mkdir(parents=True)
    for split, n in (("train", 6), ("dev", 10), ("test", 3)):
        if split != "train" or with_train:
            (folder / f"en_ewt-ud-{split}.iob2").write_text("\n\n".join(
                f"# sent_id = {split}-{i}\n1\t{split}{i}\tB-PER\n2\tran\tO" for i in range(n)))
    return tmp_path


def configured(data, *overrides):
    return instantiate(composed(["task=entities", f"paths.data_dir={data}", *overrides]).task)


def first_words(task, split):
    return [example.words[0] for example in task.read(split)]


def test_entities_train_on_the_training_file_where_it_is_present(tmp_path, caplog):
    task = configured(uner_folder(tmp_path, with_train=True))
    assert first_words(task, "train") == [f"train{i}" for i in range(6)]
    assert first_words(task, "dev") == [f"dev{i}" for i in range(10)]
    assert first_words(task, "test") == ["test0", "test1", "test2"]
    assert task.describe()["train_source"] == "file"
    assert task.describe()["split"] == ("train: en_ewt-ud-train.iob2; dev (early stopping): "
                                        "en_ewt-ud-dev.iob2; test: en_ewt-ud-test.iob2")
    assert task.files["train"].name == "en_ewt-ud-train.iob2"
    assert "absent" not in caplog.text


def test_entities_without_the_training_file_hold_dev_out_and_say_so(tmp_path, caplog):
    data = uner_folder(tmp_path, with_train=False)
    task = configured(data)
    train_file = data / "uner-english-ewt" / "en_ewt-ud-train.iob2"
    [warning] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert f"the training file {train_file} is absent" in warning
    assert "without every 5th document" in warning
    assert "python -m probing.data fetch uner-english-ewt" in warning
    assert "task.train_source=file" in warning and "task.train_source=dev_heldout" in warning
    # no `# newdoc id` lines: each sentence is a document of its own
    assert first_words(task, "train") == [f"dev{i}" for i in (0, 1, 2, 3, 5, 6, 7, 8)]
    assert first_words(task, "dev") == ["dev4", "dev9"]
    assert first_words(task, "test") == ["test0", "test1", "test2"]
    described = task.describe()
    assert (described["train_source"], described["train_source_setting"]) == ("dev_heldout",
                                                                              "auto")
    assert described["split"].startswith("train: en_ewt-ud-dev.iob2 without every 5th document")
    assert task.files["train"] == task.files["dev"] == data / "uner-english-ewt" / (
        "en_ewt-ud-dev.iob2")


def test_train_source_setting_forces_either_choice(tmp_path, caplog):
    with_train = uner_folder(tmp_path / "a", with_train=True)
    held_out = configured(with_train, "task.train_source=dev_heldout", "task.heldout_every=5")
    assert first_words(held_out, "dev") == ["dev4", "dev9"]
    assert held_out.describe()["train_source"] == "dev_heldout"
    without = uner_folder(tmp_path / "b", with_train=False)
    task = configured(without, "task.train_source=file")
    with pytest.raises(ProbingError, match=r"python -m probing\.data fetch uner-english-ewt"):
        task.read_splits()
    assert not caplog.records, "no fallback: the setting asked for the file"
    with pytest.raises(ProbingError, match=r"task\.train_source='heldout' is not one of: "
                                           r"auto \| file \| dev_heldout"):
        entities(write(tmp_path, SENTENCES), source="heldout")


def test_training_on_the_dev_file_itself_is_refused(tmp_path):
    path = write(tmp_path, SENTENCES)
    with pytest.raises(ProbingError, match=r"task\.train and task\.dev name the same file.*"
                                           r"task\.train_source=dev_heldout"):
        entities(path, source="file")


def test_empty_splits_are_named(tmp_path):
    path = write(tmp_path, "1\tHi\tB-PER\n\n2\tHo\tO\n")
    test = tmp_path / "test.iob2"
    test.write_text(SENTENCES)
    with pytest.raises(ProbingError, match=rf"the dev split \(task\.dev={path}; train: x\.iob2 "
                                           rf"without every 5th document.*\) holds no sentences; "
                                           rf"give a larger file or a smaller "
                                           rf"task\.heldout_every"):
        entities(path, every=5, test=test).read_splits()
    with pytest.raises(ProbingError, match=rf"the dev split \(task\.dev={path}; .*\) holds 1 "
                                           rf"sentences but no target"):
        entities(path, every=2, test=test).read_splits()


def test_without_the_training_file_the_test_file_as_dev_is_refused(tmp_path, caplog):
    """The fallback holds train and dev out of task.dev: given the test file there, the probe
    would train on test. It is refused whatever the fallback."""
    data = uner_folder(tmp_path, with_train=False)
    test = data / "uner-english-ewt" / "en_ewt-ud-test.iob2"
    link = tmp_path / "another-name.iob2"
    link.symlink_to(test)
    for dev in (test, link):
        task = configured(data, f"task.dev={dev}")
        with pytest.raises(ProbingError, match=r"task entities: the train split .* and the "
                                               r"test split .* both read .*en_ewt-ud-test\.iob2"
                                               r", so the probe would train on what it is "
                                               r"tested on"):
            task.read_splits()
