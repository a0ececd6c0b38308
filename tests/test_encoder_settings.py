"""Encoder settings a user can get wrong, and model files that are not models: each is refused
with a message that names the setting or the file, before anything is extracted."""

import shutil

import pytest
from conftest import make_tiny_bert
from from_yaml import hf_encoder
from helpers import probe_overrides, run_cli

from probing.utils.devices import resolve_device
from probing.utils.errors import ProbingError


@pytest.mark.parametrize(("values", "message"), [
    ({"device": "tpu"}, "device=tpu: not a device torch knows"),
    ({"device": "meta"}, "device=meta: only the CPU and CUDA devices are supported"),
    ({"dtype": "float8"}, "encoder.dtype=float8: use one of float32, float16, bfloat16"),
])
def test_a_bad_encoder_setting_is_named(tiny_bert, values, message):
    with pytest.raises(ProbingError, match=message):
        hf_encoder(tiny_bert, **values)


def test_cuda_asked_for_without_cuda_says_what_to_use(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    with pytest.raises(ProbingError, match="CUDA is not available; use device=cpu"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"


def test_random_bytes_as_the_weights_are_a_damaged_model(tmp_path):
    folder = make_tiny_bert(tmp_path / "model")
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(bytes(range(256)) * 64)
    with pytest.raises(ProbingError, match=f"the weights in {folder} cannot be read"):
        hf_encoder(folder)


def test_the_command_line_names_a_bad_device_without_traceback(tiny_bert, treebank, tmp_path):
    result = run_cli([*probe_overrides(tiny_bert, treebank, tmp_path / "cache"), "device=tpu",
                      f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1 and "Traceback" not in output
    assert "device=tpu: not a device torch knows" in output
    assert not (tmp_path / "cache").exists()
    shutil.rmtree(tmp_path / "run", ignore_errors=True)
