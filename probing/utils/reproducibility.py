"""What makes a run repeatable and what its record says about it: one seed for every random
stream, and the versions of the libraries that can change its numbers."""

import platform
import random
from importlib import metadata

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """One seed drives Python, NumPy and torch (CPU and CUDA) random streams."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def library_versions() -> dict[str, str]:
    """Versions that can change a run's numbers, for the run record."""
    versions = {"python": platform.python_version()}
    for package in ("layer-probing", "torch", "transformers", "tokenizers", "numpy", "scipy",
                    "hydra-core", "h5py"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions
