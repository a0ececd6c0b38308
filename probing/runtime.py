"""Process-wide concerns shared by the stages: device choice, seeding, library versions, and
for the benchmarks the machine itself (its name, its measured matmul peak, timing)."""

import platform
import random
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from probing.errors import ProbingError


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA when present, else CPU; anything else is taken as a torch device name."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ProbingError(f"device={name} was asked for but CUDA is not available; use device=cpu")
    return device


def seed_everything(seed: int) -> None:
    """One seed drives Python, NumPy and torch (CPU and CUDA) random streams."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def library_versions() -> dict[str, str]:
    """Versions that can change a run's numbers, for the run record."""
    versions = {"python": platform.python_version()}
    for package in ("probing", "torch", "transformers", "tokenizers", "numpy", "scikit-learn",
                    "hydra-core", "h5py"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


def matmul_peak(dtype: torch.dtype, device: torch.device, seconds: float = 1.0) -> float:
    """Best FLOP/s of n x n matmuls, n doubling from 256 to 4096 while one takes < 0.25 s."""
    best, n = 0.0, 256
    while n <= 4096:
        a = torch.randn(n, n, device=device).to(dtype)
        b = torch.randn(n, n, device=device).to(dtype)
        single = timed(lambda a=a, b=b: a @ b, device)
        repeats = max(1, int(seconds / max(single, 1e-6)))
        elapsed = timed(lambda a=a, b=b, r=repeats: [a @ b for _ in range(r)], device)
        best = max(best, 2 * n**3 * repeats / elapsed)
        if single > 0.25:
            break
        n *= 2
    return best


def timed(work: Callable[[], object], device: torch.device) -> float:
    """Seconds `work()` takes, queued GPU work included."""
    _synchronize(device)
    start = time.perf_counter()
    work()
    _synchronize(device)
    return time.perf_counter() - start


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def cpu_name() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


class OutputFolderCheck(Callback):
    """Makes the run's (or sweep's) output folder before Hydra does, so that one that cannot
    be made is refused with its name and the setting that moves it, not with a traceback."""

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
