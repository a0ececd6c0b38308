"""A probe run: `python -m probing.run [overrides]` (Hydra; `-m` sweeps).

Reads the task's splits, extracts (or reuses) every layer's activations, trains the probe on
train with early stopping on dev, scores test, and writes results.json, the test predictions
and the mixing-weight plot into the run folder. With `mix=layers` it trains every layer
selection side by side and writes each one's record into a subfolder. In a sweep, a job that
fails leaves failed.json and the others go on; the command then exits 1 naming them.
"""

import logging
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import hydra
import numpy as np
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from probing.encoders.base import Encoder
from probing.errors import failure_recorded, reported_without_traceback
from probing.features import Activations, extract
from probing.probes.scalar_mix import LayerSelection, center_of_gravity
from probing.probes.spans import SpanTable
from probing.probes.train import Split, Trainer
from probing.report.failures import job_done, job_failed, last_sweep
from probing.report.plots import plot_mixing_weights
from probing.report.record import write_record
from probing.reproducibility import library_versions, seed_everything
from probing.schemas import CONF_PATH, register_configs
from probing.settings import check_settings
from probing.tasks import LabelVocab
from probing.tasks.base import SPLITS, Example, Task

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
    """The test scores of always answering the most frequent training label (label set); of
    labels equally frequent, the first in the label order."""
    values, counts = np.unique(train.labels, axis=0, return_counts=True)
    majority = values[counts.argmax()]
    predicted = np.broadcast_to(majority, test.labels.shape)
    names = ([labels[i] for i in np.flatnonzero(majority)] if majority.ndim
             else labels[int(majority)])
    return {"label": names, "test": task.labeling.score(test.labels, predicted, labels)}


@dataclass
class Prepared:
    """What a run knows once data and activations are in place: shared by all its probes."""

    task: Task
    encoder: Encoder
    examples: dict[str, list[Example]]
    activations: dict[str, Activations]
    vocab: LabelVocab
    splits: dict[str, Split]
    baseline: dict  # the majority-label baseline on test, the same for every probe


def prepare(cfg: DictConfig, lap: Laps) -> tuple[Prepared, Trainer, list[LayerSelection]]:
    """Build and check everything that can be refused before the minutes of extraction, then
    read the task and extract (or reuse) its activations."""
    check_settings(cfg)
    seed_everything(cfg.seed)
    task = instantiate(cfg.task)
    trainer = instantiate(cfg.trainer)
    encoder = instantiate(cfg.encoder)
    selections = instantiate(cfg.mix).selections(encoder.n_layers)
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
    baseline = majority_baseline(task, splits["train"].table, splits["test"].table, vocab.labels)
    return (Prepared(task, encoder, examples, activations, vocab, splits, baseline), trainer,
            selections)


def probe_run(cfg: DictConfig, output_dir: Path) -> list[dict]:
    """Read, extract, train, score: one run record for each probe the mix setting asks for
    (one, or with mix=layers every layer selection), each with its test predictions.

    Selections that read the same layers are one probe: the mix over all layers is also the
    last cumulative one, and layer 0 alone is also the first cumulative one."""
    lap = Laps()
    run, trainer, selections = prepare(cfg, lap)
    n_layers = run.encoder.n_layers
    layer_sets = list(dict.fromkeys(tuple(s.layers(n_layers)) for s in selections))
    probes = []
    for layers in layer_sets:
        seed_everything(cfg.seed)  # each probe starts as it would in a run of its own
        probes.append(instantiate(cfg.probe)(
            n_layers=n_layers, dim=run.encoder.dim, n_labels=len(run.vocab),
            n_spans=run.task.n_spans, selection=next(
                s for s in selections if tuple(s.layers(n_layers)) == layers)))
    labeling, labels = run.task.labeling, run.vocab.labels
    histories = trainer.fit(probes, run.splits["train"], run.splits["dev"], labeling, labels,
                            cfg.seed)
    lap("train")
    predicted = {split: trainer.predict(probes, run.splits[split], labeling)
                 for split in ("dev", "test")}
    lap("evaluate")
    records = []
    for selection in selections:
        k = layer_sets.index(tuple(selection.layers(n_layers)))
        folder = output_dir if len(selections) == 1 else output_dir / selection.name
        save_predictions(folder, run.splits["test"].table.labels, predicted["test"][k])
        run.task.write_predictions(folder, run.examples["test"],
                                   run.vocab.decode(predicted["test"][k]))
        metrics = {split: labeling.score(run.splits[split].table.labels, predicted[split][k],
                                         labels) for split in predicted}
        records.append(run_record(cfg, run, selection, probes[k], folder, histories[k], metrics,
                                  {**lap.timings, "probes_trained_together": len(probes)}))
    return records


def run_record(cfg: DictConfig, run: Prepared, selection: LayerSelection, probe: nn.Module,
               folder: Path, history: list[dict], metrics: dict[str, dict[str, float]],
               timings: dict[str, float]) -> dict:
    """results.json of one probe."""
    task, encoder, splits = run.task, run.encoder, run.splits
    labeling = type(task.labeling)
    weights = probe.mix.weights().tolist()
    return {
        "task": {"name": task.name, "corpus": task.corpus, "metric": task.metric,
                 "labeling": f"{labeling.__module__}.{labeling.__name__}",
                 "control": task.control, "labels": run.vocab.labels,
                 "files": {k: str(v) for k, v in task.files.items()}, **task.describe()},
        "encoder": {"name": encoder.name, "fingerprint": encoder.fingerprint(),
                    "settings": encoder.settings, "n_layers": encoder.n_layers,
                    "dim": encoder.dim, **encoder.provenance()},
        "mix": {"mode": selection.mode, "layer": selection.layer,
                "layers": selection.layers(encoder.n_layers)},
        "seed": cfg.seed,
        "metrics": metrics,
        "baseline": run.baseline,
        "mixing_weights": weights,
        "gamma": probe.mix.gamma.item(),
        "center_of_gravity": center_of_gravity(weights),
        "sizes": {**{split: {"sentences": len(run.examples[split]),
                             "targets": len(splits[split].table)} for split in SPLITS},
                  "probe_parameters": sum(p.numel() for p in probe.parameters())},
        "caches": {split: {"key": run.activations[split].meta["key"],
                           "reused": run.activations[split].reused} for split in SPLITS},
        "history": history,
        "timings": timings,
        "versions": library_versions(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "output_dir": str(folder),
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


def report_runs(records: list[dict]) -> None:
    for record in records:
        report_run(record)


def report_run(record: dict) -> None:
    """Write the run record and figure into its folder, and say in a few lines what came out."""
    output_dir = Path(record["output_dir"])
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


@hydra.main(version_base="1.3", config_path=CONF_PATH, config_name="config")
def hydra_main(cfg: DictConfig) -> None:
    hydra_cfg = HydraConfig.get()
    output_dir = Path(hydra_cfg.runtime.output_dir)
    if hydra_cfg.mode != RunMode.MULTIRUN:
        with reported_without_traceback():
            report_runs(probe_run(cfg, output_dir))
        return
    # One job of a sweep: its failure is recorded in its folder and the sweep goes on.
    overrides, job = list(hydra_cfg.overrides.task), hydra_cfg.job.num
    with failure_recorded(lambda error, user: job_failed(output_dir, overrides, error, user,
                                                          job)):
        report_runs(probe_run(cfg, output_dir))
        job_done(output_dir, overrides, job)


def main() -> None:
    """`python -m probing.run [overrides]`: one run, or with -m a sweep that runs every job
    even where some fail, writes its report (conf/hydra/callbacks/report.yaml) and exits 1
    saying which jobs failed."""
    hydra_main()
    sweep = last_sweep()
    if sweep is not None and sweep.not_done:
        print(sweep.message(), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
