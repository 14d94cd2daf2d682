"""Registering energies in a pm.Model: visible variables, hidden states, potentials."""

import numpy as np
import pymc as pm
import pytensor
import pytest
from pymc.distributions.continuous import FlatRV
from pytensor.tensor.random.basic import UniformRV

import pymc_ebm
from pymc_ebm import Gaussian, StudentT, UniGauss
from pymc_ebm._validation import finite_float, non_negative_int, positive_int

N_CHAINS = 3


def unigauss():
    return UniGauss(
        mu=[[0.2, 0.4], [0.5, 0.5], [0.8, 0.3]],
        sigma=np.full((3, 2), 0.2),
        pi=[0.3, 0.5, 0.7],
        low=[-1.0, 0.0],
        high=[1.0, 2.0],
    )


def evaluate_terms(model, point):
    """Per-term log densities of ``model`` at ``point``, by term name."""
    terms = model.logp(sum=False)
    names = [rv.name for rv in model.free_RVs] + [p.name for p in model.potentials]
    fn = model.compile_fn(terms, inputs=model.value_vars, point_fn=False)
    values = fn(*[point[v.name] for v in model.value_vars])
    return dict(zip(names, values, strict=True))


@pytest.mark.parametrize(
    ("energy", "rv_type"),
    [
        (unigauss(), UniformRV),
        (Gaussian(np.zeros((2, 2)), np.ones((2, 2))), FlatRV),
        (StudentT(np.eye(2), [2.0, 2.0]), FlatRV),
    ],
    ids=["unigauss", "gaussian", "student_t"],
)
def test_visible_variable_and_potential(energy, rv_type):
    with pm.Model() as model:
        v = pymc_ebm.visible("v", energy, n_particles=N_CHAINS)
    assert isinstance(v.owner.op, rv_type)
    assert v.type.shape == (N_CHAINS, energy.dim)
    assert model.free_RVs == [v]
    assert [p.name for p in model.potentials] == ["v_energy"]
    assert pymc_ebm.model.energy_of(v) is energy
    assert pymc_ebm.model.role_of(v) == "visible"

    rng = np.random.default_rng(7)
    if energy.domain is not None:
        low, high = energy.domain
        lower, upper = (x.eval() for x in v.owner.inputs[-2:])
        np.testing.assert_array_equal(np.broadcast_to(lower, (N_CHAINS, 2)), np.tile(low, (3, 1)))
        np.testing.assert_array_equal(np.broadcast_to(upper, (N_CHAINS, 2)), np.tile(high, (3, 1)))
        values = rng.uniform(low, high, size=(N_CHAINS, energy.dim))
    else:
        values = rng.normal(size=(N_CHAINS, energy.dim))
    value_var = model.rvs_to_values[v]
    transform = model.rvs_to_transforms.get(v)
    point = {
        value_var.name: values
        if transform is None
        else transform.forward(values, *v.owner.inputs).eval(),
    }
    assert point[value_var.name].shape == model.initial_point()[value_var.name].shape

    terms = evaluate_terms(model, point)
    assert terms["v"].shape == (N_CHAINS, energy.dim)
    assert terms["v_energy"].shape == (N_CHAINS,)
    np.testing.assert_allclose(terms["v_energy"], -energy.energy_fn()(values), rtol=1e-10)


def test_hidden_replaces_potential_by_joint_energy():
    energy = unigauss()
    with pm.Model() as model:
        v = pymc_ebm.visible("v", energy, n_particles=N_CHAINS)
        h = pymc_ebm.hidden("h", energy, v)
    assert h.type.shape == (N_CHAINS, energy.n_experts)
    assert len(model.potentials) == 1
    assert "v_energy" not in model.named_vars
    assert [rv.name for rv in model.free_RVs] == ["v", "h"]
    assert pymc_ebm.model.partner_of(v) is h
    assert pymc_ebm.model.partner_of(h) is v
    assert pymc_ebm.model.role_of(h) == "hidden"

    rng = np.random.default_rng(11)
    low, high = energy.domain
    values = rng.uniform(low, high, size=(N_CHAINS, 2))
    states = rng.integers(0, 2, size=(N_CHAINS, energy.n_experts))
    transform = model.rvs_to_transforms[v]
    point = {"v_interval__": transform.forward(values, *v.owner.inputs).eval(), "h": states}
    terms = evaluate_terms(model, point)
    (potential,) = model.potentials
    assert terms[potential.name].shape == (N_CHAINS,)

    vv = pytensor.tensor.matrix("vv")
    hh = pytensor.tensor.matrix("hh")
    joint = pytensor.function([vv, hh], energy.joint_energy(vv, hh))(values, states)
    np.testing.assert_allclose(terms[potential.name], -joint, rtol=1e-10)
    # the Bernoulli(1/2) prior adds a constant only
    np.testing.assert_allclose(terms["h"], np.log(0.5), rtol=1e-6)  # float32 p in PyMC


def test_hidden_in_a_nested_model_replaces_the_potential_in_the_outer_model_too():
    # The outer model keeps its inner models' terms: it must lose the free energy as well,
    # or its log density would count the visible's energy twice.
    energy = unigauss()
    with pm.Model() as outer:
        with pm.Model("inner") as inner:
            v = pymc_ebm.visible("v", energy, n_particles=N_CHAINS)
            pymc_ebm.hidden("h", energy, v)
    assert [p.name for p in outer.potentials] == [p.name for p in inner.potentials]
    assert [p.name for p in outer.potentials] == ["inner::v_h_energy"]
    assert "inner::v_energy" not in outer.named_vars
    point = inner.initial_point()
    np.testing.assert_allclose(outer.compile_logp()(point), inner.compile_logp()(point))


@pytest.mark.parametrize("n_chains", [0, -2, 1.5, True, "3"])
def test_visible_rejects_bad_n_chains(n_chains):
    with pm.Model(), pytest.raises(ValueError, match="n_chains must be a positive integer"):
        with pytest.deprecated_call(match="use n_particles"):
            pymc_ebm.visible("v", unigauss(), n_chains=n_chains)


@pytest.mark.parametrize("n_particles", [0, -2, 1.5, True, "3"])
def test_visible_rejects_bad_n_particles(n_particles):
    with pm.Model(), pytest.raises(ValueError, match="n_particles must be a positive integer"):
        pymc_ebm.visible("v", unigauss(), n_particles=n_particles)


def test_visible_rejects_non_energy():
    with pm.Model(), pytest.raises(TypeError, match="energy must be an Energy"):
        pymc_ebm.visible("v", np.eye(2))


def test_hidden_rejects_bad_arguments():
    energy = unigauss()
    gauss = Gaussian(np.zeros((1, 2)), np.ones((1, 2)))
    with pm.Model():
        v_gauss = pymc_ebm.visible("w", gauss)
        with pytest.raises(TypeError, match="has no hidden states"):
            pymc_ebm.hidden("hw", gauss, v_gauss)
        v = pymc_ebm.visible("v", energy, n_particles=2)
        with pytest.raises(ValueError, match="registered with the same energy"):
            pymc_ebm.hidden("h", unigauss(), v)
        pymc_ebm.hidden("h", energy, v)
        with pytest.raises(ValueError, match="already has hidden states"):
            pymc_ebm.hidden("h2", energy, v)
    with pm.Model():
        v_other = pymc_ebm.visible("v", energy, n_particles=2)
    with pm.Model(), pytest.raises(ValueError, match="is not a visible variable of this model"):
        pymc_ebm.hidden("h", energy, v_other)


@pytest.mark.parametrize(
    ("kwargs", "value", "message"),
    [
        ({"low": 0.0, "low_open": True}, 0.0, "x must be positive and finite, got 0.0"),
        ({"low": 0.0, "low_open": True}, np.inf, "x must be positive and finite, got inf"),
        ({"low": 0.0}, -1.0, "x must be non-negative and finite, got -1.0"),
        ({"low": 0.0, "high": 1.0, "high_open": True}, 1.0, "x must lie in [0, 1), got 1.0"),
        (
            {"low": 0.0, "high": 1.0, "low_open": True, "high_open": True},
            0.0,
            "x must lie in the open interval (0, 1), got 0.0",
        ),
        ({"low": 2.0, "low_open": True}, 2.0, "x must be finite and > 2, got 2.0"),
        ({}, np.nan, "x must be a finite number, got nan"),
        ({}, "0.5", "x must be a finite number, got '0.5'"),
        ({}, [0.5], "x must be a finite number, got [0.5]"),
    ],
)
def test_finite_float_messages(kwargs, value, message):
    """The shared validator (used by ``visible``, the trainer and the optimisers)."""
    with pytest.raises(ValueError) as info:
        finite_float("x", value, **kwargs)
    assert str(info.value) == message


def test_validators_accept_and_convert():
    assert finite_float("x", np.float32(0.5), low=0.0, high=1.0) == 0.5
    assert finite_float("x", 1.0, low=0.0, high=1.0) == 1.0
    assert positive_int("n", np.int64(3)) == 3 and type(positive_int("n", np.int64(3))) is int
    assert non_negative_int("n", 0) == 0
    with pytest.raises(ValueError, match="n must be a non-negative integer, got -1"):
        non_negative_int("n", -1)
