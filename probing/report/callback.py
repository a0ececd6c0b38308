"""The report of a sweep, written into its folder when a multirun ends (a Hydra callback).

On by default (conf/hydra/callbacks/report.yaml); `hydra/callbacks=none` turns it off. Either
way the sweep ends with status 1 where a job failed (`SweepExitStatus`).
"""

import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from probing.report.failures import SweepExitStatus
from probing.utils.errors import user_error

log = logging.getLogger("probing")


class SweepReport(SweepExitStatus):
    """At the end of a multirun: write `python -m probing.report`'s tables and figures of the
    sweep folder (failed and missing jobs included) into <sweep>/report, then set the exit
    status."""

    def __init__(self, resamples: int, seed: int, folder: str) -> None:
        self.resamples, self.seed, self.folder = resamples, seed, folder

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self.write_report(Path(config.hydra.sweep.dir))
        super().on_multirun_end(config, **kwargs)

    def write_report(self, sweep_dir: Path) -> None:
        from probing.report.build import report  # matplotlib only when a sweep ends

        out = sweep_dir / self.folder
        try:
            report([sweep_dir], out, self.resamples, self.seed)
        except Exception as e:  # the sweep's results stay; only the report is missing
            error = user_error(e)
            if error is None:
                log.exception("the sweep report failed; rerun it with python -m probing.report "
                              "%s", sweep_dir)
            else:
                log.error("no sweep report: %s", error)
            return
        log.info("sweep report: %s", out)
