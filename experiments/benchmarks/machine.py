"""The machine a benchmark ran on (its CPU's name, its measured matmul peak) and the timing of
GPU work, kept beside the benchmarks: nothing in the package needs them. A benchmark run as
`python experiments/benchmarks/X.py` has this folder first on sys.path and imports it as
`machine`."""

import platform
import time
from collections.abc import Callable
from pathlib import Path

import torch


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

