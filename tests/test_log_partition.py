"""log Z by closed form, quadrature and AIS, against known answers; log-likelihoods.

The AIS tests check the issue's acceptance bound, |estimate - truth| < 3
reported standard errors, with fixed seeds (the SE is the delta-method one,
the estimate the log-mean-exp of the chains' weights).
"""

import numpy as np
import pytest
from scipy import stats

import pymc_ebm

Z_AIS = 3.0


def _gaussian_product(dim: int, n_experts: int, seed: int) -> pymc_ebm.Gaussian:
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=(n_experts, dim))
    sigma = np.exp(rng.normal(scale=0.3, size=(n_experts, dim)))
    return pymc_ebm.Gaussian(mu, sigma)


def _gaussian_moments(energy: pymc_ebm.Gaussian) -> tuple[np.ndarray, np.ndarray]:
    lam = 1.0 / energy.sigma**2
    total = lam.sum(axis=0)
    return (lam * energy.mu.get_value()).sum(axis=0) / total, 1.0 / np.sqrt(total)


def _complete_student_t(dim: int, seed: int) -> tuple[pymc_ebm.StudentT, np.ndarray]:
    """A complete StudentT and 2000 exact draws of it (``y = W x`` has independent t's)."""
    rng = np.random.default_rng(seed)
    W = np.eye(dim) + 0.3 * rng.normal(size=(dim, dim))
    alpha = rng.uniform(2.0, 4.0, size=dim)
    nu = 2 * alpha - 1  # (1 + y²/2)^(-α) is a t with ν = 2α - 1, scale √(2/ν)
    y = stats.t.rvs(df=nu, size=(2000, dim), random_state=rng) * np.sqrt(2 / nu)
    return pymc_ebm.StudentT(W, alpha), np.linalg.solve(W, y.T).T


# -- closed forms against quadrature -------------------------------------------------------
def test_exact_gaussian_product_matches_quadrature_1d_and_2d():
    one_d = pymc_ebm.Gaussian([[0.0], [1.0]], [[1.0], [0.5]]) * pymc_ebm.Gaussian([[2.0]], [[3.0]])
    two_d = _gaussian_product(dim=2, n_experts=3, seed=0)
    for energy, n_points in ((one_d, 4000), (two_d, 800)):
        exact = pymc_ebm.log_partition(energy, "exact")
        grid = pymc_ebm.log_partition(energy, "quadrature", low=-8, high=8, n_points=n_points)
        assert exact.method == "exact" and exact.se == 0.0
        np.testing.assert_allclose(exact.log_z, grid.log_z, atol=1e-5)


def test_exact_student_t_matches_quadrature_1d_and_2d():
    one_d = pymc_ebm.StudentT(W=[[1.7]], alpha=[2.5])
    two_d = pymc_ebm.StudentT(W=[[1.0, 0.5], [-0.3, 2.0]], alpha=[3.0, 4.0])
    cases = ((one_d, 400.0, 200_000, 1e-6), (two_d, 60.0, 2000, 2e-4))
    for energy, half_width, n_points, atol in cases:
        exact = pymc_ebm.log_partition(energy, "exact").log_z
        grid = pymc_ebm.log_partition(
            energy, "quadrature", low=-half_width, high=half_width, n_points=n_points
        ).log_z
        np.testing.assert_allclose(exact, grid, atol=atol)


# -- AIS against known answers ---------------------------------------------------------------
@pytest.mark.parametrize(("dim", "widen", "shift"), [(10, 1.5, 0.5), (100, 1.2, 0.2)])
def test_ais_gaussian_product_within_3_se(dim, widen, shift):
    energy = _gaussian_product(dim, n_experts=3, seed=dim)
    mean, sd = _gaussian_moments(energy)
    rng = np.random.default_rng(1)
    # data for a deliberately poor base: wider and shifted on every dimension
    data = mean + widen * sd * rng.normal(size=(500, dim)) + shift * sd
    truth = pymc_ebm.log_partition(energy, "exact").log_z
    ais = pymc_ebm.log_partition(
        energy, data=data, n_runs=128, n_temperatures=100, random_seed=2, progressbar=False
    )
    assert ais.base == "gaussian" and ais.n_runs == 128 and ais.n_temperatures == 100
    assert ais.se > 0 and 128 / 8 < ais.ess <= 128  # enough effective weights to trust the SE
    assert abs(ais.log_z - truth) < Z_AIS * ais.se, (ais.log_z, truth, ais.se)


def test_ais_standard_error_shrinks_with_chains():
    energy = _gaussian_product(10, n_experts=3, seed=10)
    mean, sd = _gaussian_moments(energy)
    data = mean + 2.0 * sd * np.random.default_rng(3).normal(size=(500, 10))
    truth = pymc_ebm.log_partition(energy, "exact").log_z
    kwargs = dict(data=data, n_temperatures=30, random_seed=4, progressbar=False)
    few = pymc_ebm.log_partition(energy, n_runs=64, **kwargs)
    many = pymc_ebm.log_partition(energy, n_runs=1024, **kwargs)
    # 16x the chains: the SE should fall about 4x; ask for at least 2.5x
    assert many.se < few.se / 2.5, (few.se, many.se)
    for est in (few, many):
        assert abs(est.log_z - truth) < Z_AIS * est.se, (est.log_z, truth, est.se)


def test_ais_complete_student_t_16d_within_3_se():
    energy, data = _complete_student_t(16, seed=5)
    truth = pymc_ebm.log_partition(energy, "exact").log_z
    ais = pymc_ebm.log_partition(
        energy, data=data, n_runs=256, n_temperatures=200, random_seed=6, progressbar=False
    )
    assert abs(ais.log_z - truth) < Z_AIS * ais.se, (ais.log_z, truth, ais.se)
    assert ais.se < 0.2 and ais.ess > 256 / 8


def test_ais_unigauss_product_2d_matches_quadrature():
    experts = pymc_ebm.UniGauss(
        mu=[[0.3, 0.3], [0.7, 0.6], [0.5, 0.2]],
        sigma=[[0.05, 0.1], [0.08, 0.05], [0.1, 0.1]],
        pi=[0.9, 0.8, 0.7],
    )
    grid = pymc_ebm.log_partition(experts, "quadrature", n_points=600).log_z
    ais = pymc_ebm.log_partition(
        experts, n_runs=256, n_temperatures=200, random_seed=7, progressbar=False
    )
    assert ais.base == "uniform"
    assert abs(ais.log_z - grid) < Z_AIS * ais.se, (ais.log_z, grid, ais.se)


def test_ais_is_seeded():
    energy = pymc_ebm.Gaussian([[0.0, 1.0]], [[1.0, 2.0]])
    data = np.random.default_rng(0).normal(size=(50, 2))
    kwargs = dict(data=data, n_runs=16, n_temperatures=5, progressbar=False)
    first = pymc_ebm.log_partition(energy, random_seed=8, **kwargs)
    again = pymc_ebm.log_partition(energy, random_seed=8, **{**kwargs, "progressbar": True})
    other = pymc_ebm.log_partition(energy, random_seed=9, **kwargs)
    np.testing.assert_array_equal(first.log_weights, again.log_weights)
    assert not np.array_equal(first.log_weights, other.log_weights)


# -- bad input -------------------------------------------------------------------------------
def test_bad_input_is_refused():
    gauss = pymc_ebm.Gaussian([[0.0, 0.0]], [[1.0, 1.0]])
    box = pymc_ebm.UniGauss([[0.5, 0.5]], [[0.1, 0.1]], [0.5])
    data = np.zeros((10, 2)) + np.arange(10)[:, None] * [1.0, -1.0] + np.eye(10, 2)
    with pytest.raises(ValueError, match="no box: AIS needs data"):
        pymc_ebm.log_partition(gauss, "ais")
    with pytest.raises(ValueError, match="leave data out"):
        pymc_ebm.log_partition(box, "ais", data=data)
    with pytest.raises(ValueError, match="no closed-form log Z"):
        pymc_ebm.log_partition(box, "exact")
    with pytest.raises(ValueError, match="square W"):
        pymc_ebm.log_partition(pymc_ebm.StudentT(np.ones((3, 2)), np.ones(3)), "exact")
    with pytest.raises(ValueError, match="improper"):
        pymc_ebm.log_partition(pymc_ebm.StudentT(np.eye(2), [0.5, 3.0]), "exact")
    with pytest.raises(ValueError, match="n_temperatures must be a positive integer"):
        pymc_ebm.log_partition(gauss, data=data, n_temperatures=0)
    with pytest.raises(ValueError, match="n_runs must be a positive integer"):
        pymc_ebm.log_partition(gauss, data=data, n_runs=-4)
    with pytest.raises(ValueError, match="method must be one of"):
        pymc_ebm.log_partition(gauss, "nested")
    with pytest.raises(ValueError, match="quadrature works in 1 or 2 dimensions"):
        pymc_ebm.log_partition(pymc_ebm.Gaussian(np.zeros((1, 3)), np.ones((1, 3))), "quadrature")


# -- log-likelihood ----------------------------------------------------------------------------
def test_log_likelihood_matches_the_normalised_density():
    energy = _gaussian_product(3, n_experts=2, seed=11)
    mean, sd = _gaussian_moments(energy)
    X = np.random.default_rng(12).normal(size=(40, 3))
    log_z = pymc_ebm.log_partition(energy, "exact")
    ll = pymc_ebm.log_likelihood(energy, X, log_z=log_z)
    log_p = stats.norm.logpdf(X, mean, sd).sum(axis=1)
    np.testing.assert_allclose(ll.mean, log_p.mean(), rtol=1e-10)
    np.testing.assert_allclose(ll.se, log_p.std(ddof=1) / np.sqrt(40), rtol=1e-10)
    assert ll.se_log_z == 0.0 and ll.n == 40
    same = pymc_ebm.log_likelihood(energy, X, log_z=log_z.log_z)
    assert same == ll


def test_log_likelihood_propagates_the_log_z_standard_error():
    energy = pymc_ebm.Gaussian([[0.0]], [[1.0]])
    X = np.array([[0.0], [1.0], [-2.0]])
    estimate = pymc_ebm.LogPartition(log_z=0.1, se=0.3, method="ais")
    ll = pymc_ebm.log_likelihood(energy, X, log_z=estimate)
    exact = pymc_ebm.log_likelihood(energy, X, log_z=0.0)
    np.testing.assert_allclose(ll.mean, exact.mean - 0.1)
    np.testing.assert_allclose(ll.se, np.hypot(exact.se_data, 0.3))
    assert ll.se_log_z == 0.3
    with pytest.raises(ValueError, match=r"X must have shape \(n, 1\)"):
        pymc_ebm.log_likelihood(energy, np.zeros((3, 2)), log_z=0.0)
    with pytest.raises(ValueError, match="log_z must be finite"):
        pymc_ebm.log_likelihood(energy, X, log_z=np.nan)
