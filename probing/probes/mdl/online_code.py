"""The arithmetic of Voita & Titov's (2020) online (prequential) code, in bits.

The training targets, shuffled once, are sent in blocks ending at t_1 < t_2 < ... < t_S = N.
The first block is sent with the uniform code; every later block i with a probe trained on
targets 1..t_{i-1}, costing the probe's summed negative log-likelihood of the block:

    online codelength = t_1 * log2(K) + sum_{i=2..S} NLL_i / ln(2)      (NLL_i in nats)
    uniform codelength = N * log2(K)
    compression = uniform codelength / online codelength

Losses come from training code in nats (cross-entropy uses ln) and are divided by ln 2 before
being added to the log2 terms: the reference code adds nats to bits, which this module does not.

Multi-label targets (a set of K labels each present or not) are coded one label at a time: each
label's presence is one fair coin under the uniform code, K bits a target, and a probe's
NLL of a target is the sum of its K binary cross-entropies (in nats).
"""

import math
from collections.abc import Sequence

from probing.utils.errors import ProbingError


def block_ends(n: int, fractions: Sequence[float]) -> list[int]:
    """The cumulative number of targets at the end of each block: round(fraction * n) (halves
    up), at least 1, the last exactly n. For small n several fractions round to the same count;
    the repeats are dropped (a block may not be empty), so there are fewer blocks than
    fractions: n = 10 gives [1, 3, 5, 10]."""
    if n < 2:
        raise ProbingError(f"online code over {n} targets: it needs at least 2 (one block sent "
                           f"uniformly, at least one by a probe)")
    if list(fractions) != sorted(set(fractions)) or fractions[0] <= 0 or fractions[-1] != 1:
        raise ProbingError(f"block fractions {list(fractions)} must rise strictly from above 0 "
                           f"to exactly 1")
    ends = []
    for fraction in fractions:
        end = min(n, max(1, math.floor(fraction * n + 0.5)))
        if not ends or end > ends[-1]:
            ends.append(end)
    return ends


def uniform_codelength(n: int, n_labels: int, multilabel: bool = False) -> float:
    """Bits to send n targets with no model: n * log2(K) for one of K labels a target, n * K for
    multi-label targets (each label's presence one fair bit)."""
    if n_labels < (1 if multilabel else 2):
        raise ProbingError(f"{n_labels} labels: a code over labels needs at least "
                           f"{1 if multilabel else 2}")
    return n * n_labels if multilabel else n * math.log2(n_labels)


def online_codelength(first_block: int, n_labels: int, block_nll_nats: Sequence[float],
                      multilabel: bool = False) -> float:
    """Bits of the online code: the uniform code of the first `first_block` targets plus each
    later block's summed negative log-likelihood (in nats, as losses come) divided by ln 2."""
    if any(not math.isfinite(nll) or nll < 0 for nll in block_nll_nats):
        raise ProbingError(f"block negative log-likelihoods {list(block_nll_nats)} must be "
                           f"finite and non-negative (summed losses in nats)")
    return (uniform_codelength(first_block, n_labels, multilabel)
            + math.fsum(block_nll_nats) / math.log(2))


def compression(n: int, n_labels: int, codelength: float, multilabel: bool = False) -> float:
    """Uniform codelength of all n targets divided by `codelength` (bits): 1 for a probe that
    learns nothing, n / t_1 at most for single-label targets (every later block free)."""
    if not codelength > 0:
        raise ProbingError(f"codelength {codelength} bits: compression needs a positive one")
    return uniform_codelength(n, n_labels, multilabel) / codelength
