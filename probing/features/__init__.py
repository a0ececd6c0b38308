"""Extraction of every layer's word vectors, and the on-disk cache that keeps them
(`layout` defines the files, `check` whether a folder is whole, `python -m probing.features`
lists and removes caches)."""

from probing.features.cache import Activations
from probing.features.check import DamagedCache
from probing.features.extract import extract

__all__ = ["Activations", "DamagedCache", "extract"]
