"""A probe run: `python -m probing.run [overrides]` (Hydra; `-m` sweeps).

Reads the task's splits, extracts (or reuses) every layer's activations, trains the probe on
train with early stopping on dev, scores test, and writes results.json and the mixing-weight
plot into the run folder.
"""

import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from probing.config import CONF_DIR, register_configs
from probing.errors import failure_recorded, reported_without_traceback
from probing.features import extract
from probing.probes.data import SpanTable
from probing.probes.scalar_mix import center_of_gravity
from probing.probes.train import Split
from probing.report.failures import job_done, job_failed, last_sweep
from probing.report.plots import plot_mixing_weights
from probing.report.record import write_record
from probing.runtime import library_versions, seed_everything
from probing.tasks import LabelVocab
from probing.tasks.base import SPLITS

log = logging.getLogger("probing")


def probe_run(cfg: DictConfig, output_dir: Path) -> dict:
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        timings[name] = round(time.perf_counter() - clock, 2)
        clock = time.perf_counter()

    seed_everything(cfg.seed)
    task = instantiate(cfg.task)
    examples = {split: task.read(split) for split in SPLITS}
    lap("read")
    encoder = instantiate(cfg.encoder)
    activations = {split: extract(encoder, [ex.words for ex in examples[split]],
                                  cfg.paths.cache_dir, desc=f"{task.corpus}/{split}",
                                  **cfg.features)
                   for split in SPLITS}
    lap("extract")
    vocab = LabelVocab.from_examples(examples["train"])
    splits = {split: Split(SpanTable.build(examples[split], activations[split], vocab,
                                           task.n_spans), activations[split].vectors)
              for split in SPLITS}
    selection = instantiate(cfg.mix)
    seed_everything(cfg.seed)
    probe = instantiate(cfg.probe)(n_layers=encoder.n_layers, dim=encoder.dim,
                                   n_labels=len(vocab), n_spans=task.n_spans,
                                   selection=selection)
    trainer = instantiate(cfg.trainer)
    history = trainer.fit(probe, splits["train"], splits["dev"], task.metric, cfg.seed)
    lap("train")
    metrics = {split: trainer.evaluate(probe, splits[split]) for split in ("dev", "test")}
    lap("evaluate")
    weights = probe.mix.weights().tolist()
    return {
        "task": {"name": task.name, "corpus": task.corpus, "metric": task.metric,
                 "labels": vocab.labels, "files": {k: str(v) for k, v in task.files.items()}},
        "encoder": {"name": encoder.name, "fingerprint": encoder.fingerprint(),
                    "settings": encoder.settings, "n_layers": encoder.n_layers,
                    "dim": encoder.dim, **encoder.provenance()},
        "mix": {"mode": selection.mode, "layer": selection.layer,
                "layers": selection.layers(encoder.n_layers)},
        "seed": cfg.seed,
        "metrics": metrics,
        "mixing_weights": weights,
        "gamma": probe.mix.gamma.item(),
        "center_of_gravity": center_of_gravity(weights),
        "sizes": {**{split: {"sentences": len(examples[split]), "targets": len(splits[split].table)}
                     for split in SPLITS},
                  "probe_parameters": sum(p.numel() for p in probe.parameters())},
        "caches": {split: {"key": activations[split].meta["key"],
                           "reused": activations[split].reused} for split in SPLITS},
        "history": history,
        "timings": timings,
        "versions": library_versions(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "output_dir": str(output_dir),
        "config": OmegaConf.to_container(cfg, resolve=True),
    }


def report_run(record: dict, output_dir: Path) -> None:
    """Write the run record and figure, and say in a few lines what came out."""
    mix = record["mix"]
    title = f"{record['task']['name']} · {record['encoder']['name']} · {mix['mode']}"
    if mix["layer"] is not None:
        title += f" {mix['layer']}"
    plot_mixing_weights(record["mixing_weights"], record["center_of_gravity"], title,
                        output_dir / "mixing_weights")
    write_record(output_dir, record)
    test, dev = record["metrics"]["test"], record["metrics"]["dev"]
    weights = "  ".join(f"{layer}:{w:.3f}" for layer, w in enumerate(record["mixing_weights"]))
    log.info("%s | seed %d", title, record["seed"])
    log.info("test accuracy %.4f, macro-F1 %.4f (dev accuracy %.4f)", test["accuracy"],
             test["macro_f1"], dev["accuracy"])
    log.info("mixing weights  %s", weights)
    log.info("gamma %.3f, center of gravity %.2f", record["gamma"], record["center_of_gravity"])
    log.info("timings (s) %s", record["timings"])
    log.info("wrote %s", output_dir / "results.json")


register_configs()


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="config")
def hydra_main(cfg: DictConfig) -> None:
    hydra_cfg = HydraConfig.get()
    output_dir = Path(hydra_cfg.runtime.output_dir)
    if hydra_cfg.mode != RunMode.MULTIRUN:
        with reported_without_traceback():
            report_run(probe_run(cfg, output_dir), output_dir)
        return
    # One job of a sweep: its failure is recorded in its folder and the sweep goes on.
    overrides, job = list(hydra_cfg.overrides.task), hydra_cfg.job.num
    with failure_recorded(lambda error, user: job_failed(output_dir, overrides, error, user,
                                                          job)):
        report_run(probe_run(cfg, output_dir), output_dir)
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
