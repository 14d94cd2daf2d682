"""``UniGaussGibbs.competence`` agrees with its constructor; refused models fall back to PyMC."""

import logging

import arviz as az
import numpy as np
import pymc as pm
import pytest
from pymc.model.transform.conditioning import observe
from pymc.sampling.mcmc import assign_step_methods
from pymc.step_methods.compound import Competence
from scipy import stats

import pymc_ebm
from pymc_ebm.evaluation.quadrature import grid_density
from pymc_ebm.step_methods import UniGaussGibbs

Z = 4.0  # |z| threshold of every MCSE check


def _experts() -> pymc_ebm.UniGauss:
    return pymc_ebm.UniGauss(
        mu=[[0.25, 0.3], [0.7, 0.6], [0.4, 0.8]],
        sigma=[[0.1, 0.15], [0.12, 0.08], [0.2, 0.1]],
        pi=[0.6, 0.5, 0.7],
    )


def _visible(extra_on_v=False, extra_on_h=False, hidden=False, observed_h=False, log=False):
    energy = _experts()
    with pm.Model() as model:
        v = pymc_ebm.visible("v", energy, n_particles=3)
        if hidden or extra_on_h or observed_h:
            h = pymc_ebm.hidden("h", energy, v)
        if extra_on_v:
            pm.Normal("y", mu=v[:, 0], sigma=0.1, observed=np.full(3, 0.6))
        if extra_on_h:
            pm.Potential("h_prior", h.sum())
        pm.Normal("z")  # a variable of no uni-gauss energy
    if observed_h:
        model = observe(model, {"h": np.zeros((3, 3), dtype="int64")})
    if log:
        model.rvs_to_transforms[model["v"]] = pm.distributions.transforms.log
    return model


# model -> the free variables UniGaussGibbs may sample
TABLE = {
    "visible": (_visible, {"v"}),
    "visible+hidden": (lambda: _visible(hidden=True), {"v", "h"}),
    "visible with extra term": (lambda: _visible(extra_on_v=True), set()),
    "visible+hidden, extra term on v": (lambda: _visible(hidden=True, extra_on_v=True), set()),
    "visible+hidden, extra term on h": (lambda: _visible(extra_on_h=True), set()),
    "hidden observed": (lambda: _visible(observed_h=True), set()),
    "log transform": (lambda: _visible(log=True), set()),
}


@pytest.mark.parametrize("case", TABLE, ids=list(TABLE))
def test_competence_agrees_with_constructor(case):
    make, expected = TABLE[case]
    model = make()
    accepted = set()
    for rv in model.free_RVs:
        with model:
            ideal = UniGaussGibbs.competence(rv, True) == Competence.IDEAL
        try:
            UniGaussGibbs([rv], model=model)
            constructed = True
        except ValueError:
            constructed = False
        assert ideal == constructed, (rv.name, ideal, constructed)
        if ideal:
            accepted.add(rv.name)
    assert accepted == expected
    # pm.sample assigns steps with the same answer inside the model context.
    with model:
        _, selected = assign_step_methods(model)
    names = {model.values_to_rvs[value].name for value in selected.get(UniGaussGibbs, [])}
    assert names == expected


def test_competence_outside_the_context_judges_the_registered_model():
    """``pm.sample(model=model)`` needs no ``with model:`` (tests/test_model_lookup.py)."""
    model = _visible()
    assert UniGaussGibbs.competence(model["v"], True) == Competence.IDEAL
    with pm.Model():  # another model on the stack
        assert UniGaussGibbs.competence(model["v"], True) == Competence.IDEAL
    refused = _visible(extra_on_v=True)
    assert UniGaussGibbs.competence(refused["v"], True) == Competence.INCOMPATIBLE


def test_extra_likelihood_term_falls_back_to_nuts_and_matches_quadrature(caplog):
    """``p(v) ∝ exp(-E(v)) N(0.6; v_0, 0.1²)`` on the unit square, per row."""
    energy = _experts()
    n_rows, y, sigma_y = 20, 0.6, 0.1
    with pm.Model() as model:
        v = pymc_ebm.visible("v", energy, n_particles=n_rows)
        pm.Normal("y", mu=v[:, 0], sigma=sigma_y, observed=np.full(n_rows, y))
    with model, caplog.at_level(logging.INFO, logger="pymc"):
        idata = pm.sample(
            draws=400,
            tune=400,
            chains=2,
            cores=1,
            random_seed=5,
            progressbar=False,
            compute_convergence_checks=False,
        )
    assert "NUTS: [v]" in caplog.text and "UniGaussGibbs" not in caplog.text
    grid = grid_density(energy, n_points=300)
    x0, x1 = np.meshgrid(*grid.points, indexing="ij")
    weights = grid.density * stats.norm.pdf(y, x0, sigma_y)
    weights /= weights.sum()
    draws = idata.posterior["v"].values  # (chain, draw, row, dim)
    checks = {
        "mean v0": (draws[..., 0], x0),
        "mean v1": (draws[..., 1], x1),
        "P(v0 < 0.55)": (draws[..., 0] < 0.55, x0 < 0.55),
        "P(v1 < 0.5)": (draws[..., 1] < 0.5, x1 < 0.5),
    }
    for name, (sample, on_grid) in checks.items():
        series = sample.mean(axis=-1)  # rows are independent: average them per draw
        exact = float((weights * on_grid).sum())
        mcse = az.mcse(series, method="mean", chain_axis=0, draw_axis=1)
        assert abs(series.mean() - exact) < Z * mcse, (name, series.mean(), exact, mcse)
