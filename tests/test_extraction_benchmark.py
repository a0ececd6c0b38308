"""The extraction benchmark's choice of device and dtype (its speed is measured, not tested):
CUDA in bfloat16 where the GPU supports it, float32 on a GPU without it, the CPU in float32."""

import importlib.util

import pytest
import torch
from helpers import REPO


@pytest.fixture(scope="module")
def benchmark():
    path = REPO / "experiments" / "benchmarks" / "extraction.py"
    spec = importlib.util.spec_from_file_location("extraction_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(path.parent))  # as run as a script: its folder's helpers
        spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("cuda", "bf16", "expected"), [
    (False, False, ("cpu", torch.float32)),
    (False, True, ("cpu", torch.float32)),
    (True, True, ("cuda", torch.bfloat16)),
    (True, False, ("cuda", torch.float32)),
])
def test_device_and_dtype(benchmark, monkeypatch, cuda, bf16, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: bf16)
    device, dtype = benchmark.choose_device_and_dtype()
    assert (device.type, dtype) == expected


def test_this_machine_measures_what_it_has(benchmark):
    device, dtype = benchmark.choose_device_and_dtype()
    assert device.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert dtype in (torch.float32, torch.bfloat16)
