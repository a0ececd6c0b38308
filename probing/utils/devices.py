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


PRECISIONS = ("auto", "fp32", "bf16")
CPU_BF16_UNITS = ("avx512_bf16", "amx_bf16")


def resolve_precision(precision: str, device: torch.device, cpu_flags: set[str] | None = None
                      ) -> torch.dtype:
    """The dtype of a probe's matrix products (`trainer.precision`): `auto` is bfloat16 where
    the device computes it natively (a CUDA device that supports it, a CPU with avx512_bf16 or
    AMX units) and float32 elsewhere: without those units a CPU emulates bfloat16 products at a
    small fraction of its float32 speed. `cpu_flags` default to /proc/cpuinfo's."""
    if precision not in PRECISIONS:
        raise ProbingError(f"trainer.precision={precision}: give one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return torch.bfloat16 if precision == "bf16" else torch.float32
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    flags = cpu_flags if cpu_flags is not None else _cpu_flags()
    return torch.bfloat16 if flags & set(CPU_BF16_UNITS) else torch.float32


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()
