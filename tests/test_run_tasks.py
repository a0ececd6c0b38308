"""Every kind of task through a whole probe run on a tiny random BERT: two spans (deps,
relations, with the official answer file), several labels a span (consts), spans of several
words (entities); with the lexical baseline P0 (layer 0 alone) and a random-init encoder."""

import random

import pytest
from helpers import LEXICON, composed, probe_overrides

from probing.run import probe_run
from probing.runs.record import Predictions

NOUNS, VERBS = LEXICON["NOUN"], LEXICON["VERB"]
RELATIONS = ["Cause-Effect(e1,e2)", "Cause-Effect(e2,e1)", "Other"]


def write_semeval(path, n: int, first_id: int, seed: int):
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        label = RELATIONS[i % 3]
        a, b = rng.sample(NOUNS, 2)
        lines += [f'{first_id + i}\t"the <e1>{a}</e1> {VERBS[i % 3 % 2]} on the <e2>{b}</e2>."',
                  label, "Comment:", ""]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_trees(folder, first: int, n_files: int, seed: int):
    rng = random.Random(seed)
    for number in range(first, first + n_files):
        trees = []
        for _ in range(8):
            det, noun, verb, noun2 = "the", rng.choice(NOUNS), rng.choice(VERBS), rng.choice(NOUNS)
            trees.append(f"( (S (NP-SBJ (DT {det}) (NN {noun})) (VP (VBD {verb}) (PP (IN on) "
                         f"(NP (DT the) (NN {noun2})))) (. .)) )")
            trees.append(f"( (S (VP (VBD {verb}) (NP (DT a) (NN {noun})))) )")  # a unary chain
        (folder / f"wsj_{number:04d}.mrg").write_text("\n".join(trees) + "\n")


def write_iob2(path, n: int, seed: int):
    rng = random.Random(seed)
    blocks = []
    for i in range(n):
        rows = [("the", "O"), (rng.choice(NOUNS).title(), "B-PER"), ("Smith", "I-PER"),
                (rng.choice(VERBS), "O"), ("on", "O"), (rng.choice(["Paris", "Rome"]), "B-LOC")]
        blocks.append(f"# sent_id = s{i}\n" + "\n".join(
            f"{k}\t{w}\t{t}\t-\t-" for k, (w, t) in enumerate(rows, 1)))
    path.write_text("\n\n".join(blocks) + "\n\n")
    return path


@pytest.fixture(scope="module")
def tiny_corpora(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tasks")
    (folder / "ptb").mkdir()
    write_trees(folder / "ptb", 1, 4, 0)
    write_trees(folder / "ptb", 5, 1, 1)
    write_trees(folder / "ptb", 6, 1, 2)
    return {"semeval_train": write_semeval(folder / "train.txt", 60, 1, 0),
            "semeval_test": write_semeval(folder / "test.txt", 30, 8001, 1),
            "ptb": folder / "ptb",
            "iob2_dev": write_iob2(folder / "dev.iob2", 40, 0),
            "iob2_test": write_iob2(folder / "test.iob2", 20, 1)}


def task_overrides(task: str, corpus, files) -> list[str]:
    by_task = {
        "deps": [f"task.train={corpus['train']}", f"task.dev={corpus['dev']}",
                 f"task.test={corpus['test']}"],
        "relations": [f"task.train={files['semeval_train']}", f"task.dev={files['semeval_train']}",
                      f"task.test={files['semeval_test']}", "task.heldout_every=5"],
        "consts": [f"task.train={files['ptb']}", f"task.dev={files['ptb']}",
                   f"task.test={files['ptb']}", "task.file_numbers.train=[1,4]",
                   "task.file_numbers.dev=[5,5]", "task.file_numbers.test=[6,6]"],
        "entities": [f"task.train={files['iob2_dev']}", f"task.dev={files['iob2_dev']}",
                     f"task.test={files['iob2_test']}", "task.train_source=dev_heldout",
                     "task.heldout_every=4"],
    }
    return [f"task={task}", *by_task[task]]


@pytest.mark.slow
@pytest.mark.parametrize(("task", "metric", "n_spans"), [
    ("deps", "accuracy", 2), ("relations", "semeval_official_f1", 2),
    ("consts", "micro_f1", 1), ("entities", "accuracy", 1)])
def test_task_runs_end_to_end_with_p0_and_random_init(tiny_bert, treebank, tiny_corpora,
                                                      tmp_path, task, metric, n_spans):
    base = [*probe_overrides(tiny_bert, treebank, tmp_path / "cache"),
            *task_overrides(task, treebank, tiny_corpora), "trainer.max_epochs=4"]
    [record] = probe_run(composed(base), tmp_path / "mix")
    assert record.metric == metric
    assert metric in record.test and metric in record.baseline_test
    assert record.score > record.baseline, "the toy tasks are learnable above the majority"
    assert len(record.weights) == 3
    saved = Predictions.load(tmp_path / "mix")
    assert len(saved["gold"]) == record.sizes["test"]["targets"]
    assert saved["gold"].ndim == (2 if task == "consts" else 1)

    quick = [*base, "trainer.max_epochs=1"]
    [p0] = probe_run(composed([*quick, "mix=single", "mix.layer=0"]), tmp_path / "p0")
    assert p0.weights == [1.0, 0.0, 0.0]
    # seed 0 would rebuild the very weights the tiny BERT fixture was made with
    [random_init] = probe_run(composed([*quick, "encoder.random_init=true", "encoder.seed=1",
                                        "encoder.name=tiny-random"]), tmp_path / "random")
    assert random_init.encoder == "tiny-random"
    assert not any(c["reused"] for c in random_init.caches.values())


def test_relations_write_official_answers(tiny_bert, treebank, tiny_corpora, tmp_path):
    base = [*probe_overrides(tiny_bert, treebank, tmp_path / "cache"),
            *task_overrides("relations", treebank, tiny_corpora), "trainer.max_epochs=2"]
    [record] = probe_run(composed(base), tmp_path)
    lines = (tmp_path / "test_answers.txt").read_text().splitlines()
    assert [line.split("\t")[0] for line in lines] == [str(8001 + i) for i in range(30)]
    assert {line.split("\t")[1] for line in lines} <= set(RELATIONS)
    assert record.sizes["train"]["targets"] == 48 and record.sizes["dev"]["targets"] == 12
    assert "split" in record.task_info


def test_consts_is_multi_label(tiny_bert, treebank, tiny_corpora, tmp_path):
    base = [*probe_overrides(tiny_bert, treebank, tmp_path / "cache"),
            *task_overrides("consts", treebank, tiny_corpora), "trainer.max_epochs=2"]
    [record] = probe_run(composed(base), tmp_path)
    assert record.labeling == "probing.tasks.labels.MultiLabel"
    assert set(record.test) == {"micro_f1", "macro_f1", "exact_match"}
    gold = Predictions.load(tmp_path)["gold"]
    labels = record.labels
    # (S (VP ...)) with the same words: one target labelled S and VP
    assert gold[:, [labels.index("S"), labels.index("VP")]].all(axis=1).any()
