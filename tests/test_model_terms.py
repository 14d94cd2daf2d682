"""Which models let ShortRunHMC test each row on its own: structure and Jacobian checks."""

import warnings

import numpy as np
import pymc as pm
import pytensor.tensor as pt
import pytest

import pymc_ebm
from pymc_ebm import ShortRunHMC
from pymc_ebm.model.terms import registered_rows, rows_are_independent

EXPERTS = pymc_ebm.Gaussian(mu=np.zeros((2, 2)), sigma=np.ones((2, 2)))
OBSERVED = np.array([0.5, -1.0, 2.0])


def _row_coupling_models():
    """Models whose terms have the rows' leading length but couple or permute the rows."""
    with pm.Model() as centred:
        x = pm.Normal("x", 0.0, 1.0, shape=(3, 2))
        pm.Potential("centred", -pt.sum((x - x.mean(0)) ** 2, axis=1))
    with pm.Model() as reversed_mean:
        x = pm.Normal("x", 0.0, 1.0, shape=(3,))
        pm.Normal("y", x[::-1], 1.0, observed=OBSERVED)
    with pm.Model() as regression:
        beta = pm.Normal("beta", 0.0, 1.0, shape=(3,))
        pm.Normal("y", pt.dot(np.arange(1.0, 10.0).reshape(3, 3), beta), 1.0, observed=OBSERVED)
    with pm.Model() as visible_coupled:
        v = pymc_ebm.visible("v", EXPERTS, n_particles=3)
        pm.Potential("pull", -0.5 * pt.sum((v - v[::-1]) ** 2, axis=1))
    with pm.Model() as visible_with_hierarchy:
        v = pymc_ebm.visible("v", EXPERTS, n_particles=3)
        pm.Normal("y", v.mean(), 1.0, observed=OBSERVED)
    return {
        "centred": centred,
        "reversed_mean": reversed_mean,
        "regression": regression,
        "visible_coupled": visible_coupled,
        "visible_with_hierarchy": visible_with_hierarchy,
    }


def _independent_models():
    """Rows that are independent chains, built without (or beyond) ``visible``."""
    with pm.Model() as plain:
        x = pm.Normal("x", 0.0, 1.0, shape=(3, 2))
        pm.Normal("y", x[:, 0], 1.0, observed=OBSERVED)
    with pm.Model() as visible_likelihood:
        v = pymc_ebm.visible("v", EXPERTS, n_particles=3)
        pm.Normal("y", v[:, 1], 0.5, observed=OBSERVED)
    return {"plain": plain, "visible_likelihood": visible_likelihood}


@pytest.mark.parametrize("name", list(_row_coupling_models()))
def test_coupled_rows_get_one_joint_test(name):
    model = _row_coupling_models()[name]
    with model, pytest.warns(UserWarning, match="depends on other rows"):
        step = ShortRunHMC(n_steps=3)
    assert not step.per_row and step.n_particles == 1
    with model, pytest.raises(ValueError, match="not independent chains"):
        ShortRunHMC(n_steps=3, per_row=True)


@pytest.mark.parametrize("name", list(_independent_models()))
def test_independent_rows_get_a_test_each(name):
    model = _independent_models()[name]
    assert not registered_rows(model, model.value_vars)  # so the Jacobian check decided
    with model, warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        step = ShortRunHMC(n_steps=3, per_row=True)
    assert step.per_row and step.n_particles == 3


def test_joint_test_on_request_without_warning():
    model = _independent_models()["plain"]
    with model, warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        step = ShortRunHMC(n_steps=3, per_row=False)
    assert not step.per_row and step.n_particles == 1
    with model, pytest.raises(ValueError, match="per_row must be None, True or False"):
        ShortRunHMC(per_row="yes")


def test_registered_rows_only_for_visibles_with_their_own_terms():
    with pm.Model() as model:
        v = pymc_ebm.visible("v", EXPERTS, n_particles=4)
        w = pymc_ebm.visible("w", EXPERTS, n_particles=4)
    assert registered_rows(model, model.value_vars)
    with model:
        pm.Potential("tie", -pt.sum((v - w) ** 2, axis=1))  # per-row, but across two variables
    assert not registered_rows(model, model.value_vars)
    plain = _independent_models()["plain"]
    assert not registered_rows(plain, plain.value_vars)  # not visibles
    with model, warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        step = ShortRunHMC(n_steps=3)  # the tie is within rows: the Jacobian check agrees
    assert step.per_row and step.n_particles == 4


def test_jacobian_check_sees_each_kind_of_coupling():
    x = pt.matrix("x")
    point = {"x": np.zeros((4, 3))}
    own_rows = pt.sum(pt.exp(x) + x[:, ::-1] ** 2, axis=1)  # mixes columns, not rows
    assert rows_are_independent(own_rows, [x], [x], point) == (True, "")
    for coupled in (
        pt.sum(x[::-1], axis=1),  # a permutation
        pt.sum(x, axis=1) + 1e-3 * pt.sum(x[0]),  # a weak coupling to one row
        pt.sum(x, axis=1) * pt.sum(x[3] ** 2),  # zero at x = 0, caught at the random point
        pt.cumsum(pt.sum(x, axis=1)),
    ):
        independent, why = rows_are_independent(coupled, [x], [x], point)
        assert not independent and "depends on other rows" in why
