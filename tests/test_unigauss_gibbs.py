"""Tests of the blocked Gibbs sampler for products of uni-gauss experts."""

import logging

import arviz as az
import cloudpickle
import numpy as np
import pymc as pm
import pytest
from pymc.model.transform.conditioning import remove_value_transforms
from pymc.sampling.mcmc import assign_step_methods, instantiate_steppers
from pymc.step_methods.compound import Competence, CompoundStep
from scipy import stats

import pymc_ebm
from pymc_ebm.evaluation.quadrature import grid_density
from pymc_ebm.step_methods import UniGaussGibbs, UniGaussKernel, sample_visible, unigauss_gibbs

ALPHA = 0.01  # family-wise level of the goodness-of-fit tests of one test function
Z = 4.0  # |z| threshold of every single MCSE or chi-square check
ALPHA_Z = 2 * stats.norm.sf(Z)  # the p-value threshold matching Z


def _three_experts() -> pymc_ebm.UniGauss:
    """A fixed 2-D product of 3 uni-gauss experts on the unit square."""
    return pymc_ebm.UniGauss(
        mu=[[0.25, 0.3], [0.7, 0.6], [0.4, 0.8]],
        sigma=[[0.1, 0.15], [0.12, 0.08], [0.2, 0.1]],
        pi=[0.6, 0.5, 0.7],
    )


def _random_experts(rng, n_experts=15, low=(-1.0, 0.0), high=(2.0, 3.0)) -> pymc_ebm.UniGauss:
    low, high = np.asarray(low), np.asarray(high)
    return pymc_ebm.UniGauss(
        mu=low + (high - low) * rng.random((n_experts, 2)),
        sigma=rng.uniform(0.2, 0.6, (n_experts, 2)),
        pi=rng.uniform(0.2, 0.8, n_experts),
        low=low,
        high=high,
    )


def _joint_model(energy, n_particles):
    with pm.Model() as model:
        v = pymc_ebm.visible("v", energy, n_particles=n_particles)
        pymc_ebm.hidden("h", energy, v)
    return model


def _visible_model(energy, n_particles):
    with pm.Model() as model:
        pymc_ebm.visible("v", energy, n_particles=n_particles)
    return model


def _to_box(value, energy):
    low, high = energy.domain
    s = 1.0 / (1.0 + np.exp(-value))
    return s * high + (1 - s) * low


def _to_value(x, energy):
    low, high = energy.domain
    return np.log(x - low) - np.log(high - x)


# -- (1) the conditionals are exact ---------------------------------------------


@pytest.mark.jax
def test_hidden_probabilities_equal_bayes_rule():
    rng = np.random.default_rng(0)
    energy = _random_experts(rng)
    low, high = energy.domain
    v = low + (high - low) * rng.random((100, 2))
    mu, sigma, pi = energy.mu.get_value(), energy.sigma, energy.pi
    gauss = np.prod(stats.norm.pdf(v[:, None, :], mu[None], sigma[None]), axis=-1)
    uniform = 1.0 / np.prod(high - low)
    expected = pi * gauss / (pi * gauss + (1 - pi) * uniform)
    got = UniGaussKernel(energy).hidden_probabilities(v)
    assert got.shape == (100, 15)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-14)


def test_hidden_step_frequencies_match_posterior():
    # The step on [h] alone draws h | v at the v of the point (v stays fixed).
    rng = np.random.default_rng(1)
    energy = _random_experts(rng)
    model = _joint_model(energy, n_particles=20)
    low, high = energy.domain
    v = low + (high - low) * rng.random((20, 2))
    point = model.initial_point()
    point["v_interval__"] = _to_value(v, energy)
    step = UniGaussGibbs([model["h"]], model=model, rng=2)
    n_sweeps = 2000
    counts = np.zeros((20, 15))
    for _ in range(n_sweeps):
        new, _ = step.step(point)
        assert new["v_interval__"] is point["v_interval__"]
        assert new["h"].dtype == point["h"].dtype
        counts += new["h"]
    prob = UniGaussKernel(energy).hidden_probabilities(v)
    var = n_sweeps * prob * (1 - prob)
    informative = var > 5
    assert informative.sum() > 50
    chi2 = np.sum((counts - n_sweeps * prob)[informative] ** 2 / var[informative])
    assert stats.chi2.sf(chi2, informative.sum()) > ALPHA
    # Where p(h=1|v) is negligible the state never switches on.
    assert np.all(counts[prob < 1e-9] == 0)


def _tail_experts() -> pymc_ebm.UniGauss:
    # Expert 2 sits far outside the box (standardised box ~[-60, -40] and [25, 50]).
    return pymc_ebm.UniGauss(
        mu=[[0.3, 0.6], [0.5, 0.2], [3.0, -1.0], [0.9, 0.9]],
        sigma=[[0.1, 0.2], [0.15, 0.1], [0.05, 0.04], [0.3, 0.2]],
        pi=[0.5, 0.5, 0.5, 0.5],
    )


PATTERNS = np.array([[1, 0, 0, 0], [1, 1, 0, 1], [0, 0, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]])


def _conditional(energy, pattern):
    """scipy distribution of each visible dimension given h (truncated product Gaussian)."""
    low, high = energy.domain
    mu, sigma = energy.mu.get_value(), energy.sigma
    prec = pattern @ sigma**-2
    if not pattern.any():
        return [stats.uniform(low[d], high[d] - low[d]) for d in range(2)]
    mean = pattern @ (mu * sigma**-2) / prec
    scale = prec**-0.5
    return [
        stats.truncnorm(
            (low[d] - mean[d]) / scale[d], (high[d] - mean[d]) / scale[d], mean[d], scale[d]
        )
        for d in range(2)
    ]


def test_visible_conditional_is_truncated_product_gaussian():
    energy = _tail_experts()
    n = 2000
    h = np.repeat(PATTERNS, n, axis=0)
    low, high = energy.domain
    v = sample_visible(
        h, energy.mu.get_value(), energy.log_sigma.get_value(), low, high, np.random.default_rng(3)
    )
    assert v.shape == (len(h), 2)
    assert np.all((v > low) & (v < high))
    n_tests = 2 * len(PATTERNS)
    for i, pattern in enumerate(PATTERNS):
        rows = v[i * n : (i + 1) * n]
        for d, dist in enumerate(_conditional(energy, pattern)):
            p_value = stats.kstest(rows[:, d], dist.cdf).pvalue
            assert p_value > ALPHA / n_tests, (pattern, d, p_value)


def test_visible_step_given_fixed_hidden():
    # The step on [v] alone, in a model with h, draws v | h at the h of the point.
    energy = _tail_experts()
    model = _joint_model(energy, n_particles=400)
    pattern = PATTERNS[1]
    point = model.initial_point()
    point["h"] = np.tile(pattern, (400, 1)).astype(point["h"].dtype)
    step = UniGaussGibbs([model["v"]], model=model, rng=4)
    draws = []
    for _ in range(5):  # v | h does not depend on the previous v: 5 x 400 iid draws
        new, sts = step.step(point)
        assert new["h"] is point["h"]
        assert sts[0]["active_experts"] == pattern.sum()
        draws.append(_to_box(new["v_interval__"], energy))
    draws = np.concatenate(draws)
    for d, dist in enumerate(_conditional(energy, pattern)):
        assert stats.kstest(draws[:, d], dist.cdf).pvalue > ALPHA / 2


def test_visible_draws_safe_far_in_the_tails():
    # Gaussians 1000 standard deviations away from the box: finite, inside, near the edge.
    mu = np.array([[50.0, -50.0]])
    log_sigma = np.log(np.full((1, 2), 0.05))
    low, high = np.zeros(2), np.ones(2)
    v = sample_visible(np.ones((500, 1)), mu, log_sigma, low, high, np.random.default_rng(5))
    assert np.all(np.isfinite(v)) and np.all((v > low) & (v < high))
    # On [0, 1], N(50, 0.05²) is 1 - Exp(rate (50 - 1) / 0.05²) and N(-50, 0.05²) is
    # Exp(rate 50 / 0.05²), up to a relative error ~1e-6 in the log density.
    right = stats.expon(scale=0.05**2 / 49.0)
    left = stats.expon(scale=0.05**2 / 50.0)
    assert stats.kstest(1.0 - v[:, 0], right.cdf).pvalue > ALPHA / 2
    assert stats.kstest(v[:, 1], left.cdf).pvalue > ALPHA / 2
    assert np.all(np.isfinite(np.log(v) - np.log1p(-v)))


# -- (1b) the mode-jump move alone ----------------------------------------------------


def _jump_density(x, energy, d):
    """Density of the mode-jump proposal of dimension ``d`` at ``x`` (written from its spec)."""
    low, high = energy.domain
    mu, sigma = energy.mu.get_value()[:, d], energy.sigma[:, d]
    inside = (x > low[d]) & (x < high[d])
    return 0.1 * inside / (high[d] - low[d]) + 0.9 * stats.norm.pdf(x[:, None], mu, sigma).mean(1)


def _weighted_min_sum(r, w):
    """``Σ_ij w_i w_j min(r_i, r_j)`` along the last axis, by sorting ``r``."""
    order = np.argsort(r, axis=-1)
    r, w = np.take_along_axis(r, order, -1), np.take_along_axis(w, order, -1)
    heavier = np.cumsum(w[..., ::-1], axis=-1)[..., ::-1] - w  # Σ_{j after i} w_j
    return (r * w * (w + 2 * heavier)).sum(axis=-1)


def expected_jump_accept(energy, grid):
    """Mean acceptance of :meth:`UniGaussKernel.jump` at stationarity, by quadrature.

    For dimension ``d``, with ``p`` the density and ``q`` the proposal,
    ``E[accept] = ∫ dv_{-d} ∫∫ min(p(x) q(x'), p(x') q(x)) dx dx'``, and
    ``min(p q', p' q) = q q' min(p/q, p'/q')``.
    """
    width = [np.diff(edges)[0] for edges in grid.edges]
    per_dim = []
    for d in range(2):
        p = np.moveaxis(grid.density, d, -1)  # (other dimension, x_d)
        w = np.broadcast_to(_jump_density(grid.points[d], energy, d) * width[d], p.shape)
        per_dim.append(_weighted_min_sum(p / w * width[d], w).sum() * width[1 - d])
    return float(np.mean(per_dim))


CENTRES = np.array([[0.2, 0.2], [0.8, 0.3], [0.5, 0.8]])


def _sharp_experts() -> pymc_ebm.UniGauss:
    """Three sharp experts (sigma 0.05) far apart in the unit square: separated modes."""
    return pymc_ebm.UniGauss(mu=CENTRES, sigma=np.full((3, 2), 0.05), pi=[0.3, 0.6, 0.9])


def _region(x):
    """0, 1, 2 within 0.15 (3 sigma) of that expert's centre, else 3."""
    dist = np.linalg.norm(x[..., None, :] - CENTRES, axis=-1)
    return np.where(dist.min(axis=-1) < 0.15, dist.argmin(axis=-1), 3)


def _jump_only_checks(n_rows=2000, n_iter=200, burn_in=100, seed=12):
    """Run jump moves only from one mode; chi-square p-value of the final masses, z of accept."""
    energy = _sharp_experts()
    grid = grid_density(energy, n_points=400)
    cell = np.prod([np.diff(edges)[0] for edges in grid.edges])
    regions = _region(np.stack(np.meshgrid(*grid.points, indexing="ij"), axis=-1))
    masses = np.array([grid.density[regions == k].sum() * cell for k in range(4)])
    kernel = UniGaussKernel(energy)
    rng = np.random.default_rng(seed)
    v = np.tile(CENTRES[0], (n_rows, 1))  # every row in the lightest mode
    accept = np.empty(n_iter)
    for i in range(n_iter):
        v, accept[i] = kernel.jump(v, rng)
    counts = np.bincount(_region(v), minlength=4)  # rows are independent chains
    p_value = stats.chisquare(counts, n_rows * masses).pvalue
    kept = accept[None, burn_in:]
    z = (kept.mean() - expected_jump_accept(energy, grid)) / az.mcse(
        kept, method="mean", chain_axis=0, draw_axis=1
    )
    return p_value, z


def test_expected_jump_accept_quadrature_matches_brute_force_for_a_flat_density():
    # p flat on the unit square: E[accept] of dimension d is ∫∫ min(q_d(x), q_d(x')) dx dx'.
    energy = pymc_ebm.UniGauss([[0.3, 0.6]], [[0.2, 0.1]], [1e-12])
    grid = grid_density(energy, n_points=60)
    brute = [
        np.minimum.outer(q, q).sum() / 60**2
        for q in (_jump_density(grid.points[d], energy, d) for d in range(2))
    ]
    np.testing.assert_allclose(expected_jump_accept(energy, grid), np.mean(brute), rtol=1e-9)


def test_mode_jumps_alone_reach_the_mode_masses():
    """Jump moves only (no Gibbs sweep), all rows starting in one sharp mode."""
    p_value, z = _jump_only_checks()
    assert p_value > ALPHA_Z, p_value
    assert abs(z) < Z, z


def test_mode_jump_check_detects_a_wrong_ratio(monkeypatch):
    """The same check fails when the proposal density is left out of the ratio."""
    monkeypatch.setattr(unigauss_gibbs, "_log_jump_density", lambda x, *args: np.zeros_like(x))
    p_value, z = _jump_only_checks()
    assert p_value < ALPHA_Z and abs(z) > Z, (p_value, z)


# -- (2) pm.sample draws from the right density ------------------------------------


@pytest.mark.jax
@pytest.mark.parametrize("make_model", [_joint_model, _visible_model], ids=["v+h", "v only"])
def test_pm_sample_matches_quadrature(make_model, caplog):
    energy = _three_experts()
    model = make_model(energy, n_particles=200)
    with model, caplog.at_level(logging.INFO, logger="pymc"):
        idata = pm.sample(
            draws=800,
            tune=50,
            chains=2,
            cores=1,
            random_seed=11,
            progressbar=False,
            compute_convergence_checks=False,
        )
    names = "v, h" if make_model is _joint_model else "v"
    assert f"UniGaussGibbs: [{names}]" in caplog.text
    # Rows are independent chains; draws 20 apart are uncorrelated here (lag-20 ACF ~ 0).
    thinned = idata.posterior["v"].values[:, ::20]  # (chain, draw, row, dim)
    samples = thinned.reshape(-1, 2)
    assert len(samples) == 2 * 40 * 200
    grid = grid_density(energy, n_points=1000)
    for d in range(2):
        p_value = stats.kstest(samples[:, d], lambda x, d=d: grid.marginal_cdf(d, x)).pvalue
        assert p_value > ALPHA / 2, (d, p_value)
    # jump_accept: the mean acceptance of the mode jumps at stationarity, by quadrature.
    accept = idata.sample_stats["jump_accept"].values  # (chain, draw)
    exact = expected_jump_accept(energy, grid_density(energy, n_points=300))
    mcse = az.mcse(accept, method="mean", chain_axis=0, draw_axis=1)
    assert abs(accept.mean() - exact) < Z * mcse, (accept.mean(), exact, mcse)


# -- (3) automatic assignment --------------------------------------------------------


def test_competence():
    energy = _three_experts()
    model = _joint_model(energy, n_particles=3)
    with model:
        assert UniGaussGibbs.competence(model["v"], True) == Competence.IDEAL
        assert UniGaussGibbs.competence(model["h"], False) == Competence.IDEAL
    with pm.Model() as other:
        z = pm.Normal("z")
        g = pymc_ebm.visible("g", pymc_ebm.Gaussian(np.zeros((2, 2)), np.ones((2, 2))), 3)
        assert UniGaussGibbs.competence(z, True) == Competence.INCOMPATIBLE
        assert UniGaussGibbs.competence(g, True) == Competence.INCOMPATIBLE
    assert UniGaussGibbs not in assign_step_methods(other)[1]
    # ahead of every PyMC step method (the package's other steps compete for other energies)
    methods = pm.step_methods.STEP_METHODS
    assert all(
        methods.index(UniGaussGibbs) < i for i, m in enumerate(methods) if "pymc." in m.__module__
    )


@pytest.mark.parametrize("make_model", [_joint_model, _visible_model], ids=["v+h", "v only"])
def test_pm_sample_assigns_one_instance(make_model):
    model = make_model(_three_experts(), n_particles=3)
    with model:  # as in pm.sample: competence reads the model from the context
        _, selected = assign_step_methods(model)
    assert selected == {UniGaussGibbs: model.value_vars}
    step = instantiate_steppers(model, [], selected)
    assert isinstance(step, UniGaussGibbs)
    assert step.vars == model.value_vars


# -- (4) seeding ----------------------------------------------------------------------


def _sample(model, seed, **kwargs):
    with model:
        return pm.sample(
            draws=15,
            tune=5,
            chains=2,
            random_seed=seed,
            progressbar=False,
            compute_convergence_checks=False,
            **kwargs,
        )


@pytest.fixture(scope="module")
def seeded_run():
    model = _joint_model(_three_experts(), n_particles=5)
    return model, _sample(model, 21, cores=1)


def test_same_seed_same_draws(seeded_run):
    model, first = seeded_run
    again = _sample(model, 21, cores=1)
    other = _sample(model, 22, cores=1)
    for name in ("v", "h"):
        np.testing.assert_array_equal(first.posterior[name].values, again.posterior[name].values)
        assert not np.array_equal(first.posterior[name].values, other.posterior[name].values)
    # The chains differ from each other.
    assert not np.array_equal(first.posterior["v"].values[0], first.posterior["v"].values[1])


def test_kernel_is_seeded_and_sees_parameter_updates():
    energy = pymc_ebm.UniGauss([[0.2, 0.2]], np.full((1, 2), 0.01), [0.999])
    kernel = UniGaussKernel(energy)
    start = np.full((50, 2), 0.2)
    v1, h1 = kernel.sweep(start, np.random.default_rng(6), n_sweeps=3)
    v2, h2 = kernel.sweep(start, np.random.default_rng(6), n_sweeps=3)
    np.testing.assert_array_equal(v1, v2)
    np.testing.assert_array_equal(h1, h2)
    assert abs(v1.mean() - 0.2) < 0.01
    energy.mu.set_value(np.array([[0.8, 0.8]]))  # in place, as a trainer does
    v3, _ = kernel.sweep(np.full((50, 2), 0.8), np.random.default_rng(6))
    assert abs(v3.mean() - 0.8) < 0.01
    with pytest.raises(ValueError, match="n_sweeps must be a positive integer"):
        kernel.sweep(start, np.random.default_rng(6), n_sweeps=0)


# -- (5) multiprocessing and compound steps --------------------------------------------


def test_two_cores_same_draws_as_one(seeded_run, caplog):
    model, first = seeded_run
    with caplog.at_level(logging.INFO, logger="pymc"):
        parallel = _sample(model, 21, cores=2)
    assert "Multiprocess sampling (2 chains in 2 jobs)" in caplog.text
    for name in ("v", "h"):
        np.testing.assert_array_equal(
            first.posterior[name].values, parallel.posterior[name].values
        )


def test_inside_compound_step(caplog):
    energy = _three_experts()
    with pm.Model() as model:
        v = pymc_ebm.visible("v", energy, n_particles=4)
        h = pymc_ebm.hidden("h", energy, v)
        pm.Normal("z", 0.0, 1.0)
        gibbs = UniGaussGibbs([v, h])
        with caplog.at_level(logging.INFO, logger="pymc"):
            idata = pm.sample(
                draws=200,
                tune=100,
                chains=2,
                cores=1,
                step=[gibbs],
                random_seed=31,
                progressbar=False,
                compute_convergence_checks=False,
            )
    assert "CompoundStep" in caplog.text and "UniGaussGibbs: [v, h]" in caplog.text
    assert "NUTS: [z]" in caplog.text
    assert {"active_experts", "diverging"} <= set(idata.sample_stats.data_vars)
    draws = idata.posterior
    # Means of v_0, v_1 (rows averaged per draw) and of z against their exact values.
    grid = grid_density(energy, n_points=400)
    exact = [float(grid.marginals[d] @ grid.points[d]) / 400 for d in range(2)]
    series = [draws["v"].values[..., d].mean(axis=-1) for d in range(2)]
    for values, truth in [*zip(series, exact, strict=True), (draws["z"].values, 0.0)]:
        mcse = az.mcse(values, method="mean", chain_axis=0, draw_axis=1)
        assert abs(values.mean() - truth) < Z * mcse, (values.mean(), truth, mcse)
    with pytest.raises(ValueError, match="UniGaussGibbs can only sample"):
        UniGaussGibbs([model["z"]], model=model)


def test_cloudpickle_roundtrip_and_blocked_false():
    energy = _three_experts()
    model = _joint_model(energy, n_particles=6)
    step = UniGaussGibbs(model=model, rng=7)
    point = model.initial_point()
    step.step(point)
    copy = cloudpickle.loads(cloudpickle.dumps(step))
    a, _ = step.step(point)
    b, _ = copy.step(point)
    for name in point:
        np.testing.assert_array_equal(a[name], b[name])
    # blocked=False: PyMC splits it into v | h and h | v Gibbs updates.
    split = UniGaussGibbs(model=model, blocked=False, rng=8)
    assert isinstance(split, CompoundStep) and len(split.methods) == 2
    new, sts = split.step(point)
    assert len(sts) == 2 and not np.array_equal(new["h"], point["h"])


def test_untransformed_visible_and_rejected_models():
    energy = _three_experts()
    model = _joint_model(energy, n_particles=4)
    plain = remove_value_transforms(model)
    point = model.initial_point()
    plain_point = {"v": _to_box(point["v_interval__"], energy), "h": point["h"]}
    new, _ = UniGaussGibbs(model=plain, rng=9).step(plain_point)
    transformed, _ = UniGaussGibbs(model=model, rng=9).step(point)
    # Same generator, same draws: the visibles only differ by the interval transform.
    np.testing.assert_allclose(new["v"], _to_box(transformed["v_interval__"], energy), rtol=1e-12)
    np.testing.assert_array_equal(new["h"], transformed["h"])

    with pm.Model() as extra:
        v = pymc_ebm.visible("v", energy, n_particles=4)
        pm.Potential("pull", -((v - 0.5) ** 2).sum())
    with pytest.raises(ValueError, match="'pull' also depends on 'v'"):
        UniGaussGibbs([v], model=extra)

    with pm.Model() as retransformed:
        v = pymc_ebm.visible("v", energy, n_particles=4)
    retransformed.rvs_to_transforms[v] = pm.distributions.transforms.log
    with pytest.raises(ValueError, match="interval transform"):
        UniGaussGibbs([v], model=retransformed)


# -- (6) sampler statistics -------------------------------------------------------------


@pytest.mark.filterwarnings(
    "ignore:`return_inferencedata=False` is deprecated:FutureWarning",
    "ignore:Tuning samples will be included:UserWarning",
)
def test_sampler_stats():
    model = _joint_model(_three_experts(), n_particles=8)
    with model:
        trace = pm.sample(
            draws=4,
            tune=3,
            chains=1,
            random_seed=41,
            progressbar=False,
            return_inferencedata=False,
            discard_tuned_samples=False,
            compute_convergence_checks=False,
        )
    tune = trace.get_sampler_stats("tune", chains=0)
    np.testing.assert_array_equal(tune, [True] * 3 + [False] * 4)
    active = trace.get_sampler_stats("active_experts", chains=0)
    h = trace.get_values("h", chains=0)
    np.testing.assert_allclose(active, h.sum(axis=-1).mean(axis=-1))
    assert UniGaussGibbs.stats_dtypes_shapes["active_experts"][0] is np.float64


def test_jump_accept_stat_is_the_jump_moves_acceptance():
    energy = _three_experts()
    model = _joint_model(energy, n_particles=50)
    point = model.initial_point()
    _, sts = UniGaussGibbs(model=model, rng=np.random.default_rng(3)).step(point)
    # The step's first use of its generator is the jump of v (h summed out).
    _, accept = UniGaussKernel(energy).jump(
        _to_box(point["v_interval__"], energy), np.random.default_rng(3)
    )
    assert sts[0]["jump_accept"] == accept and 0 < accept < 1
    no_jumps = [
        UniGaussGibbs(model=model, mode_jumps=False, rng=3),
        UniGaussGibbs([model["h"]], model=model, rng=3),
        UniGaussGibbs([model["v"]], model=model, rng=3),  # v | h only: no h | v draw
    ]
    for step in no_jumps:
        assert np.isnan(step.step(point)[1][0]["jump_accept"])
