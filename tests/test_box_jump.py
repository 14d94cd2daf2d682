"""Tests of the box-jump independence Metropolis step and the HMC + box-jump factory."""

import arviz as az
import numpy as np
import pymc as pm
import pytest
from scipy import stats

import pymc_ebm
from pymc_ebm.evaluation.quadrature import grid_density
from pymc_ebm.step_methods import BoxJump, hmc_with_box_jumps

ALPHA = 0.01  # family-wise level of the goodness-of-fit tests of one test function
Z = 4.0  # |z| threshold of every MCSE check


def two_dimples():
    return pymc_ebm.UniGauss(
        [[0.25, 0.3], [0.7, 0.75], [0.6, 0.2]], np.full((3, 2), 0.12), [0.6, 0.5, 0.4]
    )


def expected_box_jump_accept(grid):
    """``E[min(1, p(v')/p(v))]``, ``v ~ p``, ``v' ~ U(box)``: ``∫∫ min(p(v), p(v')) / |box|``."""
    cell = np.prod([np.diff(edges)[0] for edges in grid.edges])
    volume = np.prod([edges[-1] - edges[0] for edges in grid.edges])
    p = np.sort(grid.density.ravel())
    n = len(p)
    # Σ_ij min(p_i, p_j) = Σ_k p_(k) (2 (n - k) + 1), k = 1..n in ascending order
    return float((p * (2 * (n - np.arange(1, n + 1)) + 1)).sum() * cell**2 / volume)


def test_expected_accept_quadrature_matches_brute_force():
    grid = grid_density(two_dimples(), n_points=40)
    brute = np.minimum.outer(grid.density.ravel(), grid.density.ravel()).sum() / 40**4
    np.testing.assert_allclose(expected_box_jump_accept(grid), brute, rtol=1e-12)


def test_box_jumps_alone_sample_the_quadrature_density():
    energy = two_dimples()
    with pm.Model():
        v = pymc_ebm.visible("v", energy, n_particles=20)
        idata = pm.sample(
            draws=600,
            tune=100,
            chains=2,
            cores=1,
            step=BoxJump([v]),
            random_seed=11,
            progressbar=False,
            compute_convergence_checks=False,
        )
    draws = idata.posterior["v"].values  # (chain, draw, row, dim)
    exact = grid_density(energy, n_points=400)
    for axis in range(2):
        # every 10th draw of every row: independence proposals decorrelate fast
        sample = draws[:, ::10, :, axis].ravel()
        p_value = stats.kstest(sample, lambda x, a=axis: exact.marginal_cdf(a, x)).pvalue
        assert p_value > ALPHA / 2, (axis, p_value)
    # jump_accept: the stationary acceptance of a uniform independence proposal.
    accept = idata.sample_stats["jump_accept"].values  # (chain, draw)
    expected = expected_box_jump_accept(exact)
    mcse = az.mcse(accept, method="mean", chain_axis=0, draw_axis=1)
    assert abs(accept.mean() - expected) < Z * mcse, (accept.mean(), expected, mcse)


def test_jump_accept_is_the_fraction_of_rows_that_moved():
    with pm.Model() as model:
        v = pymc_ebm.visible("v", two_dimples(), n_particles=200)
    step = BoxJump([v], model=model, rng=3)
    point = model.initial_point()
    for _ in range(3):
        new, sts = step.step(point)
        moved = np.any(new["v_interval__"] != point["v_interval__"], axis=1)
        assert sts[0]["jump_accept"] == moved.mean() and 0 < moved.mean() < 1
        point = new


def test_hmc_with_box_jumps_on_a_visible_named_x_matches_quadrature():
    energy = two_dimples()
    with pm.Model() as model:
        pymc_ebm.visible("x", energy, n_particles=20)
    step = hmc_with_box_jumps(model, n_steps=5, step_size=0.3)
    assert [m.vars for m in step.methods] == [[model.rvs_to_values[model["x"]]]] * 2
    with model:
        idata = pm.sample(
            draws=300,
            tune=100,
            chains=2,
            cores=1,
            step=step,
            random_seed=13,
            progressbar=False,
            compute_convergence_checks=False,
        )
    assert {"accept", "step_size", "jump_accept"} <= set(idata.sample_stats.data_vars)
    grid = grid_density(energy, n_points=400)
    x0, x1 = np.meshgrid(*grid.points, indexing="ij")
    weights = grid.density / grid.density.sum()
    draws = idata.posterior["x"].values  # (chain, draw, row, dim)
    checks = {
        "mean x0": (draws[..., 0], x0),
        "mean x1": (draws[..., 1], x1),
        "P(x0 < 0.5)": (draws[..., 0] < 0.5, x0 < 0.5),
        "P(x1 < 0.5)": (draws[..., 1] < 0.5, x1 < 0.5),
    }
    for name, (sample, on_grid) in checks.items():
        series = sample.mean(axis=-1)  # rows are independent: average them per draw
        exact = float((weights * on_grid).sum())
        mcse = az.mcse(series, method="mean", chain_axis=0, draw_axis=1)
        assert abs(series.mean() - exact) < Z * mcse, (name, series.mean(), exact, mcse)


# -- refusals ---------------------------------------------------------------------------


def test_needs_a_visible_variable_with_a_box():
    with pm.Model():
        v = pymc_ebm.visible("v", pymc_ebm.Gaussian(np.zeros((1, 2)), np.ones((1, 2))))
        with pytest.raises(ValueError, match="energy with a box"):
            BoxJump([v])


def test_refuses_a_visible_with_hidden_states():
    energy = two_dimples()
    with pm.Model() as model:
        v = pymc_ebm.visible("v", energy, n_particles=3)
        pymc_ebm.hidden("h", energy, v)
    with pytest.raises(ValueError, match="has hidden states"):
        BoxJump([v], model=model)
    with pytest.raises(ValueError, match="has hidden states"):
        hmc_with_box_jumps(model)


@pytest.mark.parametrize("term", ["potential", "likelihood"])
def test_refuses_other_terms_on_the_visible(term):
    with pm.Model() as model:
        v = pymc_ebm.visible("v", two_dimples(), n_particles=3)
        if term == "potential":
            pm.Potential("pull", -((v - 0.5) ** 2).sum())
        else:
            pm.Normal("pull", mu=v[:, 0], sigma=0.1, observed=np.zeros(3))
    with pytest.raises(ValueError, match="'pull' also depends on 'v'"):
        BoxJump([v], model=model)


def test_refuses_another_transform():
    with pm.Model() as model:
        v = pymc_ebm.visible("v", two_dimples(), n_particles=3)
    model.rvs_to_transforms[v] = pm.distributions.transforms.log
    with pytest.raises(ValueError, match="interval transform"):
        BoxJump([v], model=model)


def test_hmc_with_box_jumps_finds_or_asks_for_the_visible():
    with pm.Model() as none:
        pm.Normal("z")
    with pytest.raises(ValueError, match=r"exactly one visible .*found none"):
        hmc_with_box_jumps(none)
    with pm.Model() as two:
        pymc_ebm.visible("a", two_dimples(), n_particles=2)
        pymc_ebm.visible("b", two_dimples(), n_particles=2)
    with pytest.raises(ValueError, match=r"found 'a', 'b'\); name it with vars="):
        hmc_with_box_jumps(two)
    step = hmc_with_box_jumps(two, vars="b", n_steps=2)
    assert [m.vars for m in step.methods] == [[two.rvs_to_values[two["b"]]]] * 2
