"""Linear centred kernel alignment (CKA; Kornblith et al. 2019) between feature matrices whose
rows are the same n items (words), e.g. two layers of an encoder or two encoders on one corpus.

Everything is computed in feature space, from d1 x d2 cross products, never from the n x n Gram
matrices K = X X^T, L = Y Y^T: 25,000 words x 384 dimensions then take megabytes and seconds
rather than gigabytes. Columns are centred first (a constant column becomes exactly 0).

Biased estimator: with X, Y centred, HSIC(K, L) = tr(K H L H) = ||Y^T X||_F^2 (up to the factor
1/(n-1)^2, which cancels), so

    CKA = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F).

Debiased estimator (`debiased=True`): HSIC replaced by the unbiased estimator of Song et al.
(2012), with K~, L~ the Gram matrices whose diagonals are set to 0,

    n (n-3) HSIC_1 = tr(K~ L~) + (1^T K~ 1)(1^T L~ 1) / ((n-1)(n-2)) - 2/(n-2) 1^T K~ L~ 1.

The estimator does not change when all rows are shifted by one vector, so X and Y may be centred.
Then K 1 = 0; with a_i = ||x_i||^2, b_i = ||y_i||^2 (the Gram diagonals) K~ 1 = -a,
1^T K~ 1 = -sum(a), 1^T K~ L~ 1 = a.b and tr(K~ L~) = ||Y^T X||_F^2 - a.b, which gives

    n (n-3) HSIC_1 = ||Y^T X||_F^2 - n/(n-2) a.b + sum(a) sum(b) / ((n-1)(n-2)),

and CKA = HSIC_1(K, L) / sqrt(HSIC_1(K, K) HSIC_1(L, L)) (the factor n (n-3) cancels).
tests/test_cka.py checks both forms against the Gram-space definitions.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from probing.utils.errors import ProbingError

MIN_ITEMS_DEBIASED = 4  # the unbiased HSIC estimator divides by n - 3


@dataclass(frozen=True)
class _SelfTerms:
    """The parts of a CKA value that depend on one side only: the Gram diagonal of the centred
    features (for the debiased estimator) and HSIC of the matrix with itself."""

    row_norms: np.ndarray
    similarity: float


def standardize(x: np.ndarray) -> np.ndarray:
    """Each feature (column) at mean 0 and variance 1 (population variance), in float64; a
    constant feature becomes 0. Why: a few "rogue" dimensions of very large variance dominate
    CKA of raw transformer states (Timkey & van Schijndel 2021); standardised, every feature
    counts alike."""
    centred = _centred(_checked(x, "x"))
    scale = centred.std(axis=0)
    scale[scale == 0] = 1.0
    return centred / scale


def linear_cka(x: np.ndarray, y: np.ndarray, debiased: bool = False) -> float:
    """Linear CKA of the (n, d1) matrix `x` and the (n, d2) matrix `y` (module docstring for the
    formulas). Columns are centred, not standardised (`cka_matrix` standardises by default).
    1 for `x` against itself or any orthogonal transform or rescaling of it; the biased value
    lies in [0, 1], the debiased one can fall slightly below 0 for unrelated features."""
    features_x = _centred(_checked(x, "x"))
    features_y = _centred(_checked(y, "y"))
    _same_items(features_x, features_y, "x", "y")
    return _cka(features_x, features_y, _self_terms(features_x, debiased, "x"),
                _self_terms(features_y, debiased, "y"), debiased)


def cka_matrix(layers_a: Sequence[np.ndarray] | np.ndarray,
               layers_b: Sequence[np.ndarray] | np.ndarray | None = None,
               debiased: bool = False, standardized: bool = True) -> np.ndarray:
    """Linear CKA of every layer of `layers_a` with every layer of `layers_b`, an La x Lb array.

    A set of layers is a list of (n, d_l) arrays or one (L, n, d) array (float16 is fine: the
    arithmetic is float64), with the same n items as rows throughout. `layers_b=None` compares
    `layers_a` with itself: symmetric, diagonal exactly 1. `standardized` standardises every
    feature first (`standardize`). Only two layers are held in float64 at a time; each one's
    self-similarity is computed once.
    """
    a = _layer_list(layers_a, "layers_a")
    b = a if layers_b is None else _layer_list(layers_b, "layers_b")
    terms_a = [_self_terms(_prepared(x, standardized, name), debiased, name) for name, x in a]
    terms_b = terms_a if layers_b is None else [
        _self_terms(_prepared(y, standardized, name), debiased, name) for name, y in b]
    result = np.ones((len(a), len(b)))
    for i, (name_x, x) in enumerate(a):
        features_x = _prepared(x, standardized, name_x)
        first = i + 1 if layers_b is None else 0
        for j in range(first, len(b)):
            name_y, y = b[j]
            features_y = _prepared(y, standardized, name_y)
            _same_items(features_x, features_y, name_x, name_y)
            result[i, j] = _cka(features_x, features_y, terms_a[i], terms_b[j], debiased)
            if layers_b is None:
                result[j, i] = result[i, j]
    return result


def _cka(x: np.ndarray, y: np.ndarray, terms_x: _SelfTerms, terms_y: _SelfTerms,
         debiased: bool) -> float:
    return float(_hsic(x, y, terms_x.row_norms, terms_y.row_norms, debiased)
                 / np.sqrt(terms_x.similarity * terms_y.similarity))


def _hsic(x: np.ndarray, y: np.ndarray, row_norms_x: np.ndarray, row_norms_y: np.ndarray,
          debiased: bool) -> float:
    """HSIC of centred `x` and `y` up to a factor that depends on n only (module docstring)."""
    cross = x.T @ y
    hsic = float(np.sum(cross * cross))
    if debiased:
        n = x.shape[0]
        hsic += (row_norms_x.sum() * row_norms_y.sum() / ((n - 1) * (n - 2))
                 - n / (n - 2) * float(row_norms_x @ row_norms_y))
    return hsic


def _self_terms(features: np.ndarray, debiased: bool, name: str) -> _SelfTerms:
    n = features.shape[0]
    if debiased and n < MIN_ITEMS_DEBIASED:
        raise ProbingError(f"{name} has {n} rows: debiased CKA needs at least "
                           f"{MIN_ITEMS_DEBIASED} items")
    row_norms = np.einsum("ij,ij->i", features, features)
    similarity = _hsic(features, features, row_norms, row_norms, debiased)
    if not similarity > 0:
        raise ProbingError(f"{name} has no variance across its {n} rows (or too few rows for "
                           f"the debiased estimate): CKA is undefined for it")
    return _SelfTerms(row_norms, similarity)


def _prepared(x: np.ndarray, standardized: bool, name: str) -> np.ndarray:
    return standardize(_checked(x, name)) if standardized else _centred(_checked(x, name))


def _centred(x: np.ndarray) -> np.ndarray:
    """Columns at mean 0; a constant column exactly 0 (subtracting a rounded mean would leave
    noise in it, which standardising would blow up)."""
    centred = x - x.mean(axis=0)
    centred[:, np.ptp(x, axis=0) == 0] = 0.0
    return centred


def _checked(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ProbingError(f"{name} has shape {x.shape}: CKA needs an (items, features) matrix "
                           f"with at least 2 items")
    if not np.isfinite(x).all():
        raise ProbingError(f"{name} holds NaN or infinite values: check the activations")
    return x


def _same_items(x: np.ndarray, y: np.ndarray, name_x: str, name_y: str) -> None:
    if x.shape[0] != y.shape[0]:
        raise ProbingError(f"{name_x} has {x.shape[0]} rows and {name_y} {y.shape[0]}: CKA "
                           f"compares representations of the same items, row by row")


def _layer_list(layers: Sequence[np.ndarray] | np.ndarray, name: str
                ) -> list[tuple[str, np.ndarray]]:
    """Each layer with the name an error message gives it, e.g. layers_a[3]."""
    if len(layers) == 0:
        raise ProbingError(f"{name} holds no layers")
    return [(f"{name}[{i}]", layer) for i, layer in enumerate(layers)]
