"""What a report reads: the run records under its folders, and the run folders that hold no
record (a run that failed or never finished), so that the report lists them."""

import json
from collections.abc import Iterable
from pathlib import Path

import yaml

from probing.runs.failure import FAILURE_NAME
from probing.runs.record import RECORD_NAME, RunRecord
from probing.utils.errors import ProbingError

LOG_NAME = "run.log"  # Hydra's log of `python -m probing.run`


class NoRecords(ProbingError):
    """No finished run under the folders given (a sweep whose every job failed, say)."""


def find_records(paths: Iterable[str | Path]) -> list[Path]:
    paths = list(map(Path, paths))
    found = sorted({p for path in paths
                    for p in ([path] if path.is_file() else path.rglob(RECORD_NAME))})
    if not found:
        raise NoRecords(f"no {RECORD_NAME} under {', '.join(map(str, paths))}; give the run "
                        "or sweep folders of finished probe runs")
    return found


def load_records(paths: Iterable[str | Path]) -> list[RunRecord]:
    records = [RunRecord.read(path) for path in find_records(paths)]
    check_one_encoder_per_name(records)
    return records


def check_one_encoder_per_name(records: list[RunRecord]) -> None:
    """Refuse runs that share an encoder name (and pretraining step) but not the encoder: the
    report groups runs by name, so two encoders, or one with two settings (words as the first
    or the mean of their pieces), would be averaged together without a word."""
    seen: dict[tuple, RunRecord] = {}
    for record in records:
        if record.encoder_fingerprint is None:
            continue
        first = seen.setdefault((record.encoder, record.step), record)
        if (first.encoder_fingerprint, first.encoder_settings) != (
                record.encoder_fingerprint, record.encoder_settings):
            raise ProbingError(
                f"runs named encoder {record.encoder!r} come from different encoders or "
                f"settings: {first.folder} ({_identity(first)}) and {record.folder} "
                f"({_identity(record)}); give each its own encoder.name=..., or report them "
                "separately")


def settings_text(record: RunRecord) -> str:
    """The encoder's alignment settings as `pooling=mean, stride=255`."""
    return ", ".join(f"{k}={v}" for k, v in sorted(record.encoder_settings.items()))


def _identity(record: RunRecord) -> str:
    settings = settings_text(record)
    return f"weights {record.encoder_fingerprint[:12]}" + (f", {settings}" if settings else "")


def _is_probe_config(hydra: Path) -> bool:
    """Whether a .hydra folder is a probe run's (its config has a task and an encoder), not
    a pretraining run's."""
    try:
        config = yaml.safe_load((hydra / "config.yaml").read_text())
    except (OSError, yaml.YAMLError):
        return False
    return isinstance(config, dict) and "task" in config and "encoder" in config


def _run_folders(path: Path) -> set[Path]:
    """Folders that a probe run made: they hold its log (run.log), a failure record, or
    Hydra's .hydra folder of a probe-run config."""
    marks = [*path.rglob(LOG_NAME), *path.rglob(FAILURE_NAME),
             *(p for p in path.rglob(".hydra") if _is_probe_config(p))]
    return {mark.parent for mark in marks if mark.parent.name != ".hydra"}


def unfinished_runs(paths: Iterable[str | Path], listed: set[str]) -> list[dict]:
    """Run folders under `paths` without a results.json at or below them, other than sweep
    folders and the jobs in `listed` (those a sweep's failure table has): each with why it
    has no record, so that the report lists it rather than skipping it without a word."""
    rows = []
    for path in map(Path, paths):
        if not path.is_dir():
            continue
        for folder in sorted(_run_folders(path)):
            if (str(folder) in listed or (folder / "multirun.yaml").is_file()
                    or (folder / RECORD_NAME).is_file() or any(folder.rglob(RECORD_NAME))):
                continue
            rows.append({"sweep": "", "job": None, "folder": str(folder), "overrides": "",
                         **_why(folder)})
    return rows


def _why(folder: Path) -> dict:
    failure = folder / FAILURE_NAME
    if failure.is_file():
        try:
            saved = json.loads(failure.read_text())
        except (OSError, ValueError) as e:
            saved = {"first_line": f"{failure} cannot be read ({e})"}
        saved = saved if isinstance(saved, dict) else {}
        return {"status": "failed", "error_type": saved.get("error_type", ""),
                "first_line": saved.get("first_line", "")}
    logs = LOG_NAME if (folder / LOG_NAME).is_file() else "no log"
    return {"status": "missing", "error_type": "",
            "first_line": f"no {RECORD_NAME} ({logs}): the run failed or never finished; "
                          "see its log"}
