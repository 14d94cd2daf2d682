"""TopographicStudentT and torus_pooling: closed forms, gradients, persistence, bad input."""

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from pymc.step_methods.compound import Competence

import pymc_ebm
from pymc_ebm import ContrastiveDivergence, StudentT, TopographicStudentT
from pymc_ebm.energies import torus_pooling
from pymc_ebm.step_methods import StudentTGibbs


def _energy_and_grads(energy):
    """Compile ``v -> (E(v), dΣE/dv, dΣE/dW)``."""
    v = pt.matrix("v", dtype=pytensor.config.floatX)
    e = energy.energy(v)
    grad_v, grad_w = pytensor.grad(e.sum(), [v, energy.W])
    return pytensor.function([v], [e, grad_v, grad_w])


def test_identity_pooling_equals_student_t():
    rng = np.random.default_rng(0)
    W, alpha = rng.normal(size=(5, 3)), rng.uniform(0.5, 3.0, size=5)
    v = rng.normal(size=(7, 3))
    topo = _energy_and_grads(TopographicStudentT(W, alpha, np.eye(5)))(v)
    plain = _energy_and_grads(StudentT(W, alpha))(v)
    for a, b in zip(topo, plain, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_energy_closed_form():
    rng = np.random.default_rng(1)
    W, alpha = rng.normal(size=(4, 3)), rng.uniform(0.5, 3.0, size=2)
    V = rng.uniform(0.0, 2.0, size=(2, 4))
    v = rng.normal(size=(6, 3))
    expected = np.log1p(0.5 * (v @ W.T) ** 2 @ V.T) @ alpha
    got = TopographicStudentT(W, alpha, V).energy_fn()(v)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(2)
    W, alpha = rng.normal(size=(9, 4)), rng.uniform(0.5, 3.0, size=9)
    energy = TopographicStudentT(W, alpha, torus_pooling(3, 3, size=2))
    v = rng.normal(size=(5, 4))
    fn = _energy_and_grads(energy)
    _, grad_v, grad_w = fn(v)
    h = 1e-5
    numeric_v = np.zeros_like(v)
    for idx in np.ndindex(v.shape):
        step = np.zeros_like(v)
        step[idx] = h
        numeric_v[idx] = (fn(v + step)[0].sum() - fn(v - step)[0].sum()) / (2 * h)
    np.testing.assert_allclose(grad_v, numeric_v, rtol=1e-5, atol=1e-6)
    numeric_w = np.zeros_like(W)
    for idx in np.ndindex(W.shape):
        values = []
        for sign in (1.0, -1.0):
            shifted = W.copy()
            shifted[idx] += sign * h
            energy.set_params({"W": shifted})
            values.append(fn(v)[0].sum())
        numeric_w[idx] = (values[0] - values[1]) / (2 * h)
    energy.set_params({"W": W})
    np.testing.assert_allclose(grad_w, numeric_w, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("float_x", ["float64", "float32"])
def test_save_load_round_trip(float_x, tmp_path):
    rng = np.random.default_rng(3)
    with pytensor.config.change_flags(floatX=float_x):
        V = torus_pooling(2, 3, size=2) * rng.uniform(0.5, 1.5, size=(6, 6))
        energy = TopographicStudentT(rng.normal(size=(6, 4)), rng.uniform(0.5, 2, 6), V)
        energy.set_params({"log_alpha": np.array([-800.0, 0.7, 40.0, 1 / 3, 0.0, -1.0])})
        pymc_ebm.save(energy, tmp_path / "topo.npz")
        loaded = pymc_ebm.load(tmp_path / "topo.npz")
        assert type(loaded) is TopographicStudentT
        np.testing.assert_array_equal(loaded.V, energy.V)
        for name, value in energy.get_params().items():
            assert loaded.get_params()[name].tobytes() == value.tobytes(), name
        copy = energy.copy()
        copy.set_params({"W": np.zeros((6, 4))})
        assert np.any(energy.W.get_value() != 0)


@pytest.mark.parametrize(
    ("V", "match"),
    [
        (-np.eye(3), "non-negative"),
        (np.eye(3)[:, :2], "one column per filter"),
        (np.ones(3), "V must have 2 dimensions"),
        (np.full((3, 3), np.nan), "V must be finite"),
        (np.ones((4, 3)), "alpha must have shape"),  # 4 pools, 3 alphas
    ],
)
def test_bad_pooling_matrix_raises(V, match):
    with pytest.raises(ValueError, match=match):
        TopographicStudentT(np.eye(3), np.ones(3), V)


def test_torus_pooling_windows_wrap_around():
    V = torus_pooling(4, 5, size=3)
    assert V.shape == (20, 20)
    np.testing.assert_array_equal(V, V.T)  # centred windows on a torus are symmetric
    assert np.all(V.sum(axis=1) == 9) and np.all(V.sum(axis=0) == 9)
    # expert 0 at (0, 0) pools rows {3, 0, 1} x cols {4, 0, 1}
    expected = {r * 5 + c for r in (3, 0, 1) for c in (4, 0, 1)}
    assert set(np.flatnonzero(V[0])) == expected
    np.testing.assert_array_equal(torus_pooling(3, 4, size=1), np.eye(12))
    assert np.all(torus_pooling(4, 4, size=2).sum(axis=1) == 4)


@pytest.mark.parametrize(
    ("args", "match"),
    [((3, 3, 4), "at most min"), ((3, 3, 0), "size"), ((0, 3, 1), "rows")],
)
def test_torus_pooling_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        torus_pooling(*args)


def test_contrastive_divergence_with_short_run_hmc_updates_the_filters():
    rng = np.random.default_rng(4)
    energy = TopographicStudentT(
        rng.normal(size=(4, 3)), np.full(4, 1.5), torus_pooling(2, 2, size=2)
    )
    before = energy.W.get_value().copy()
    cd = ContrastiveDivergence(
        energy,
        sampler="hmc",
        batch_size=20,
        learning_rate=0.01,
        step_kwargs={"n_steps": 5, "step_size": 0.1},
        random_seed=0,
    )
    history = cd.fit(rng.standard_t(5, size=(40, 3)), n_updates=2, progressbar=False)
    assert history.sizes["update"] == 2
    after = energy.W.get_value()
    assert np.all(np.isfinite(after)) and np.any(after != before)


def test_student_t_gibbs_refuses_the_topographic_energy():
    energy = TopographicStudentT(np.eye(2), np.ones(2), np.eye(2))
    with pm.Model() as model:
        v = pymc_ebm.visible("v", energy, n_particles=3)
        assert StudentTGibbs.competence(v) == Competence.INCOMPATIBLE
    assert model.rvs_to_values[v].name == "v"
