"""A Hydra callback that makes the run's output folder first, so that one that cannot be made
is refused with its name and the setting that moves it, not with a traceback."""

import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


class OutputFolderCheck(Callback):
    """Makes the run's (or sweep's) output folder before Hydra does."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        make_output_folder(config.hydra.run.dir, "hydra.run.dir")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        make_output_folder(config.hydra.sweep.dir, "hydra.sweep.dir")


def make_output_folder(folder: str, setting: str) -> None:
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        print(f"error: cannot make the output folder {folder} ({e.strerror}). Give a folder "
              f"you can write with {setting}=..., or run from one (outputs go below the "
              f"current folder).", file=sys.stderr)
        sys.exit(1)
