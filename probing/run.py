"""A probe run: `python -m probing.run [overrides]` (Hydra; `-m` sweeps).

Reads the task's splits, extracts (or reuses) every layer's activations, trains the probe on
train with early stopping on dev, scores test, and writes results.json and the mixing-weight
plot into the run folder.
"""

import logging
import time
from datetime import UTC, datetime
from pathlib import Path

import hydra
import numpy as np
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from probing.config import CONF_DIR, register_configs
from probing.errors import reported_without_traceback
from probing.features import extract
from probing.probes.scalar_mix import center_of_gravity
from probing.probes.spans import SpanTable
from probing.probes.train import Split
from probing.report.plots import plot_mixing_weights
from probing.report.record import write_record
from probing.runtime import library_versions, seed_everything
from probing.tasks import LabelVocab
from probing.tasks.base import SPLITS, Task

log = logging.getLogger("probing")


class Laps:
    """Wall-clock seconds of each stage of a run, for the record."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self.clock = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round(now - self.clock, 2)
        self.clock = now


def majority_baseline(task: Task, train: SpanTable, test: SpanTable, labels: list[str]) -> dict:
    """The test scores of always answering the most frequent training label (label set)."""
    values, counts = np.unique(train.labels, axis=0, return_counts=True)
    majority = values[counts.argmax()]
    predicted = np.broadcast_to(majority, test.labels.shape)
    names = ([labels[i] for i in np.flatnonzero(majority)] if majority.ndim
             else labels[int(majority)])
    return {"label": names, "test": task.labeling.score(test.labels, predicted, labels)}


def probe_run(cfg: DictConfig, output_dir: Path) -> dict:
    """Read, extract, train, score: the run record of one probe run (and its predictions)."""
    lap = Laps()
    seed_everything(cfg.seed)
    # Everything that can be refused is built and checked before the minutes of extraction.
    task = instantiate(cfg.task)
    trainer = instantiate(cfg.trainer)
    selection = instantiate(cfg.mix)
    encoder = instantiate(cfg.encoder)
    selection.layers(encoder.n_layers)
    examples = task.read_splits()
    vocab = LabelVocab.from_examples(examples["train"])
    for split in ("dev", "test"):
        vocab.check(examples[split])
    lap("read")
    activations = {split: extract(encoder, [ex.words for ex in examples[split]],
                                  cfg.paths.cache_dir, desc=f"{task.corpus}/{split}",
                                  **cfg.features)
                   for split in SPLITS}
    lap("extract")
    splits = {split: Split(SpanTable.build(examples[split], activations[split], vocab,
                                           task.n_spans, task.labeling),
                           activations[split].vectors)
              for split in SPLITS}
    seed_everything(cfg.seed)
    probe = instantiate(cfg.probe)(n_layers=encoder.n_layers, dim=encoder.dim,
                                   n_labels=len(vocab), n_spans=task.n_spans,
                                   selection=selection)
    history = trainer.fit(probe, splits["train"], splits["dev"], task.labeling, vocab.labels,
                          cfg.seed)
    lap("train")
    metrics = {split: trainer.evaluate(probe, splits[split], task.labeling, vocab.labels)
               for split in ("dev", "test")}
    predicted = trainer.predict(probe, splits["test"], task.labeling)
    save_predictions(output_dir, splits["test"].table.labels, predicted)
    task.write_predictions(output_dir, examples["test"], vocab.decode(predicted))
    lap("evaluate")
    weights = probe.mix.weights().tolist()
    return {
        "task": {"name": task.name, "corpus": task.corpus, "metric": task.metric,
                 "labeling": f"{type(task.labeling).__module__}.{type(task.labeling).__name__}",
                 "control": task.control, "labels": vocab.labels,
                 "files": {k: str(v) for k, v in task.files.items()}, **task.describe()},
        "encoder": {"name": encoder.name, "fingerprint": encoder.fingerprint(),
                    "settings": encoder.settings, "n_layers": encoder.n_layers,
                    "dim": encoder.dim, **encoder.provenance()},
        "mix": {"mode": selection.mode, "layer": selection.layer,
                "layers": selection.layers(encoder.n_layers)},
        "seed": cfg.seed,
        "metrics": metrics,
        "baseline": majority_baseline(task, splits["train"].table, splits["test"].table,
                                      vocab.labels),
        "mixing_weights": weights,
        "gamma": probe.mix.gamma.item(),
        "center_of_gravity": center_of_gravity(weights),
        "sizes": {**{split: {"sentences": len(examples[split]), "targets": len(splits[split].table)}
                     for split in SPLITS},
                  "probe_parameters": sum(p.numel() for p in probe.parameters())},
        "caches": {split: {"key": activations[split].meta["key"],
                           "reused": activations[split].reused} for split in SPLITS},
        "history": history,
        "timings": lap.timings,
        "versions": library_versions(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "output_dir": str(output_dir),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }


PREDICTIONS_NAME = "predictions.npz"


def save_predictions(output_dir: Path, gold: np.ndarray, predicted: np.ndarray) -> None:
    """Test gold and predicted labels, in target order, so the report can bootstrap scores:
    label indices (n,) for single-label tasks, 0/1 (n, n_labels) for multi-label ones."""
    dtype = np.uint8 if gold.ndim == 2 else np.int16
    output_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(output_dir / PREDICTIONS_NAME, gold=gold.astype(dtype),
                        predicted=predicted.astype(dtype))


def report_run(record: dict, output_dir: Path) -> None:
    """Write the run record and figure, and say in a few lines what came out."""
    mix = record["mix"]
    title = f"{record['task']['name']} · {record['encoder']['name']} · {mix['mode']}"
    if mix["layer"] is not None:
        title += f" {mix['layer']}"
    if record["task"]["control"]:
        title += " · control"
    plot_mixing_weights(record["mixing_weights"], record["center_of_gravity"], title,
                        output_dir / "mixing_weights")
    write_record(output_dir, record)
    metric = record["task"]["metric"]
    test, dev = record["metrics"]["test"], record["metrics"]["dev"]
    weights = "  ".join(f"{layer}:{w:.3f}" for layer, w in enumerate(record["mixing_weights"]))
    log.info("%s | seed %d", title, record["seed"])
    log.info("test %s (dev %s %.4f; majority baseline %.4f)",
             ", ".join(f"{k} {v:.4f}" for k, v in test.items()), metric, dev[metric],
             record["baseline"]["test"][metric])
    log.info("mixing weights  %s", weights)
    log.info("gamma %.3f, center of gravity %.2f", record["gamma"], record["center_of_gravity"])
    log.info("timings (s) %s", record["timings"])
    log.info("wrote %s", output_dir / "results.json")


register_configs()


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def main(cfg: DictConfig) -> None:
    output_dir = Path(HydraConfig.get().runtime.output_dir)
    with reported_without_traceback():
        report_run(probe_run(cfg, output_dir), output_dir)


if __name__ == "__main__":
    main()
