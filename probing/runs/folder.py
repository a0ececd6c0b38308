"""What one probe of a run leaves in its folder: the record, the test predictions, the task's
answer file and the mixing-weight figure, written completely or not at all."""

import logging
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from probing.runs.figure import plot_mixing_weights
from probing.runs.inputs import Inputs, Outcome
from probing.runs.record import RECORD_NAME, Predictions, RunRecord
from probing.utils.atomic import replace
from probing.utils.errors import ProbingError
from probing.utils.reproducibility import library_versions

log = logging.getLogger("probing")
STAGING_PREFIX = ".writing-"  # a probe's files before they are moved into its folder


def new_record(cfg: DictConfig, inputs: Inputs, family: str, report: str, outcome: Outcome,
               timings: dict[str, float]) -> RunRecord:
    """The record of one probe of a run by `family`, whose report is the class `report`."""
    task, encoder, selection = inputs.task, inputs.encoder, outcome.selection
    labeling = type(task.labeling)
    provenance = encoder.provenance()
    baseline = outcome.baseline or {}
    return RunRecord(
        task=task.name, corpus=task.corpus, metric=outcome.metric,
        labeling=f"{labeling.__module__}.{labeling.__name__}", labels=inputs.vocab.labels,
        control=task.control,
        task_info={"files": {k: str(v) for k, v in task.files.items()}, **task.describe()},
        encoder=encoder.name, encoder_fingerprint=encoder.fingerprint(),
        encoder_settings=encoder.settings, n_layers=encoder.n_layers, dim=encoder.dim,
        step=provenance.pop("step", None), encoder_info=provenance,
        family=family, report=report, family_fields=outcome.fields,
        mode=selection.mode, layer=selection.layer, layers=selection.layers(encoder.n_layers),
        seed=cfg.seed if outcome.seed is None else outcome.seed,
        test=outcome.metrics["test"], dev=outcome.metrics["dev"],
        baseline_label=baseline.get("label"), baseline_test=baseline.get("test", {}),
        sizes={split: {"sentences": len(examples),
                       "targets": sum(len(ex.targets) for ex in examples)}
               for split, examples in inputs.examples.items()},
        caches={split: {"key": a.meta["key"], "reused": a.reused}
                for split, a in inputs.activations.items()},
        history=outcome.history, timings=timings, versions=library_versions(),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        config=OmegaConf.to_container(cfg, resolve=True))


def save_run(folder: Path, record: RunRecord, outcome: Outcome, inputs: Inputs) -> RunRecord:
    """Write the probe's files into a staging folder beside the run's, move them in, and write
    results.json last; a failure to write (a full disk) leaves no part of them behind."""
    staging = folder / f"{STAGING_PREFIX}{os.getpid()}"
    try:
        staging.mkdir(parents=True)
        if outcome.test_arrays is not None:
            Predictions(outcome.test_arrays).save(staging)
        if outcome.answers is not None:
            inputs.task.write_predictions(staging, inputs.examples["test"], outcome.answers)
        if record.weights is not None:
            plot_mixing_weights(record.weights, record.center_of_gravity, title(record),
                                staging / "mixing_weights")
        record.write(staging)
        _move_in(staging, folder)
    except OSError as e:
        raise ProbingError(
            f"could not write the run's outputs into {folder} ({e.strerror or e}; "
            f"{free_space(folder) / 2**20:,.1f} MB free there, a run needs a few "
            f"MB): nothing of it was kept. Free some space, or write elsewhere with "
            f"hydra.run.dir=... (hydra.sweep.dir=... for a sweep)") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return RunRecord.from_json(record.to_json(), folder)


def _move_in(staging: Path, folder: Path) -> None:
    """Move the staged files into the run folder, results.json last (renames need no space);
    where one fails, take back those already moved, so the folder never holds half a run."""
    files = sorted(staging.iterdir(), key=lambda path: path.name == RECORD_NAME)
    moved = []
    try:
        for path in files:
            moved.append(replace(path, folder / path.name))
    except OSError:
        for path in moved:
            path.unlink(missing_ok=True)
        raise


def free_space(folder: Path) -> int:
    """Bytes free on the file system of `folder`, or of its nearest existing parent."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free


def title(record: RunRecord) -> str:
    """`upos · minilm-l6 · single 3 · control`."""
    text = f"{record.task} · {record.encoder} · {record.family} {record.mode}"
    if record.layer is not None:
        text += f" {record.layer}"
    return text + (" · control" if record.control else "")


def summarize(record: RunRecord) -> None:
    """Say in a few log lines what came out of a probe."""
    test, dev = record.test, record.dev
    log.info("%s | seed %d", title(record), record.seed)
    baseline = f"; majority baseline {record.baseline:.4f}" if record.baseline_test else ""
    log.info("test %s (dev %s %.4f%s)", ", ".join(f"{k} {v:.4f}" for k, v in test.items()),
             record.metric, dev.get(record.metric, float("nan")), baseline)
    if record.weights is not None:
        log.info("mixing weights  %s", "  ".join(f"{layer}:{w:.3f}"
                                                 for layer, w in enumerate(record.weights)))
        log.info("gamma %.3f, center of gravity %.2f", record.gamma, record.center_of_gravity)
    log.info("timings (s) %s", record.timings)
    log.info("wrote %s", record.folder / "results.json")
