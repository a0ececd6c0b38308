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

from probing.report.record import Predictions, RunRecord
from probing.schemas import register_configs

REPO = Path(__file__).resolve().parents[1]
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
