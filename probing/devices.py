"""Which torch device a stage runs on: CUDA when present, else the CPU."""

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
