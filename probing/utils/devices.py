"""Which torch device a stage runs on: CUDA when present, else the CPU."""

import torch

from probing.utils.errors import ProbingError


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA when present, else CPU; anything else is taken as a torch device name
    (the `device` setting, which the encoder, trainer and pretraining share)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ProbingError(f"device={name}: not a device torch knows; use auto, cpu, cuda or "
                           "cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ProbingError(f"device={name} was asked for but CUDA is not available; use "
                           "device=cpu")
    if device.type not in ("cpu", "cuda"):
        raise ProbingError(f"device={name}: only the CPU and CUDA devices are supported; use "
                           "auto, cpu or cuda")
    return device
