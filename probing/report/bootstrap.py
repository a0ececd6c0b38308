"""The report's intervals: a cluster bootstrap over test sentences and seeds, and Student-t
intervals over seeds for what does not depend on the test sentences.

- Sentences (a cluster bootstrap): resample i draws n of the n test sentences with replacement,
  as one count per sentence; every item of a drawn sentence (a word, an arc, a span) enters
  with its sentence's count. Targets of one sentence are not independent (upos, deps and consts
  have many a sentence), so resampling targets would understate the variance.
- Paired: the counts depend only on (seed, the test file, its number of sentences, i), so every
  run scored on the same test sentences (every layer and seed of a task, and tasks that share
  a test file, upos and deps on EWT) sees the same resamples, and differences between runs
  (delta_l, selectivity, E_delta orders) are paired. Runs on other test files get other draws:
  independent.
- Seeds: where a configuration ran with k seeds, resample i also draws k seed indices with
  replacement and averages those seeds' scores on that resample of sentences. The draws are
  shared by every configuration with k seeds, each configuration's seeds in seed order, so
  that seed j of every layer selection of a task (trained side by side in one bank, from one
  seed: their noise is shared) is drawn together, and differences between configurations
  (delta_l, the mix against a layer, selectivity) are paired over seeds as over sentences;
  between independent runs, pairing by seed number costs nothing. A mean of k of k seeds drawn
  with replacement varies (k - 1) / k as much as the seeds' mean does, so its deviation from
  the all-seed mean is scaled by sqrt(k / (k - 1)): the seed part of an interval does not
  shrink with the bootstrap. Its tails are a bootstrap's, narrower than Student-t's where the
  seeds are few, and three seeds give only 10 distinct draws: five are the least a study should
  run (`experiments/layer_roles.yaml` runs five).
- Interval: the 2.5th and 97.5th percentiles of the resampled statistic (percentile method),
  over the resamples where it is defined; how many were not is counted, never dropped silently.
- Seed-only statistics (mixing weights, E_s, MDL codelengths, CKA): with few seeds the min-max
  of the seeds is no 95% interval; theirs is mean +- t_{0.975, k-1} s / sqrt(k), none from one
  seed.
"""

import hashlib
from dataclasses import dataclass

import numpy as np
from scipy import stats

LEVEL = 0.95


def _words(text: str) -> list[int]:
    """A stable 64-bit number of a text, as two 32-bit words for numpy's seed sequence."""
    digest = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return [digest & 0xFFFFFFFF, digest >> 32]


class SentenceDraws:
    """The resamples of test sentences: (resamples, n) counts, one table per test file."""

    def __init__(self, resamples: int, seed: int) -> None:
        self.resamples, self.seed = resamples, seed
        self._counts: dict[tuple[str, int], np.ndarray] = {}

    def counts(self, test_file: str, n: int) -> np.ndarray:
        """How often each of the n sentences of `test_file` is drawn in each resample: the
        same for the same (seed, test file, n)."""
        key = (test_file, n)
        if key not in self._counts:
            rng = np.random.default_rng([self.seed, n, *_words(test_file)])
            self._counts[key] = rng.multinomial(n, np.full(n, 1 / n),
                                                size=self.resamples).astype(np.float32)
        return self._counts[key]

    def over_seeds(self, samples: np.ndarray) -> np.ndarray:
        """(k seeds, resamples) scores, in seed order -> (resamples,): resample i averages k
        seeds drawn with replacement, the same draws for every configuration of k seeds, its
        deviation from the all-seed mean scaled by sqrt(k / (k - 1)); one seed passes
        through."""
        samples = np.atleast_2d(samples)
        k, n = samples.shape
        if k == 1:
            return samples[0]
        rng = np.random.default_rng([self.seed, k, self.resamples])
        pick = rng.integers(0, k, size=(n, k))
        drawn = samples[pick, np.arange(n)[:, None]].mean(axis=1)
        mean = samples.mean(axis=0)
        return mean + np.sqrt(k / (k - 1)) * (drawn - mean)


@dataclass(frozen=True)
class Interval:
    lo: float
    hi: float
    undefined: float  # the share of resamples where the statistic is undefined (NaN)


def interval(samples: np.ndarray | None, level: float = LEVEL) -> Interval:
    """Percentile interval of bootstrap samples over the resamples where they are defined;
    NaN where there are none."""
    if samples is None or np.size(samples) == 0:
        return Interval(float("nan"), float("nan"), float("nan"))
    samples = np.asarray(samples, dtype=float)
    defined = samples[np.isfinite(samples)]
    undefined = 1 - len(defined) / len(samples)
    if not len(defined):
        return Interval(float("nan"), float("nan"), undefined)
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(defined, [tail, 100 - tail])
    return Interval(float(lo), float(hi), undefined)


def seed_interval(values: np.ndarray, level: float = LEVEL
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and Student-t interval over seeds of (k, ...) values: mean +- t s / sqrt(k) with
    t the (1 + level) / 2 quantile of t with k - 1 degrees of freedom; NaN bounds from one
    seed (no spread to estimate)."""
    values = np.asarray(values, dtype=float)
    k = values.shape[0]
    mean = values.mean(axis=0)
    if k < 2:
        nan = np.full_like(mean, np.nan)
        return mean, nan, nan
    half = stats.t.ppf((1 + level) / 2, k - 1) * values.std(axis=0, ddof=1) / np.sqrt(k)
    return mean, mean - half, mean + half


def bootstrap_p_value(differences: np.ndarray) -> float:
    """Two-sided bootstrap p-value of 'the difference is 0': twice the smaller share of
    resamples on either side of 0 (ties on both), counted as (m + 1) / (n + 1) so that it is
    never 0; NaN without resamples."""
    differences = np.asarray(differences, dtype=float)
    n = len(differences)
    if n == 0:
        return float("nan")
    below = ((differences <= 0).sum() + 1) / (n + 1)
    above = ((differences >= 0).sum() + 1) / (n + 1)
    return float(min(1.0, 2 * min(below, above)))


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN entries stay NaN and do not count)."""
    p_values = np.asarray(p_values, dtype=float)
    adjusted = np.full_like(p_values, np.nan)
    tested = np.flatnonzero(~np.isnan(p_values))
    order = tested[np.argsort(p_values[tested], kind="stable")]
    m, running = len(order), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted
