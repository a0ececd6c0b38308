"""Extraction of every layer's word vectors, and the on-disk cache that keeps them."""

from probing.features.cache import Activations
from probing.features.extract import extract

__all__ = ["Activations", "extract"]
