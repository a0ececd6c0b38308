"""Plain helpers shared by test modules (fixtures live in conftest.py): a generated treebank,
the overrides of a probe run on the tiny BERT, composing the config, the command line, and
run records made by hand for the report's tests."""

import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from probing.config.schemas import register_configs
from probing.features import Activations
from probing.probes.trainer import Trainer
from probing.runs.record import Predictions, RunRecord
from probing.tasks import Example, Target

REPO = Path(__file__).resolve().parents[1]
DIM, N_LAYERS = 8, 2  # of the hand-made activations
LEXICON = {"DET": ["the", "a"], "ADJ": ["big", "small"], "NOUN": ["cat", "dog", "mat"],
           "VERB": ["sat", "ran"], "ADP": ["on"], "PUNCT": ["."]}
PATTERNS = [["DET", "NOUN", "VERB", "PUNCT"], ["DET", "ADJ", "NOUN", "VERB", "ADP", "DET",
            "NOUN", "PUNCT"], ["DET", "NOUN", "VERB", "ADP", "DET", "ADJ", "NOUN", "PUNCT"]]


def write_treebank(path: Path, n_sentences: int, seed: int) -> Path:
    """CoNLL-U sentences of a toy grammar: the verb heads every other word, which it relates
    to by the word's tag."""
    rng = random.Random(seed)
    blocks = []
    for _ in range(n_sentences):
        tags = rng.choice(PATTERNS)
        root = tags.index("VERB") + 1
        rows = [f"{i}\t{w}\t{w}\t{t}\t{t}\t_\t{0 if i == root else root}\t"
                f"{'root' if i == root else t.lower()}\t_\t_"
                for i, (w, t) in enumerate(((rng.choice(LEXICON[t]), t) for t in tags), 1)]
        blocks.append("\n".join(rows) + "\n")
    path.write_text("\n".join(blocks))
    return path


def probe_overrides(tiny_bert: Path, treebank: dict[str, Path], cache_dir: Path) -> list[str]:
    """A quick probe run: the tiny BERT on the generated treebank, three epochs."""
    return ["encoder=hf", f"encoder.name_or_path={tiny_bert}", "encoder.name=tiny",
            f"task.train={treebank['train']}", f"task.dev={treebank['dev']}",
            f"task.test={treebank['test']}", f"paths.cache_dir={cache_dir}",
            "trainer.max_epochs=3", "trainer.batch_size=16", "device=cpu"]


def composed(overrides: list[str]) -> DictConfig:
    """The probe-run config with these overrides, as `python -m probing.run` composes it."""
    register_configs()
    with initialize_config_dir(config_dir=str(REPO / "conf"), version_base="1.3"):
        return compose(config_name="config", overrides=overrides)


def run_cli(args: list[str], cwd: Path, module: str = "probing.run"
            ) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def bert_overrides(corpus: Path, cache: Path) -> list[str]:
    """A quick BERT pretraining: a 2-layer, 32-wide model, 24 steps."""
    return ["objective=bert_tiny", "objective.vocab_size=300", "objective.min_frequency=1",
            "objective.hidden_size=32", "objective.num_layers=2", "objective.num_heads=2",
            "objective.intermediate_size=64", "objective.max_seq_length=32",
            "text=files", f"text.paths=[{corpus}]", "text.heldout_fraction=0.1",
            "text.workers=1", f"paths.cache_dir={cache}", "device=cpu",
            "train.batch_size=8", "train.max_steps=24", "train.log_every=4",
            "train.eval_every=12", "train.save_every=12", "train.eval_batches=2",
            "optim.warmup_steps=4"]


def fake_record(folder: Path, task: str = "upos", encoder: str = "fake", mode: str = "all",
                layer: int | None = None, n_layers: int = 3, seed: int = 0,
                score: float = 0.9, control: bool = False, n_test: int = 100,
                n_sentences: int = 20) -> RunRecord:
    """Write a run record and its predictions by hand: a single-label task of two labels
    whose test predictions are right on the first `score` share of the targets."""
    layers = {"all": list(range(n_layers)), "single": [layer],
              "cumulative": list(range((layer or 0) + 1))}[mode]
    weights = [1 / len(layers) if i in layers else 0.0 for i in range(n_layers)]
    gold = np.arange(n_test) % 2
    predicted = np.where(np.arange(n_test) < round(score * n_test), gold, 1 - gold)
    record = RunRecord(
        task=task, corpus="toy", metric="accuracy",
        labeling="probing.tasks.labels.SingleLabel", labels=["a", "b"], control=control,
        task_info={}, encoder=encoder, encoder_fingerprint="f" * 64, encoder_settings={},
        n_layers=n_layers, dim=8, step=None, encoder_info={}, family="edge",
        report="probing.probes.edge.report.EdgeReport",
        family_fields={"mixing_weights": weights, "gamma": 1.0,
                       "center_of_gravity": sum(i * w for i, w in enumerate(weights))},
        mode=mode, layer=layer, layers=layers, seed=seed,
        test={"accuracy": float((gold == predicted).mean())}, dev={"accuracy": score},
        baseline_label="a", baseline_test={"accuracy": 0.5}, folder=folder)
    folder.mkdir(parents=True, exist_ok=True)
    Predictions({"gold": gold, "predicted": predicted,
                 "sentence": np.arange(n_test) * n_sentences // n_test}).save(folder)
    record.write(folder)
    return record

# Hand-made activations for the probe families' tests.


def activations(lengths: list[int], vectors: np.ndarray | None = None) -> Activations:
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    if vectors is None:
        vectors = np.arange(offsets[-1] * N_LAYERS * DIM, dtype=np.float16).reshape(
            offsets[-1], N_LAYERS, DIM)
    return Activations(vectors, offsets, {"key": "hand-made"})


def trainer(**changes) -> Trainer:
    settings = {"batch_size": 16, "lr": 1e-2, "weight_decay": 0.0, "max_epochs": 30,
                "patience": 5, "lr_decay": 0.5, "eval_batch_size": 64, "min_epoch_targets": 0,
                "device": "cpu", "precision": "fp32"}
    return Trainer(**{**settings, **changes})


def random_split(rng: np.random.Generator, n_sentences: int, label_of) -> tuple[list, Activations]:
    """Sentences of 4 random one-hot 'words' (two layers, DIM wide); each has one target
    (span1, span2) labelled by `label_of(word1, word2)`."""
    words = rng.integers(0, DIM, size=(n_sentences, 4))
    vectors = np.zeros((n_sentences * 4, N_LAYERS, DIM), dtype=np.float16)
    vectors[np.arange(n_sentences * 4), :, words.ravel()] = 1.0
    examples = []
    for row in words:
        first, second = rng.choice(4, size=2, replace=False)
        examples.append(Example([str(w) for w in row], [Target(
            (int(first), int(first) + 1), (int(second), int(second) + 1),
            label_of(row[first], row[second]))]))
    return examples, activations([4] * n_sentences, vectors)


# `python -m probing.run` with the probe replaced by a stand-in of a 3-layer encoder: it builds
# the layer selection from the config as a run does (so mix.layer=99 fails the same way) and
# writes a record and predictions; it tests the sweep machinery apart from probe training.
FAKE_PROBE = """
from hydra.utils import instantiate
import probing.run as run
from helpers import fake_record

def probe_run(cfg, output_dir):
    selections = instantiate(cfg.mix).selections(3)
    return [fake_record(output_dir if len(selections) == 1 else output_dir / s.name,
                        task=cfg.task.name, mode=s.mode, layer=s.layer, seed=cfg.seed,
                        score=0.5 + 0.1 * len(s.layers(3)), control=cfg.task.control)
            for s in selections]

run.probe_run = probe_run
run.main()
"""


def run_fake(args: list[str], cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{REPO}:{REPO / 'tests'}"}
    return subprocess.run([sys.executable, "-c", FAKE_PROBE, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
