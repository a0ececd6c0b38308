"""Encoders and extraction as the YAML configures them, for tests: every setting not given
here comes from conf/ (encoder/hf.yaml, encoder/elmo.yaml, config.yaml's features:), its one
home, rather than from constructor defaults."""

from pathlib import Path
from typing import Any

from probing.config.composed import configured_encoder, features_settings
from probing.encoders.elmo_encoder import ELMoEncoder
from probing.encoders.hf import HFEncoder
from probing.features import Activations, extract


def hf_encoder(name_or_path: str | Path, **values: Any) -> HFEncoder:
    """conf/encoder/hf.yaml for this model folder, on the CPU, with `values` set."""
    return configured_encoder("hf", **{"name_or_path": str(name_or_path), "device": "cpu",
                                       **values})


def elmo_encoder(options_file: str | Path, weight_file: str | Path | None = None,
                 **values: Any) -> ELMoEncoder:
    """conf/encoder/elmo.yaml for these files, on the CPU, with `values` set (no weight file:
    give random_init=True)."""
    return configured_encoder("elmo", options_file=str(options_file),
                              weight_file=None if weight_file is None else str(weight_file),
                              device="cpu", **values)


def extract_as_configured(encoder, sentences: list[list[str]], cache_dir: str | Path,
                          **values: Any) -> Activations:
    """`extract` with conf/config.yaml's features: settings, `values` overriding them."""
    return extract(encoder, sentences, cache_dir, **{**features_settings(), **values})
