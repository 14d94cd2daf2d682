"""Samplers on known targets: NUTS through pm.sample, and the exact rejection sampler."""

import warnings

import arviz as az
import numpy as np
import pymc as pm
import pytest
from scipy import stats

import pymc_ebm
from pymc_ebm import Gaussian, Mixture, StudentT, UniGauss
from pymc_ebm.evaluation.quadrature import grid_density

SAMPLE_KWARGS = {"cores": 1, "progressbar": False, "compute_convergence_checks": False}
Z_MAX = 4.0  # tolerance in Monte Carlo standard errors
KS_ALPHA = 0.01  # family-wise level of one test function's KS tests (Bonferroni)


def as_chains(draws):
    """(chain, draw, row, dim) posterior → (chain × row, draw, dim): each row is a chain."""
    n_chain, n_draw, n_row, dim = draws.shape
    return draws.transpose(0, 2, 1, 3).reshape(n_chain * n_row, n_draw, dim)


def sample_nuts(energy, *, draws, tune, chains, n_particles, seed):
    """Draws of ``p(v) ∝ exp(-E(v))`` by NUTS (given explicitly): (chain × row, draw, dim)."""
    with pm.Model():
        pymc_ebm.visible("v", energy, n_particles=n_particles)
        idata = pm.sample(
            draws=draws,
            tune=tune,
            chains=chains,
            step=pm.NUTS(),
            random_seed=seed,
            **SAMPLE_KWARGS,
        )
    assert "tree_depth" in idata.sample_stats  # NUTS did the sampling
    return as_chains(idata.posterior["v"].values)


def thinned(chains):
    """Pool draws of shape (chain, draw) after thinning by ⌈draws / ESS⌉ (roughly independent)."""
    # arviz 1.3's array layer needs prob for the tail ESS
    ess = min(az.ess(chains, method="bulk"), az.ess(chains, method="tail", prob=(0.05, 0.95)))
    step = max(1, int(np.ceil(chains.shape[1] / (ess / chains.shape[0]))))
    return chains[:, ::step].ravel()


# -- (a) product of 4 standard Gaussians: variance 1/4 --------------------------
def _external(name):
    """A ``nuts_sampler`` param that runs where its package is installed (``tox -e jax``)."""
    return pytest.param(name, marks=pytest.mark.jax, id=name)


@pytest.mark.parametrize("nuts_sampler", ["pymc", _external("numpyro"), _external("nutpie")])
def test_product_of_four_gaussians_has_variance_one_quarter(nuts_sampler):
    if nuts_sampler != "pymc":
        pytest.importorskip(nuts_sampler)
    experts = Gaussian(mu=np.zeros((4, 2)), sigma=np.ones((4, 2)))
    idata = pymc_ebm.sample_fantasies(
        experts,
        draws=1000,
        tune=500,
        chains=2,
        n_particles=2,
        random_seed=4,
        nuts_sampler=nuts_sampler,
        **SAMPLE_KWARGS,
    )
    if nuts_sampler == "pymc":
        assert "tree_depth" in idata.sample_stats  # PyMC picked NUTS
    assert idata.posterior["v"].shape == (2, 1000, 2, 2)
    draws = as_chains(idata.posterior["v"].values)  # (4, 1000, 2)
    for d in range(2):
        x = draws[..., d]
        mean_error = abs(x.mean()) / az.mcse(x)
        assert mean_error < Z_MAX, f"dimension {d}: mean off by {mean_error:.2f} MCSE"
        squares = (x - x.mean()) ** 2
        var_error = abs(squares.mean() - 0.25) / az.mcse(squares)
        assert var_error < Z_MAX, f"dimension {d}: variance off by {var_error:.2f} MCSE"


@pytest.mark.jax
@pytest.mark.parametrize("nuts_sampler", ["nutpie", "numpyro", "blackjax"])
def test_external_nuts_refuses_discrete_hidden_states(nuts_sampler):
    experts = UniGauss([[0.3, 0.6]], [[0.2, 0.2]], [0.5])
    with pytest.raises(ValueError, match=r"continuous variables only.*hidden states \['h'\]"):
        pymc_ebm.sample_fantasies(experts, hidden_name="h", nuts_sampler=nuts_sampler)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"nuts_sampler": "stan"}, "nuts_sampler must be 'pymc' or one of"),
        ({"nuts_sampler": "numpyro", "step": pm.NUTS}, "a step cannot be given"),
    ],
)
def test_bad_external_nuts_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pymc_ebm.sample_fantasies(Gaussian([[0.0]], [[1.0]]), **kwargs)


def test_hidden_states_have_the_quadrature_mean():
    """With ``hidden_name``, the fraction of active experts is E_p(v)[p(h = 1 | v)]."""
    experts = UniGauss([[0.3, 0.6], [0.7, 0.4]], [[0.15, 0.2], [0.2, 0.1]], [0.5, 0.3])
    idata = pymc_ebm.sample_fantasies(
        experts,
        draws=500,
        tune=100,
        chains=2,
        n_particles=20,
        random_seed=3,
        hidden_name="h",
        **SAMPLE_KWARGS,
    )
    h = idata.posterior["h"].values  # (chain, draw, row, expert)
    grid = grid_density(experts, n_points=300)
    vs = np.stack(np.meshgrid(*grid.points, indexing="ij"), axis=-1).reshape(-1, 2)
    kernel = pymc_ebm.step_methods.unigauss_gibbs.UniGaussKernel(experts)
    cell = np.prod([np.diff(e)[0] for e in grid.edges])
    exact = (grid.density.reshape(-1, 1) * kernel.hidden_probabilities(vs)).sum(axis=0) * cell
    chains = h.transpose(0, 2, 1, 3).reshape(-1, h.shape[1], h.shape[3])  # rows as chains
    for j in range(2):
        x = chains[..., j].astype(float)
        assert abs(x.mean() - exact[j]) / az.mcse(x) < Z_MAX, (j, x.mean(), exact[j])


# -- (b) one Student-t expert: a scaled Student-t -------------------------------
def test_student_t_expert_is_scaled_student_t():
    alpha = 3.5
    nu = 2 * alpha - 1
    draws = sample_nuts(
        StudentT(W=[[1.0]], alpha=[alpha]), draws=1500, tune=500, chains=2, n_particles=1, seed=6
    )
    target = stats.t(df=nu, scale=np.sqrt(2 / nu))
    x = thinned(draws[..., 0])
    assert len(x) > 500
    result = stats.kstest(x, target.cdf)
    assert result.pvalue > KS_ALPHA, result
    # variance 2/(ν - 2) = 1/2 (the fourth moment is finite for ν = 6, so the MCSE is too)
    squares = draws[..., 0] ** 2
    var_error = abs(squares.mean() - target.var()) / az.mcse(squares)
    assert var_error < Z_MAX, f"variance off by {var_error:.2f} MCSE"


# -- (c) 2-D targets normalised by quadrature ------------------------------------
def unigauss_product():
    return UniGauss(
        mu=[[0.3, 0.35], [0.6, 0.6], [0.45, 0.3]],
        sigma=[[0.2, 0.25], [0.25, 0.2], [0.3, 0.3]],
        pi=[0.6, 0.5, 0.7],
    )


def gaussian_mixture():
    parts = Gaussian(mu=[[-1.0, -0.5], [1.2, 0.8]], sigma=[[1.0, 0.7], [0.6, 1.0]])
    return Mixture([parts], weights=[0.4, 0.6])


@pytest.mark.parametrize(
    ("make_energy", "box"),
    [(unigauss_product, (None, None)), (gaussian_mixture, (-9.0, 9.0))],
    ids=["unigauss_product", "gaussian_mixture"],
)
def test_nuts_marginals_match_quadrature(make_energy, box):
    energy = make_energy()
    grid = grid_density(energy, *box, n_points=600)
    draws = sample_nuts(energy, draws=1000, tune=500, chains=1, n_particles=4, seed=8)
    if energy.domain is not None:
        low, high = energy.domain
        assert np.all((draws > low) & (draws < high))
    for d in range(2):
        x = thinned(draws[..., d])
        assert len(x) > 400
        result = stats.kstest(x, lambda q, d=d: grid.marginal_cdf(d, q))
        assert result.pvalue > KS_ALPHA / 2, (d, result)  # two KS tests


def test_grid_density_is_exact_for_gaussians():
    # a product of 4 experts N(m, s²) in 2-D is N(m, s²/4): compare with SciPy
    mu = np.array([0.5, -1.0])
    sigma = np.array([1.0, 2.0])
    experts = Gaussian(np.tile(mu, (4, 1)), np.tile(sigma, (4, 1)))
    grid = grid_density(experts, mu - 8 * sigma / 2, mu + 8 * sigma / 2, n_points=(400, 300))
    assert grid.density.shape == (400, 300)
    # Z = ∫ Π_k N(v; m, s²) dv = Π_d (2π s_d²)^(-3/2) / 2 per dimension
    log_z = np.sum(-1.5 * np.log(2 * np.pi * sigma**2) - np.log(2.0))
    assert grid.log_z == pytest.approx(log_z, abs=1e-4)
    assert pymc_ebm.log_partition_quadrature(
        experts, mu - 4 * sigma, mu + 4 * sigma, n_points=(400, 300)
    ) == pytest.approx(log_z, abs=1e-4)
    for d in range(2):
        scale = sigma[d] / 2
        exact = stats.norm(mu[d], scale)
        # midpoint rule, leading error terms: h² max|f''| / 24 for the density
        # (f''(m) = 1/(√(2π) s³)), and h² max|f'| / 24 for the CDF summed cell by cell
        # (max|f'| = 1/(√(2πe) s²)); 10% on top for the O(h⁴) rest
        h = grid.edges[d][1] - grid.edges[d][0]
        pdf_tol = 1.1 * h**2 / 24 / (np.sqrt(2 * np.pi) * scale**3)
        cdf_tol = 1.1 * h**2 / 24 / (np.sqrt(2 * np.pi * np.e) * scale**2)
        np.testing.assert_allclose(
            grid.marginals[d], exact.pdf(grid.points[d]), rtol=0, atol=pdf_tol
        )
        np.testing.assert_allclose(grid.cdfs[d], exact.cdf(grid.edges[d]), rtol=0, atol=cdf_tol)
        # outside the box, and at the mean (a cell edge here)
        q = np.array([mu[d] - 100.0, mu[d], mu[d] + 100.0])
        np.testing.assert_allclose(grid.marginal_cdf(d, q), [0.0, 0.5, 1.0], rtol=0, atol=cdf_tol)
        # inside cells, linear interpolation adds up to h² max|f'| / 8
        q = mu[d] + np.linspace(-2.0, 2.0, 101) * scale
        interp_tol = cdf_tol + h**2 / 8 / (np.sqrt(2 * np.pi * np.e) * scale**2)
        np.testing.assert_allclose(grid.marginal_cdf(d, q), exact.cdf(q), rtol=0, atol=interp_tol)


def test_grid_density_rejects_bad_input():
    gauss = Gaussian(np.zeros((1, 2)), np.ones((1, 2)))
    with pytest.raises(ValueError, match="give low and high"):
        grid_density(gauss)
    with pytest.raises(ValueError, match="low must be smaller than high"):
        grid_density(gauss, [0.0, 1.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="low and high must be finite"):
        grid_density(gauss, -np.inf, 1.0)
    with pytest.raises(ValueError, match="n_points must be an integer >= 2"):
        grid_density(gauss, -1.0, 1.0, n_points=1)
    with pytest.raises(ValueError, match="1 or 2 dimensions"):
        grid_density(Gaussian(np.zeros((1, 3)), np.ones((1, 3))), -1.0, 1.0)
    with pytest.raises(TypeError, match="energy must be an Energy"):
        grid_density(np.eye(2), -1.0, 1.0)


# -- (d) rejection sampling from a discrete product of experts ------------------
PROBS = np.array(
    [
        [0.10, 0.30, 0.20, 0.25, 0.15],
        [0.40, 0.20, 0.10, 0.05, 0.25],
        [0.20, 0.20, 0.30, 0.10, 0.20],
    ]
)


def test_rejection_sample_matches_enumeration():
    n = 4000
    samples, rate = pymc_ebm.rejection_sample(PROBS, n, random_seed=12)
    assert samples.shape == (n,)
    assert samples.dtype.kind == "i"

    product = PROBS.prod(axis=0)
    z = product.sum()
    counts = np.bincount(samples, minlength=PROBS.shape[1])
    result = stats.chisquare(counts, n * product / z)
    assert result.pvalue > KS_ALPHA, result

    n_proposed = n / rate
    assert n_proposed == pytest.approx(round(n_proposed))  # a whole number of proposals
    standard_error = np.sqrt(z * (1 - z) / n_proposed)
    assert abs(rate - z) < Z_MAX * standard_error, (rate, z, standard_error)


def test_rejection_sample_is_reproducible_and_skips_impossible_states():
    probs = np.array([[0.5, 0.5, 0.0], [0.0, 0.3, 0.7]])
    first, rate = pymc_ebm.rejection_sample(probs, 50, random_seed=3)
    second, rate_again = pymc_ebm.rejection_sample(probs, 50, random_seed=3)
    np.testing.assert_array_equal(first, second)
    assert rate == rate_again
    np.testing.assert_array_equal(first, 1)  # the only state both experts propose


@pytest.mark.parametrize(
    ("probs", "n", "match"),
    [
        (np.full(5, 0.2), 10, "probs must have shape"),
        (np.full((2, 0), 0.2), 10, "probs must have shape"),
        ([[0.5, 0.6, -0.1]], 10, "finite and non-negative"),
        ([[0.5, np.nan, 0.5]], 10, "finite and non-negative"),
        ([[0.5, 0.4, 0.0]], 10, "each row of probs must sum to 1"),
        (PROBS, -1, "n must be a non-negative integer"),
        (PROBS, 2.5, "n must be a non-negative integer"),
        (PROBS, True, "n must be a non-negative integer"),
        ([[1.0, 0.0], [0.0, 1.0]], 10, "the experts never agree"),
    ],
)
def test_rejection_sample_rejects_bad_input(probs, n, match):
    with pytest.raises(ValueError, match=match):
        pymc_ebm.rejection_sample(probs, n, random_seed=0)


def test_rejection_sample_gives_up_after_max_proposals():
    probs = np.array([[0.999, 0.001], [0.001, 0.999]])
    with pytest.raises(RuntimeError, match="proposals"):
        pymc_ebm.rejection_sample(probs, 1000, random_seed=0, batch_size=100, max_proposals=1000)


# -- hidden states that never change: no 0/0 warning from the convergence check ----------
def _narrow_experts():
    rng = np.random.default_rng(0)
    return UniGauss(rng.random((15, 2)), np.full((15, 2), 0.05), np.full(15, 0.5))


def test_hidden_states_that_never_change_give_no_runtime_warning():
    """A narrow expert is never active for some rows: that state's R-hat is 0/0 in ArviZ."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        idata = pymc_ebm.sample_fantasies(
            _narrow_experts(), draws=100, tune=50, chains=2, cores=1, n_particles=100,
            hidden_name="h", random_seed=0, progressbar=False,
        )  # fmt: skip
    h = idata.posterior["h"].values
    assert np.any(h.min(axis=(0, 1)) == h.max(axis=(0, 1)))  # some states never change
