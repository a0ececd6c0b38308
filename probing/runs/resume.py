"""Resuming a study: `resume=true` keeps the runs that finished and reruns the rest.

    python -m probing.run -m <the sweep's overrides> hydra.sweep.dir=<its folder> resume=true

A run that saved all its records marks its folder finished (finished.json: the resolved config
and the record folders, written last). With resume=true a job whose folder is marked finished
with the same resolved config (the `resume` setting aside) is not run again: its records are
read back, and its dev metric returned as if it had run. Any other job runs from the start,
after what an earlier attempt left of its outputs (records, failure record, staging folders)
is cleared, so that the folder never mixes two attempts. A finished job whose config differs
(a changed setting or default) is rerun, and the log names the settings that changed.
"""

import json
import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from probing.runs.failure import FAILURE_NAME
from probing.runs.folder import STAGING_PREFIX
from probing.runs.record import RECORD_NAME, RunRecord
from probing.utils.atomic import delete, removal_name, write_json_atomic

FINISHED_NAME = "finished.json"
log = logging.getLogger("probing")


def resolved(cfg: DictConfig) -> dict[str, Any]:
    """The config as a record keeps it, without the switch that only says how to run it."""
    config = OmegaConf.to_container(cfg, resolve=True)
    config.pop("resume", None)
    return config


def mark_finished(folder: Path, cfg: DictConfig, records: list[RunRecord]) -> Path:
    """Say that the run in `folder` saved every record it had to (written after the last)."""
    names = sorted(str(r.folder.relative_to(folder)) for r in records)
    return write_json_atomic(folder / FINISHED_NAME, {"config": resolved(cfg), "records": names})


def finished_earlier(folder: Path, cfg: DictConfig) -> list[RunRecord] | None:
    """The records of a run of this config that finished in `folder`, or None where there is
    none (never run, failed, interrupted, or run with other settings: then the log says so)."""
    marker = folder / FINISHED_NAME
    try:
        saved = json.loads(marker.read_text())
        config, names = saved["config"], saved["records"]
        records = [RunRecord.read(folder / name / RECORD_NAME) for name in names]
    except FileNotFoundError:
        return None
    except Exception as e:  # any damage means: run it again
        log.warning("%s: the earlier run's records cannot be read back (%s); running it again",
                    folder, e)
        return None
    if config != resolved(cfg):
        log.warning("%s finished earlier with other settings (%s); running it again", folder,
                    ", ".join(changed_settings(config, resolved(cfg))))
        return None
    return records


def changed_settings(old: Any, new: Any, prefix: str = "") -> list[str]:
    """The dotted keys whose values differ between two resolved configs."""
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return [] if old == new else [f"{prefix or '<config>'}: {old!r} -> {new!r}"]
    return [change for key in sorted(set(old) | set(new), key=str)
            for change in changed_settings(old.get(key), new.get(key),
                                           f"{prefix}.{key}" if prefix else str(key))]


def start_attempt(folder: Path, resume: bool) -> None:
    """Before a run starts: its folder is no longer marked finished (an attempt that fails must
    not leave it so); on resume, what an earlier attempt left is cleared as well."""
    (folder / FINISHED_NAME).unlink(missing_ok=True)
    if resume:
        clear_earlier_attempt(folder)


def clear_earlier_attempt(folder: Path) -> None:
    """Remove what an earlier, unfinished attempt left in the run folder: its failure record, a
    record at the top, every subfolder holding a record or a staging folder, staging folders.
    Hydra's own files (.hydra/, the job's log) and anything else stay."""
    if not folder.is_dir():
        return
    for name in (FAILURE_NAME, RECORD_NAME):
        (folder / name).unlink(missing_ok=True)
    for sub in folder.iterdir():
        if sub.is_dir() and not sub.is_symlink() and _holds_run_output(sub):
            delete(sub, removal_name(sub))


def _holds_run_output(sub: Path) -> bool:
    return (sub.name.startswith(STAGING_PREFIX) or (sub / RECORD_NAME).is_file()
            or any(sub.glob(f"{STAGING_PREFIX}*")))
