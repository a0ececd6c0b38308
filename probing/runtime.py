"""Process-wide concerns shared by the stages: device choice, seeding, library versions."""

import platform
import random
from importlib import metadata

import numpy as np
import torch

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
