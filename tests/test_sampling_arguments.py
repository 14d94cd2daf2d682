"""``sample_fantasies`` and ``impute`` check PyMC's arguments before any compile or tuning."""

import numpy as np
import pymc as pm
import pytest

import pymc_ebm
from pymc_ebm import Gaussian, UniGauss

X = np.array([[0.5, np.nan], [np.nan, -1.0]])

BAD = {
    "draws=0": ({"draws": 0}, ValueError, "draws must be a positive integer, got 0"),
    "draws=-5": ({"draws": -5}, ValueError, "draws must be a positive integer, got -5"),
    "draws=2.5": ({"draws": 2.5}, ValueError, "draws must be a positive integer, got 2.5"),
    "tune=-1": ({"tune": -1}, ValueError, "tune must be a non-negative integer, got -1"),
    "tune=1.5": ({"tune": 1.5}, ValueError, "tune must be a non-negative integer"),
    "chains=0": ({"chains": 0}, ValueError, "chains must be a positive integer, got 0"),
    "chains=-1": ({"chains": -1}, ValueError, "chains must be a positive integer, got -1"),
    "chains=None": ({"chains": None}, ValueError, "chains must be a positive integer"),
    "cores=0": ({"cores": 0}, ValueError, "cores must be a positive integer, got 0"),
    "random_seed='abc'": ({"random_seed": "abc"}, ValueError, "random_seed must be None, a"),
    "random_seed=-1": ({"random_seed": -1}, ValueError, "random_seed must be None, a"),
    "random_seed=0.5": ({"random_seed": 0.5}, ValueError, "random_seed must be None, a"),
    "step='nuts'": ({"step": "nuts"}, TypeError, "step must be a step-method class"),
    "step=pm.Normal": ({"step": pm.Normal}, TypeError, "got the class Normal"),
    "step=[]": ({"step": []}, TypeError, "built beforehand belongs to another model"),
    "step returns a string": (
        {"step": lambda model: "nuts"},
        TypeError,
        "the callable returned str",
    ),
}


@pytest.fixture
def no_sampling(monkeypatch):
    """Make ``pm.sample`` fail the test: the check must come first."""

    def sample(*args, **kwargs):
        raise AssertionError("pm.sample was reached")

    monkeypatch.setattr(pm, "sample", sample)


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_sample_fantasies_checks_pymc_arguments_first(case, no_sampling):
    kwargs, error, match = BAD[case]
    with pytest.raises(error, match=match):
        pymc_ebm.sample_fantasies(Gaussian([[0.0]], [[1.0]]), **kwargs)


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_impute_checks_pymc_arguments_first(case, no_sampling):
    kwargs, error, match = BAD[case]
    with pytest.raises(error, match=match):
        pymc_ebm.impute(Gaussian(np.zeros((1, 2)), np.ones((1, 2))), X, **kwargs)


def test_good_seeds_and_steps_pass_the_check(no_sampling):
    """What PyMC takes is taken: the check stops nothing it should not (pm.sample is reached)."""
    energy = Gaussian([[0.0]], [[1.0]])
    for kwargs in (
        {"random_seed": np.random.default_rng(1)},
        {"random_seed": [1, 2, 3, 4]},
        {"random_seed": np.int64(3)},
        {"step": pm.NUTS, "tune": 0, "draws": np.int64(5), "chains": 1, "cores": 1},
        {"step": lambda model: [pm.NUTS()]},
    ):
        with pytest.raises(AssertionError, match="pm.sample was reached"):
            pymc_ebm.sample_fantasies(energy, **kwargs)


def test_impute_refuses_a_non_energy():
    with pytest.raises(TypeError, match="energy must be an Energy"):
        pymc_ebm.impute(np.eye(2), X)


# -- visible() and hidden() outside a model ------------------------------------------------
def _unigauss():
    return UniGauss([[0.3, 0.6]], [[0.2, 0.2]], [0.5])


def test_visible_outside_a_model_says_where_to_call_it():
    match = r"visible\(\) must be called inside `with pm.Model\(\):` or be given model="
    with pytest.raises(TypeError, match=match):
        pymc_ebm.visible("v", _unigauss())
    with pytest.raises(TypeError, match=match):
        pymc_ebm.visible("x", _unigauss(), observed=[[0.5, np.nan]])
    with pytest.raises(TypeError, match="model must be a pm.Model or None, got str"):
        pymc_ebm.visible("v", _unigauss(), model="m")


def test_visible_and_hidden_with_model_argument_outside_the_context():
    energy = _unigauss()
    model = pm.Model()
    v = pymc_ebm.visible("v", energy, n_particles=2, model=model)
    h = pymc_ebm.hidden("h", energy, v, model=model)
    assert [rv.name for rv in model.free_RVs] == ["v", "h"] and h.type.shape == (2, 1)


def test_hidden_outside_a_model_says_where_to_call_it():
    energy = _unigauss()
    with pm.Model():
        v = pymc_ebm.visible("v", energy)
    match = r"hidden\(\) must be called inside `with pm.Model\(\):` or be given model="
    with pytest.raises(TypeError, match=match):
        pymc_ebm.hidden("h", energy, v)


def test_taken_names_are_refused_and_add_nothing():
    energy = _unigauss()
    with pm.Model() as model:
        pm.Normal("v_energy")
        with pytest.raises(ValueError, match=r"already has variables named \['v_energy'\]"):
            pymc_ebm.visible("v", energy)
        assert list(model.named_vars) == ["v_energy"]
        v = pymc_ebm.visible("w", energy)
        pm.Normal("w_h_energy")
        with pytest.raises(ValueError, match=r"already has variables named \['w_h_energy'\]"):
            pymc_ebm.hidden("h", energy, v)
        assert "h" not in model.named_vars and "w_energy" in model.named_vars
    with pm.Model(), pytest.raises(TypeError, match="name must be a non-empty string"):
        pymc_ebm.visible(3, energy)
