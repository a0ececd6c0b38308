"""Linear CKA: the published reference values, its invariances, the feature-space formulas
against the Gram-space definitions, standardisation and the layer-by-layer matrix."""

import numpy as np
import pytest
from conftest import make_tiny_bert
from helpers import composed, probe_overrides
from scipy.stats import ortho_group

from probing.run import probe_run
from probing.similarity import cka_matrix, linear_cka, standardize
from probing.utils.errors import ProbingError


@pytest.fixture
def reference_pair() -> tuple[np.ndarray, np.ndarray]:
    """The example of Kornblith et al.'s CKA notebook (the values quoted in issue 19)."""
    np.random.seed(1337)
    x = np.random.randn(100, 10)
    y = np.random.randn(100, 10) + x
    return x, y


def gram_hsic_biased(gram_x: np.ndarray, gram_y: np.ndarray) -> float:
    """tr(K H L H), H the centring matrix: the definition, n x n."""
    h = np.eye(len(gram_x)) - 1.0 / len(gram_x)
    return float(np.trace(gram_x @ h @ gram_y @ h))


def gram_hsic_unbiased(gram_x: np.ndarray, gram_y: np.ndarray) -> float:
    """Song et al. (2012), eq. 5, on the raw (uncentred) Gram matrices."""
    n = len(gram_x)
    k = gram_x - np.diag(np.diag(gram_x))
    m = gram_y - np.diag(np.diag(gram_y))
    ones = np.ones(n)
    value = (np.trace(k @ m) + ones @ k @ ones * (ones @ m @ ones) / ((n - 1) * (n - 2))
             - 2 / (n - 2) * ones @ k @ m @ ones)
    return float(value / (n * (n - 3)))


def gram_cka(x: np.ndarray, y: np.ndarray, hsic) -> float:
    gram_x, gram_y = x @ x.T, y @ y.T
    return hsic(gram_x, gram_y) / np.sqrt(hsic(gram_x, gram_x) * hsic(gram_y, gram_y))


def test_reference_values(reference_pair):
    x, y = reference_pair
    assert round(linear_cka(x, y), 5) == 0.55761
    assert round(linear_cka(x, y, debiased=True), 5) == 0.51346


@pytest.mark.parametrize(("debiased", "hsic"), [(False, gram_hsic_biased),
                                                (True, gram_hsic_unbiased)])
def test_feature_space_equals_gram_space(debiased, hsic):
    """Uncentred inputs of different widths: the Gram forms see the raw rows, so this also
    checks that centring first leaves the unbiased estimator unchanged."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 7)) + 3.0
    y = x @ rng.normal(size=(7, 12)) + rng.normal(size=(60, 12)) - 1.0
    assert linear_cka(x, y, debiased) == pytest.approx(gram_cka(x, y, hsic), abs=1e-12)


@pytest.mark.parametrize("debiased", [False, True])
def test_self_similarity_is_one(reference_pair, debiased):
    x, _ = reference_pair
    assert linear_cka(x, x, debiased) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("debiased", [False, True])
def test_invariant_to_orthogonal_transform_and_isotropic_scaling(reference_pair, debiased):
    x, y = reference_pair
    q = ortho_group.rvs(10, random_state=1)
    expected = linear_cka(x, y, debiased)
    assert linear_cka(x @ q, y, debiased) == pytest.approx(expected, abs=1e-12)
    assert linear_cka(x, 7.5 * y, debiased) == pytest.approx(expected, abs=1e-12)
    assert linear_cka(x + 4.0, y, debiased) == pytest.approx(expected, abs=1e-12)


def test_not_invariant_to_anisotropic_scaling(reference_pair):
    """The invariance tests above could pass for a constant; this one could not."""
    x, y = reference_pair
    stretched = x * np.arange(1, 11)
    assert abs(linear_cka(stretched, y) - linear_cka(x, y)) > 0.05


def test_unrelated_features_score_low():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(2000, 5)), rng.normal(size=(2000, 5))
    assert linear_cka(x, y) < 0.02
    assert abs(linear_cka(x, y, debiased=True)) < 0.01


def test_standardize():
    rng = np.random.default_rng(3)
    x = rng.normal(loc=5.0, scale=[1.0, 10.0, 0.1], size=(500, 3))
    x = np.column_stack([x, np.full(500, 0.1)])  # a constant column, not exact in binary
    z = standardize(x)
    assert z.dtype == np.float64
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(z[:, :3].std(axis=0), 1.0)
    assert (z[:, 3] == 0).all()


def test_rogue_dimension_dominates_raw_not_standardized_cka():
    """Two unrelated 20-dimensional representations sharing one feature of 1000x the scale
    (a rogue dimension): raw CKA says they are alike, standardised CKA says they are not."""
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(1000, 20)), rng.normal(size=(1000, 20))
    x[:, 0] = y[:, 0] = 1000 * rng.normal(size=1000)
    raw = cka_matrix([x, y], standardized=False)[0, 1]
    standardized = cka_matrix([x, y])[0, 1]
    assert raw > 0.99
    assert standardized < 0.2


def test_cka_matrix_against_itself_and_another():
    rng = np.random.default_rng(5)
    base = rng.normal(size=(200, 8))
    layers = np.stack([base, base + 0.5 * rng.normal(size=(200, 8)),
                       rng.normal(size=(200, 8))]).astype(np.float16)
    within = cka_matrix(layers)
    assert within.shape == (3, 3)
    np.testing.assert_array_equal(np.diag(within), 1.0)
    np.testing.assert_array_equal(within, within.T)
    assert within[0, 1] > 0.7 > 0.1 > within[0, 2]
    other = [layers[0][:, :5].astype(np.float64) * 2, layers[2]]
    between = cka_matrix(layers, other, debiased=True)
    assert between.shape == (3, 2)
    assert between[0, 0] == pytest.approx(
        linear_cka(standardize(layers[0]), standardize(other[0]), debiased=True))
    assert between[2, 1] == pytest.approx(1.0)


def test_bad_input_refused():
    x = np.random.default_rng(6).normal(size=(10, 3))
    with pytest.raises(ProbingError, match="10 rows and y 9"):
        linear_cka(x, x[:9])
    with pytest.raises(ProbingError, match="no variance"):
        linear_cka(x, np.ones((10, 2)))
    with pytest.raises(ProbingError, match="NaN"):
        linear_cka(x, np.full((10, 2), np.nan))
    with pytest.raises(ProbingError, match="at least 4"):
        linear_cka(x[:3], x[:3], debiased=True)
    with pytest.raises(ProbingError, match=r"layers_a\[1\] has shape"):
        cka_matrix([x, x[:, 0]])


def test_cka_against_another_encoder_reads_the_cache_the_run_hands_in(tiny_bert, treebank,
                                                                        tmp_path):
    """probe=cka against a second encoder: the run extracts that encoder's test activations
    (into the shared cache) and hands them in; the family builds and runs no encoder."""
    other = make_tiny_bert(tmp_path / "other", seed=1)
    cache = tmp_path / "cache"
    cfg = composed([*probe_overrides(tiny_bert, treebank, cache), "probe=cka",
                    "+encoder@probe.against=hf", f"probe.against.name_or_path={other}",
                    "probe.against.name=other"])
    [record] = probe_run(cfg, tmp_path / "run")
    fields = record.family_fields
    assert fields["against"] == "other"
    assert np.array(fields["matrix_against"]).shape == (record.n_layers, record.n_layers)
    assert not np.allclose(fields["matrix_against"], fields["matrix"]), "another encoder"
    # the other encoder's activations were cached beside the encoder's: a rerun extracts none
    cached = sorted(p.name for p in cache.iterdir() if p.is_dir())
    [again] = probe_run(cfg, tmp_path / "again")
    assert sorted(p.name for p in cache.iterdir() if p.is_dir()) == cached and len(cached) == 4
    assert again.family_fields["matrix_against"] == fields["matrix_against"]
