"""BERT's masked-LM corruption (Devlin et al. 2019), shared by its pretraining here and by the
scoring of a BERT's own objective (`Encoder.masked_lm`)."""

from dataclasses import dataclass

import numpy as np


@dataclass
class Masking:
    """BERT's masked-LM corruption of one example; random replacements are drawn from the
    pieces `first_random`..vocab_size - 1 (the special pieces come first)."""

    mask_id: int
    vocab_size: int
    first_random: int
    prob: float = 0.15
    max_predictions: int = 20

    def __call__(self, pieces: np.ndarray, maskable: np.ndarray, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(input pieces, masked positions, their original pieces): round(prob * n) of the n
        maskable positions (at least 1, at most max_predictions); each becomes [MASK] with
        probability 0.8, a random non-special piece with 0.1, and stays with 0.1."""
        candidates = np.flatnonzero(maskable)
        n = min(self.max_predictions, max(1, round(self.prob * len(candidates))))
        positions = np.sort(rng.choice(candidates, n, replace=False))
        labels = pieces[positions]
        inputs = pieces.copy()
        draw = rng.random(n)
        inputs[positions[draw < 0.8]] = self.mask_id
        replaced = positions[draw >= 0.9]
        inputs[replaced] = rng.integers(self.first_random, self.vocab_size, len(replaced))
        return inputs, positions, labels
