import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

import pymc_ebm


def test_energy_is_scaled_top_activity_sum():
    net = pymc_ebm.MLPEnergy(2, hidden=(5, 3), activation="tanh", random_seed=0)
    W0, b0, W1, b1, scale = (p.get_value() for p in net.params)
    v = np.random.default_rng(1).normal(size=(7, 2))
    expected = np.tanh(np.tanh(v @ W0 + b0) @ W1 + b1) @ scale
    np.testing.assert_allclose(net.energy_fn()(v), expected, rtol=1e-10)


def test_gradient_wrt_visibles_matches_finite_differences():
    net = pymc_ebm.MLPEnergy(3, hidden=(6,), activation="sigmoid", random_seed=2)
    x = pt.matrix("x")
    grad = pytensor.function([x], pt.grad(pt.sum(net.energy(x)), x))
    energy = net.energy_fn()
    v = np.random.default_rng(3).normal(size=(4, 3))
    eps = 1e-6
    numeric = np.stack(
        [(energy(v + eps * e) - energy(v - eps * e)) / (2 * eps) for e in np.eye(3)], axis=1
    )
    np.testing.assert_allclose(grad(v), numeric, rtol=1e-5, atol=1e-8)


def test_box_makes_a_uniform_visible_and_round_trips(tmp_path):
    import pymc as pm

    net = pymc_ebm.MLPEnergy(2, hidden=(4, 2), box=(-2.0, 2.0), random_seed=0)
    with pm.Model() as model:
        pymc_ebm.visible("v", net, n_particles=3)
    assert model.rvs_to_values[model["v"]].name == "v_interval__"
    pymc_ebm.save(net, tmp_path / "net.npz")
    loaded = pymc_ebm.load(tmp_path / "net.npz")
    v = np.random.default_rng(0).uniform(-2, 2, size=(5, 2))
    np.testing.assert_allclose(loaded.energy_fn()(v), net.energy_fn()(v))
    assert loaded.hidden == (4, 2)
    np.testing.assert_array_equal(loaded.domain[0], [-2.0, -2.0])


def test_weight_decay_applies_to_weight_matrices_only():
    net = pymc_ebm.MLPEnergy(2, hidden=(4, 2), random_seed=0)
    assert net.decayed_params == ["W0", "W1"]
    assert net.param_names == ["W0", "b0", "W1", "b1", "scale"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hidden": ()}, "at least one layer"),
        ({"hidden": (4, 0)}, "positive integers"),
        ({"hidden": (-3,)}, "positive integers"),
        ({"dim": 0}, "dim must be a positive integer"),
        ({"activation": "relu6"}, "activation must be one of"),
        ({"box": (1.0, -1.0)}, "box low must be smaller"),
    ],
)
def test_bad_settings_raise(kwargs, message):
    args = {"dim": 2, "hidden": (4,)} | kwargs
    with pytest.raises(ValueError, match=message):
        pymc_ebm.MLPEnergy(**args)
