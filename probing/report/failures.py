"""Runs and jobs of a sweep that failed or never finished, so that a report lists them.

A run that fails writes `failed.json` into its folder (probing/runs/failure.py). `sweep_jobs`
reads a sweep folder: every job folder (`.hydra/overrides.yaml`) with its outcome, `done`
(results.json), `failed` (failed.json) or `missing` (neither: crashed, killed or still
running), plus the jobs that the sweep's `multirun.yaml` asked for and that never got a folder.
"""

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from probing.runs.failure import FAILURE_NAME
from probing.runs.record import RECORD_NAME


@dataclass
class Job:
    folder: str | None  # None: the sweep asked for it and it never started
    overrides: list[str]
    status: str  # done | failed | missing
    error_type: str = ""
    first_line: str = ""
    job: int | None = None


@dataclass
class SweepStatus:
    sweep_dir: str
    jobs: list[Job] = field(default_factory=list)

    @property
    def not_done(self) -> list[Job]:
        return [job for job in self.jobs if job.status != "done"]

    def message(self) -> str:
        """"N of M jobs failed: ..." with each job's overrides and first line of its error."""
        lines = [f"{len(self.not_done)} of {len(self.jobs)} jobs failed in {self.sweep_dir}:"]
        for job in self.not_done:
            where = f"#{job.job}" if job.job is not None else "(never started)"
            why = f"{job.error_type}: {job.first_line}" if job.error_type else job.first_line
            lines.append(f"  {where} {' '.join(job.overrides)}: {why}")
        return "\n".join(lines)

    def table(self) -> list[dict]:
        return [asdict(job) for job in self.not_done]


def _read_overrides(folder: Path) -> list[str]:
    return [str(o) for o in yaml.safe_load((folder / ".hydra" / "overrides.yaml").read_text())
            or []]


def _job_number(folder: Path) -> int | None:
    hydra = folder / ".hydra" / "hydra.yaml"
    try:
        return int(yaml.safe_load(hydra.read_text())["hydra"]["job"]["num"])
    except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError):
        return int(folder.name) if folder.name.isdigit() else None


def job_of(folder: Path) -> Job:
    overrides, num = _read_overrides(folder), _job_number(folder)
    # a run of several probes (mix=layers) keeps each probe's record in a subfolder
    if (folder / RECORD_NAME).is_file() or any(folder.glob(f"*/{RECORD_NAME}")):
        return Job(str(folder), overrides, "done", job=num)
    failure = folder / FAILURE_NAME
    if failure.is_file():
        saved = _read_failure(failure)
        return Job(str(folder), overrides, "failed", saved.get("error_type", ""),
                   saved.get("first_line", ""), num)
    return Job(str(folder), overrides, "missing", "",
               f"neither {RECORD_NAME} nor {FAILURE_NAME}: crashed, killed or still running", num)


def _read_failure(path: Path) -> dict:
    """A failure record; one that cannot be read still marks its job as failed."""
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        return {"first_line": f"{path} cannot be read ({e})"}
    return saved if isinstance(saved, dict) else {}


def expected_jobs(sweep_dir: Path) -> list[list[str]] | None:
    """The override lists of every job the sweep asked for, from multirun.yaml (the basic
    sweeper's grid); None where it cannot be worked out (another sweeper, an interpolation)."""
    try:
        config = yaml.safe_load((sweep_dir / "multirun.yaml").read_text())["hydra"]
    except Exception:  # best effort: the job folders are still listed
        return None
    return jobs_asked(config)


def jobs_asked(config: dict) -> list[list[str]] | None:
    """The override lists of every job a sweep's `hydra` config asks for (the basic sweeper's
    grid); None where it cannot be worked out (another sweeper, an interpolation)."""
    try:
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
        from hydra.core.override_parser.overrides_parser import OverridesParser

        if "basic_sweeper" not in str(config["sweeper"].get("_target_", "")):
            return None
        params = [f"{k}={v}" for k, v in (config["sweeper"].get("params") or {}).items()]
        arguments = [*params, *config["overrides"]["task"]]
        overrides = OverridesParser.create().parse_overrides(arguments)
        batches = BasicSweeper.split_arguments(overrides, None)
        return [list(job) for batch in batches for job in batch]
    except Exception:  # best effort: the job folders are still listed
        return None


def sweep_jobs(sweep_dir: str | Path, asked: list[list[str]] | None = None) -> SweepStatus:
    """Every job folder of the sweep and every job its multirun.yaml asked for that has none;
    with `asked` (one sweep's jobs, where several sweeps share the folder), those jobs only."""
    sweep_dir = Path(sweep_dir)
    folders = sorted({p.parent.parent for p in sweep_dir.rglob(".hydra/overrides.yaml")
                      if p.parent.parent != sweep_dir})
    jobs = [job_of(folder) for folder in folders]
    if asked is not None:
        mine = [sorted(overrides) for overrides in asked]
        jobs = [job for job in jobs if sorted(job.overrides) in mine]
    expected = asked if asked is not None else (
        expected_jobs(sweep_dir) if (sweep_dir / "multirun.yaml").is_file() else None)
    seen = [sorted(job.overrides) for job in jobs]
    for overrides in expected or []:
        if sorted(overrides) in seen:
            seen.remove(sorted(overrides))
        else:
            jobs.append(Job(None, overrides, "missing", "", "never started"))
    return SweepStatus(str(sweep_dir), jobs)


def sweeps_under(paths: list[Path]) -> list[Path]:
    """Sweep folders (holding multirun.yaml) at or under the given paths."""
    found = set()
    for path in map(Path, paths):
        if path.is_dir():
            found |= {p.parent for p in path.rglob("multirun.yaml")}
    return sorted(found)


class SweepExitStatus(Callback):
    """When a multirun ends: read its folder, and where a job failed or never finished, say
    which and exit with status 1."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        # this sweep's own jobs: another sweep may be running into the same folder (parts of a
        # study by seed or task), and its multirun.yaml may be the folder's
        asked = jobs_asked(OmegaConf.to_container(config.hydra, resolve=False))
        status = sweep_jobs(config.hydra.sweep.dir, asked)
        if status.not_done:
            print(status.message(), file=sys.stderr)
            sys.exit(1)
