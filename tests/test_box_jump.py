import numpy as np
import pymc as pm
import pytest
from scipy import stats

import pymc_ebm
from pymc_ebm.quadrature import grid_density
from pymc_ebm.step_methods import BoxJump, hmc_with_box_jumps


def two_dimples():
    return pymc_ebm.UniGauss(
        [[0.25, 0.3], [0.7, 0.75], [0.6, 0.2]], np.full((3, 2), 0.12), [0.6, 0.5, 0.4]
    )


def test_box_jumps_alone_sample_the_quadrature_density():
    energy = two_dimples()
    with pm.Model():
        v = pymc_ebm.visible("v", energy, n_chains=20)
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
        assert p_value > 0.01, (axis, p_value)
    accept = idata.sample_stats["jump_accept"].values
    assert np.all((accept >= 0) & (accept <= 1)) and 0.05 < accept.mean() < 0.95


def test_compound_with_short_run_hmc_runs_and_reports_both_stats():
    net = pymc_ebm.MLPEnergy(2, hidden=(4,), box=(-2.0, 2.0), random_seed=0)
    with pm.Model() as model:
        pymc_ebm.visible("v", net, n_chains=4)
    step = hmc_with_box_jumps(model, n_steps=4)
    step.setup_chain(np.random.default_rng(0), tune=0, draws=1)
    point, stats_list = step.step(model.initial_point())
    assert {"accept", "step_size"} <= set(stats_list[0]) and "jump_accept" in stats_list[1]
    assert np.all(np.isfinite(point["v_interval__"]))


def test_needs_a_visible_variable_with_a_box():
    with pm.Model():
        v = pymc_ebm.visible("v", pymc_ebm.Gaussian(np.zeros((1, 2)), np.ones((1, 2))))
        with pytest.raises(ValueError, match="energy with a box"):
            BoxJump([v])
