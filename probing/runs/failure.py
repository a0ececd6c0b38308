"""The failure record of a run: a run that fails (a job of a multirun, or a single run) writes
`failed.json` into its folder, with its overrides, the error's type, message and first line, and
whether it is a user error or a bug (then with the traceback); the report lists it
(probing/report/failures.py reads a sweep's)."""

import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode

from probing.utils.atomic import write_json_atomic
from probing.utils.errors import failure_recorded, reported_without_traceback

FAILURE_NAME = "failed.json"


def write_failure(folder: str | Path, overrides: list[str], error: BaseException,
                  user_error: bool, job: int | None = None) -> Path:
    message = str(error).strip() or type(error).__name__
    record = {"job": job, "overrides": list(overrides), "error_type": type(error).__name__,
              "first_line": message.splitlines()[0], "message": message,
              "user_error": user_error}
    if not user_error:
        record["traceback"] = "".join(traceback.format_exception(error))
    return write_json_atomic(Path(folder) / FAILURE_NAME, record)


@contextmanager
def outcome_recorded() -> Iterator[None]:
    """The one wrapper around a run (as lightning-hydra-template's `task_wrapper`): a run that
    fails writes failed.json into its folder. A single run then reports a user error in one
    message, without a traceback, and exits 1 (a bug keeps its traceback). A job of a sweep
    returns, so that the sweep goes on; the sweep's exit status is read from its folder when it
    ends (`SweepExitStatus`)."""
    hydra = HydraConfig.get()
    sweep = hydra.mode == RunMode.MULTIRUN
    folder, overrides = Path(hydra.runtime.output_dir), list(hydra.overrides.task)

    def record(error: BaseException, user: bool) -> None:
        try:
            write_failure(folder, overrides, error, user, hydra.job.num if sweep else None)
        except OSError as e:  # a full disk, say: the error itself still reaches the user
            logging.getLogger("probing").warning("could not write %s (%s)",
                                                 folder / FAILURE_NAME, e.strerror or e)

    if sweep:
        with failure_recorded(record):
            yield
        return
    with reported_without_traceback(), failure_recorded(record, go_on=False):
        yield
