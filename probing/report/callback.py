"""The report of a sweep, written into its folder when a multirun ends (a Hydra callback).

On by default (conf/hydra/callbacks/report.yaml); `hydra/callbacks=none` turns it off.
"""

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from probing.errors import user_error
from probing.report import bootstrap
from probing.report.failures import sweep_ended, sweep_jobs

log = logging.getLogger("probing")


class SweepReport(Callback):
    """At the end of a multirun: read the sweep folder (which jobs finished, failed or never
    did) and write `python -m probing.report`'s tables and figures into <sweep>/report."""

    def __init__(self, resamples: int = bootstrap.RESAMPLES, seed: int = bootstrap.SEED,
                 folder: str = "report") -> None:
        self.resamples, self.seed, self.folder = resamples, seed, folder

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from probing.report.build import report  # matplotlib only when a sweep ends

        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_ended(sweep_jobs(sweep_dir))
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
