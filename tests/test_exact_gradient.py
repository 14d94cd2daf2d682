"""The exact maximum-likelihood gradient against finite differences of the exact log-likelihood."""

import importlib.util

import numpy as np
import pytensor
import pytest
from pytensor.link.vm import VMLinker

import pymc_ebm
from pymc_ebm import backends
from pymc_ebm.training.exact_gradient import (
    MaximumLikelihood,
    log_likelihood_gradient,
    model_expectation,
)

N_POINTS = 48
HAS_JAX = importlib.util.find_spec("jax") is not None


def exact_mean_log_likelihood(energy, X, **box):
    log_z = pymc_ebm.log_partition(energy, "quadrature", n_points=N_POINTS, **box)
    return pymc_ebm.log_likelihood(energy, X, log_z).mean


def finite_differences(energy, X, h=1e-5, **box):
    """Central differences of the exact mean log-likelihood in every parameter entry."""
    start = energy.get_params()
    result = {}
    for name, value in start.items():
        grad = np.zeros_like(value, dtype=float)
        for index in np.ndindex(value.shape):
            values = []
            for sign in (1, -1):
                moved = value.astype(float).copy()
                moved[index] += sign * h
                energy.set_params({name: moved})
                values.append(exact_mean_log_likelihood(energy, X, **box))
            grad[index] = (values[0] - values[1]) / (2 * h)
        energy.set_params({name: value})
        result[name] = grad
    return result


def tiny_unigauss():
    return pymc_ebm.UniGauss(
        mu=[[0.3, 0.6], [0.7, 0.4]], sigma=[[0.15, 0.3], [0.2, 0.1]], pi=[0.6, 0.3]
    )


def tiny_data(low=0.0, high=1.0):
    return np.random.default_rng(3).uniform(low, high, size=(12, 2))


def test_unigauss_gradient_matches_finite_differences():
    experts, X = tiny_unigauss(), tiny_data()
    exact = log_likelihood_gradient(experts, X, n_points=N_POINTS)
    numeric = finite_differences(experts, X)
    assert set(exact) == set(experts.param_names)
    for name in exact:
        np.testing.assert_allclose(exact[name], numeric[name], rtol=1e-5, atol=1e-7)


def test_mlp_gradient_matches_finite_differences():
    net = pymc_ebm.MLPEnergy(2, hidden=(3,), box=(-2.0, 2.0), random_seed=1)
    X = tiny_data(-2.0, 2.0)
    exact = log_likelihood_gradient(net, X, n_points=N_POINTS)
    numeric = finite_differences(net, X)
    for name in exact:
        np.testing.assert_allclose(exact[name], numeric[name], rtol=1e-5, atol=1e-7)


def test_model_expectation_of_a_gaussian_expert():
    """E = (v - μ)²/(2σ²) + log σ + c: ⟨∂E/∂μ⟩ = 0, ⟨∂E/∂log σ⟩ = 1 - ⟨(v - μ)²⟩/σ² = 0."""
    expert = pymc_ebm.Gaussian(mu=[[0.5]], sigma=[[0.7]])
    grad = model_expectation(expert, low=-7.5, high=8.5, n_points=4000)
    assert grad["mu"][0, 0] == pytest.approx(0.0, abs=1e-8)
    assert grad["log_sigma"][0, 0] == pytest.approx(0.0, abs=1e-5)
    shifted = model_expectation(expert, low=-6.5, high=9.5, n_points=4000)  # box off-centre
    assert shifted["log_sigma"][0, 0] == pytest.approx(0.0, abs=1e-5)


def test_one_sgd_update_follows_the_exact_gradient():
    experts, X = tiny_unigauss(), tiny_data()
    start = experts.get_params()
    grad = log_likelihood_gradient(experts, X, n_points=N_POINTS)
    ml = MaximumLikelihood(
        experts, batch_size=len(X), learning_rate=0.01, momentum=0.0, n_points=N_POINTS
    )
    record = ml.partial_fit(X)
    for name, value in experts.get_params().items():
        np.testing.assert_allclose(value, start[name] + 0.01 * grad[name], rtol=1e-10)
    experts.set_params(start)
    assert record["log_likelihood"] == pytest.approx(exact_mean_log_likelihood(experts, X))


def test_maximum_likelihood_fits_one_expert_to_gaussian_data():
    """One uni-gauss expert with π fixed near 1 learns the mean and sd of Gaussian data."""
    rng = np.random.default_rng(0)
    X = np.clip(rng.normal([0.4, 0.6], [0.08, 0.12], size=(4000, 2)), 0.0, 1.0)
    expert = pymc_ebm.UniGauss([[0.5, 0.5]], [[0.2, 0.2]], [0.999])
    ml = MaximumLikelihood(
        expert, batch_size=4000, learning_rate=0.05, optimizer="adam", n_points=200, random_seed=0
    )
    ml.fit(X, n_updates=300, progressbar=False)
    np.testing.assert_allclose(expert.mu.get_value()[0], X.mean(axis=0), atol=0.01)
    np.testing.assert_allclose(expert.sigma[0], X.std(axis=0), rtol=0.05)


def test_bad_input():
    experts = tiny_unigauss()
    with pytest.raises(ValueError, match="shape"):
        log_likelihood_gradient(experts, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="1 or 2 dimensions"):
        model_expectation(
            pymc_ebm.Gaussian(mu=np.zeros((1, 3)), sigma=np.ones((1, 3))), low=-1, high=1
        )
    ml = MaximumLikelihood(experts, batch_size=4, n_points=8)
    with pytest.raises(ValueError, match="4 rows"):
        ml.partial_fit(np.full((3, 2), 0.5))
    with pytest.raises(ValueError, match="outside"):
        ml.partial_fit(np.full((4, 2), 1.5))


def test_maximum_likelihood_compiles_in_the_backend_mode(python_vm_backend):
    """As every compiled function of the package: the backend's mode, unless one is given."""
    with pymc_ebm.backend(python_vm_backend):
        ml = MaximumLikelihood(tiny_unigauss(), batch_size=4, n_points=8)
        explicit = MaximumLikelihood(
            tiny_unigauss(), batch_size=4, n_points=8, compile_kwargs={"mode": "FAST_RUN"}
        )
    assert ml.compile_kwargs == {"mode": backends.BACKENDS[python_vm_backend]}
    assert type(ml._update.maker.linker) is VMLinker
    assert explicit.compile_kwargs == {"mode": "FAST_RUN"}


def test_maximum_likelihood_under_the_jax_backend_asks_for_jax_mode(monkeypatch):
    """Without JAX installed: the update is compiled with the JAX mode's keyword arguments."""
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: object() if name == "jax" else real(name, *a),
    )
    compiled = []
    monkeypatch.setattr(pytensor, "function", lambda *args, **kwargs: compiled.append(kwargs))
    with pymc_ebm.backend("jax"):
        ml = MaximumLikelihood(tiny_unigauss(), batch_size=4, n_points=8)
    assert backends.uses_jax(ml.compile_kwargs)
    assert [kwargs["mode"] for kwargs in compiled] == [backends.JAX_MODE]


@pytest.mark.jax
@pytest.mark.skipif(not HAS_JAX, reason="needs the jax extra")
def test_maximum_likelihood_under_the_jax_backend_compiles_a_jax_function():
    from pytensor.link.jax.linker import JAXLinker

    X = tiny_data()[:8]
    start = tiny_unigauss()
    settings = {"batch_size": 4, "n_points": N_POINTS, "random_seed": 0}
    with pymc_ebm.backend("default"):
        reference = MaximumLikelihood(start, **settings)
    reference.fit(X, n_updates=3, progressbar=False)
    experts = tiny_unigauss()
    with pymc_ebm.backend("jax"):
        ml = MaximumLikelihood(experts, **settings)
    assert isinstance(ml._update.maker.linker, JAXLinker)
    history = ml.fit(X, n_updates=3, progressbar=False)
    np.testing.assert_allclose(
        history["log_likelihood"], reference.history["log_likelihood"], rtol=1e-6
    )
    for name, value in start.get_params().items():
        np.testing.assert_allclose(experts.get_params()[name], value, rtol=1e-6)
