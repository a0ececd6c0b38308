"""Edge-probing JSON lines (jiant v1, Tenney et al. 2019): any such data is one YAML away from a
probe run; malformed lines are refused with file:line."""

import json

import pytest
from conftest import task_files
from helpers import composed
from hydra.utils import instantiate
from omegaconf.errors import MissingMandatoryValue

from probing.config.settings import check_settings
from probing.run import probe_run
from probing.tasks.edge_json import EdgeJSONTask
from probing.tasks.labels import MultiLabel, SingleLabel
from probing.utils.errors import ProbingError

RECORDS = [
    {"text": "The cat sat on the mat .", "info": {"source": "x"},
     "targets": [{"span1": [1, 2], "span2": [2, 3], "label": "nsubj", "span1_text": "cat"},
                 {"span1": [5, 6], "span2": [3, 4], "label": "pobj"}]},
    {"text": "Dogs ran", "targets": [{"span1": [0, 1], "span2": [1, 2], "label": "nsubj"}]},
]


def write(path, records, extra: str = "") -> str:
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n" + extra)
    return path


def edge(path, n_spans=2, multilabel=False):
    return EdgeJSONTask(n_spans=n_spans, multilabel=multilabel,
                        **task_files("edge_json", "edge-probing", path))


def test_words_spans_and_labels(tmp_path):
    path = write(tmp_path / "x.json", RECORDS, extra="\n")  # a blank last line is no record
    first, second = edge(path).read("train")
    assert first.words == ["The", "cat", "sat", "on", "the", "mat", "."]
    assert [(t.span1, t.span2, t.label) for t in first.targets] == [
        ((1, 2), (2, 3), "nsubj"), ((5, 6), (3, 4), "pobj")]
    assert first.source == first.targets[0].source == f"{path}:1"
    assert second.source == f"{path}:2" and second.words == ["Dogs", "ran"]
    task = edge(path)
    assert (task.n_spans, type(task.labeling), task.metric) == (2, SingleLabel, "accuracy")


def test_one_span_multi_label(tmp_path):
    records = [{"text": "a b c", "targets": [{"span1": [0, 3], "label": ["S", "VP", "S"]},
                                             {"span1": [1, 2], "label": "NP"},
                                             {"span1": [2, 3], "label": []}]}]
    task = edge(write(tmp_path / "x.json", records), n_spans=1, multilabel=True)
    [example] = task.read("test")
    assert [(t.span1, t.span2, t.label) for t in example.targets] == [
        ((0, 3), None, ("S", "VP")), ((1, 2), None, ("NP",)), ((2, 3), None, ())]
    assert isinstance(task.labeling, MultiLabel) and task.metric == "micro_f1"
    assert task.describe() == {"n_spans": 1, "multilabel": True}


GOOD = '{"text": "a b", "targets": [{"span1": [0, 1], "span2": [1, 2], "label": "X"}]}'


@pytest.mark.parametrize(("line", "message"), [
    ('{"text": "a b", "targets": [', r"not valid JSON \(Expecting value at column 29\)"),
    ('["a b"]', r"expected a JSON object, found \[\"a b\"\]"),
    ('{"targets": []}', r"no 'text'"),
    ('{"text": "a b"}', r"no 'targets'"),
    ('{"text": "a  b", "targets": []}', r"the text has an empty word"),
    (GOOD.replace('"span2": [1, 2]', '"span2": [1, 3]'),
     r"targets\[0\]: span \[1, 3\] is not a range \[start, end\) of word indices with "
     r"0 <= start < end <= 2"),
    (GOOD.replace('[0, 1]', '[1, 1]'), r"targets\[0\]: span \[1, 1\] is not a range"),
    (GOOD.replace('[0, 1]', '[0, 1.5]'), r"targets\[0\]: span \[0, 1.5\] is not a range"),
    (GOOD.replace(', "span2": [1, 2]', ''), r"targets\[0\]: no 'span2'"),
    (GOOD.replace(', "label": "X"', ''), r"targets\[0\]: no 'label'"),
    (GOOD.replace('"X"', '["X", "Y"]'),
     r"targets\[0\]: the label is a list \(\['X', 'Y'\]\) in a single-label task; set "
     r"task\.multilabel=true"),
    (GOOD.replace('"X"', '3'), r"targets\[0\]: 'label' is 3, not a string or a list"),
    (GOOD.replace('"targets": [', '"targets": [7, '), r"targets\[0\]: expected a JSON object"),
])
def test_malformed_line_names_file_and_line(tmp_path, line, message):
    path = tmp_path / "x.json"
    path.write_text(f"{GOOD}\n\n{line}\n")
    with pytest.raises(ProbingError, match=rf"^{path}:3: {message}"):
        edge(path).read("dev")


def test_span2_in_a_one_span_task_is_refused(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(GOOD + "\n")
    with pytest.raises(ProbingError, match=rf"{path}:1: targets\[0\] has a span2, but "
                                           rf"task\.n_spans=1"):
        edge(path, n_spans=1).read("train")


@pytest.mark.parametrize(("setting", "value"), [("n_spans", 3), ("n_spans", True),
                                                ("multilabel", "yes")])
def test_bad_settings_are_named(tmp_path, setting, value):
    with pytest.raises(ProbingError, match=rf"task\.{setting}={value!r} must be"):
        edge(tmp_path, **{setting: value})


def split_files(folder):
    """Three small files of a two-span task with three labels a word pair's words decide."""
    pairs = [("cat", "sat", "nsubj"), ("mat", "on", "pobj"), ("dog", "ran", "nsubj"),
             ("big", "dog", "amod"), ("small", "cat", "amod")]
    files = {}
    for split, n in (("train", 40), ("dev", 10), ("test", 10)):
        records = [{"text": f"the {a} {b} .", "targets": [{"span1": [1, 2], "span2": [2, 3],
                                                           "label": label}]}
                   for a, b, label in (pairs[i % len(pairs)] for i in range(n))]
        files[split] = write(folder / f"{split}.json", records)
    return files


def test_the_yaml_takes_three_paths_and_runs(tiny_bert, tmp_path):
    files = split_files(tmp_path)
    paths = [f"task.{split}={path}" for split, path in files.items()]
    cfg = composed(["task=edge_json", *paths, "task.n_spans=2", "task.name=deps_tenney"])
    check_settings(cfg)
    task = instantiate(cfg.task)
    assert (task.name, task.n_spans, task.files) == ("deps_tenney", 2, files)
    assert [len(task.read(split)) for split in ("train", "dev", "test")] == [40, 10, 10]
    run = composed(["task=edge_json", *paths, "task.n_spans=2", "encoder=hf",
                    f"encoder.name_or_path={tiny_bert}", "encoder.name=tiny", "device=cpu",
                    f"paths.cache_dir={tmp_path / 'cache'}", "trainer.max_epochs=2"])
    [record] = probe_run(run, tmp_path / "run")
    assert record.task == "edge_json" and record.task_info["n_spans"] == 2
    assert record.sizes["test"]["targets"] == 10
    assert record.labels == ["amod", "nsubj", "pobj"]


def test_the_yaml_asks_for_the_paths():
    cfg = composed(["task=edge_json"])
    with pytest.raises(MissingMandatoryValue, match=r"Missing mandatory value: task\.train"):
        instantiate(cfg.task)
