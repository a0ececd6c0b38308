"""Linear erasers of a concept from a layer's vectors, as encoder edits.

An eraser maps x to x - ((x - b) R^T) L^T: the identity minus a low-rank map, around the mean
b. LEACE (Belrose et al. 2023, fitted with the `concept-erasure` package) is the edit of least
mean squared change after which no linear classifier predicts the labels better than a
constant, on the data it was fitted on. Its control (Elazar et al. 2021) removes a random
subspace of the same rank: damage that erasing the concept does beyond it is the concept's,
not the rank's. Both are affine, so erasing the pieces of a word and mean-pooling them gives
the erased word vector.
"""

import hashlib
from dataclasses import dataclass

import numpy as np
import torch

from probing.encoders.base import LayerEdit

RANK_TOLERANCE = 1e-5  # relative to the largest singular value of the removed map


@dataclass(frozen=True)
class Eraser:
    left: torch.Tensor  # (dim, r)
    right: torch.Tensor  # (r, dim)
    bias: torch.Tensor  # (dim,)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """In float32 whatever the model's dtype (a bf16 residual loses what LEACE removes)."""
        left, right, bias = (t.to(x.device, torch.float32) for t in (self.left, self.right,
                                                                     self.bias))
        erased = x.float() - ((x.float() - bias) @ right.mT) @ left.mT
        return erased.to(x.dtype)

    @property
    def rank(self) -> int:
        """The rank of the map removed (0: the eraser changes nothing)."""
        removed = (self.left.double() @ self.right.double())
        singular = torch.linalg.svdvals(removed)
        if len(singular) == 0 or singular[0] == 0:
            return 0
        return int((singular > RANK_TOLERANCE * singular[0]).sum())

    @property
    def key(self) -> str:
        digest = hashlib.sha256()
        for tensor in (self.left, self.right, self.bias):
            digest.update(tensor.detach().cpu().float().numpy().tobytes())
        return digest.hexdigest()

    def at(self, layer: int) -> LayerEdit:
        """This eraser as an edit of layer `layer`'s hidden states."""
        return LayerEdit(layer, self, self.key)


def one_hot(labels: np.ndarray, n_labels: int) -> torch.Tensor:
    """Label indices as one-hot rows; rows of 0/1 (several labels a target) as they are."""
    labels = np.asarray(labels)
    if labels.ndim == 2:
        return torch.from_numpy(labels.astype(np.float32))
    return torch.nn.functional.one_hot(torch.from_numpy(labels.astype(np.int64)),
                                       n_labels).float()


def leace(vectors: np.ndarray, labels: np.ndarray, n_labels: int) -> Eraser:
    """The LEACE eraser of `labels` from `vectors` (n, dim), fitted in float64."""
    from concept_erasure import LeaceEraser

    fitted = LeaceEraser.fit(torch.from_numpy(np.asarray(vectors, dtype=np.float64)),
                             one_hot(labels, n_labels).double())
    bias = fitted.bias if fitted.bias is not None else torch.zeros(vectors.shape[1])
    return Eraser(fitted.proj_left.float(), fitted.proj_right.float(), bias.float())


def random_like(eraser: Eraser, vectors: np.ndarray, seed: int) -> Eraser:
    """The orthogonal projection, around the vectors' mean, that removes a random subspace of
    the eraser's rank, drawn from `seed` alone (the erasure family passes the run's: the same
    draw at every layer and for every concept of a run; each seed draws its own)."""
    dim = eraser.left.shape[0]
    generator = torch.Generator().manual_seed(seed)
    basis = torch.linalg.qr(torch.randn(dim, max(eraser.rank, 1), generator=generator,
                                        dtype=torch.float64))[0][:, :eraser.rank]
    mean = torch.from_numpy(np.asarray(vectors, dtype=np.float64).mean(0))
    return Eraser(basis.float(), basis.mT.float(), mean.float())
