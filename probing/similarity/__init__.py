"""How alike the representations of two layers (or two encoders) are: linear CKA."""

from probing.similarity.cka import cka_matrix, linear_cka, standardize

__all__ = ["cka_matrix", "linear_cka", "standardize"]
