"""Score matching: Laplacians against PyTensor Hessians; losses and trainers on known answers."""

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from pytensor.gradient import hessian

import pymc_ebm
from pymc_ebm.energies import TopographicStudentT, torus_pooling
from pymc_ebm.energies.base import LAPLACIAN_AUTODIFF_LIMIT
from pymc_ebm.training.score_losses import (
    denoising_score_loss,
    exact_score_loss,
    sliced_score_loss,
)

FLOAT_X = pytensor.config.floatX
Z = 4.0  # the z-score every statistical assertion allows


def random_energy(name, dim, rng):
    """A seeded random energy of each family with a closed-form Laplacian (and one without)."""
    if name == "Gaussian":
        return pymc_ebm.Gaussian(rng.normal(size=(3, dim)), rng.uniform(0.5, 2.0, (3, dim)))
    if name == "StudentT":
        return pymc_ebm.StudentT(rng.normal(size=(5, dim)), rng.uniform(0.5, 2.0, 5))
    if name == "FASConstraints":
        return pymc_ebm.FASConstraints(
            rng.normal(size=(4, dim)), rng.normal(size=(3, 4)), rng.normal(size=3),
            rng.uniform(0.5, 2.0, 3),
        )  # fmt: skip
    if name == "TopographicStudentT":
        V = torus_pooling(2, 2, size=2) + rng.uniform(size=(4, 4))
        return TopographicStudentT(rng.normal(size=(4, dim)), rng.uniform(0.5, 2.0, 4), V)
    if name == "product":
        return random_energy("FASConstraints", dim, rng) * random_energy("Gaussian", dim, rng)
    if name == "MLPEnergy":  # no closed form: exact second derivatives
        return pymc_ebm.MLPEnergy(dim, hidden=(8,), activation="tanh", random_seed=1)
    raise AssertionError(name)


FAMILIES = [
    "Gaussian",
    "StudentT",
    "FASConstraints",
    "TopographicStudentT",
    "product",
    "MLPEnergy",
]


def hessian_traces(energy, X):
    """``tr ∇²E`` of each row of ``X`` from PyTensor's Hessian of that row's energy alone."""
    x = pt.vector("x", dtype=FLOAT_X)
    trace = pt.diagonal(hessian(energy.energy(x[None, :])[0], x)).sum()
    fn = pytensor.function([x], trace)
    return np.array([fn(row) for row in X])


@pytest.mark.parametrize("family", FAMILIES)
def test_laplacian_equals_the_trace_of_pytensors_hessian(family):
    rng = np.random.default_rng(sum(map(ord, family)))
    dim = 2 if family == "MLPEnergy" else 3
    energy = random_energy(family, dim, rng)
    X = rng.normal(size=(7, dim)).astype(FLOAT_X)
    v = pt.matrix("v", dtype=FLOAT_X)
    laplacian = pytensor.function([v], energy.laplacian(v))(X)
    assert laplacian.shape == (7,)
    np.testing.assert_allclose(laplacian, hessian_traces(energy, X), rtol=1e-8, atol=1e-9)


def test_laplacian_refused_above_the_autodiff_limit_with_its_cost():
    dim = LAPLACIAN_AUTODIFF_LIMIT + 1
    energy = pymc_ebm.MLPEnergy(dim, hidden=(4,), random_seed=0)
    with pytest.raises(ValueError, match=rf"dim={dim} cost {dim} backward passes.*limit of 64"):
        energy.laplacian(pt.matrix("v"))
    before = energy.get_params()
    with pytest.raises(ValueError, match="no closed-form Laplacian"):
        pymc_ebm.ScoreMatching(energy, method="exact")
    for name, value in energy.get_params().items():
        np.testing.assert_array_equal(value, before[name])
    # the sliced loss needs no Laplacian: the same energy is accepted there
    pymc_ebm.ScoreMatching(energy, method="sliced", batch_size=4)


def test_closed_forms_have_no_dimension_limit():
    rng = np.random.default_rng(3)
    energy = pymc_ebm.StudentT(rng.normal(size=(10, 100)), np.ones(10))
    v = pt.matrix("v", dtype=FLOAT_X)
    assert pytensor.function([v], energy.laplacian(v))(np.zeros((2, 100), FLOAT_X)).shape == (2,)


@pytest.mark.parametrize("family", ["StudentT", "product", "MLPEnergy"])
def test_sliced_loss_averaged_over_projections_is_the_exact_loss(family):
    """The variance-reduced sliced loss is unbiased for the exact one (z-test over draws)."""
    rng = np.random.default_rng(sum(map(ord, family)) + 1)
    dim = 2 if family == "MLPEnergy" else 3
    energy = random_energy(family, dim, rng)
    X = rng.normal(size=(5, dim)).astype(FLOAT_X)
    v, u = pt.matrix("v", dtype=FLOAT_X), pt.tensor3("u", dtype=FLOAT_X)
    exact = float(pytensor.function([v], exact_score_loss(energy, v))(X))
    sliced = pytensor.function([v, u], sliced_score_loss(energy, v, u))
    n_draws = 2000
    draws = rng.standard_normal((n_draws, 1, *X.shape)).astype(FLOAT_X)
    values = np.array([sliced(X, d) for d in draws])
    error = values.std(ddof=1) / np.sqrt(n_draws)
    assert abs(values.mean() - exact) < Z * error, (values.mean(), exact, error)
    # many projections at once: the same mean, in one call
    many = float(sliced(X, draws[:, 0]))
    np.testing.assert_allclose(many, values.mean(), rtol=1e-10)


def test_losses_refuse_inputs_of_the_wrong_rank():
    energy = pymc_ebm.Gaussian([[0.0, 0.0]], [[1.0, 1.0]])
    with pytest.raises(ValueError, match="projections must have shape"):
        sliced_score_loss(energy, pt.matrix("v"), pt.matrix("u"))
    with pytest.raises(ValueError, match="noise must be a matrix"):
        denoising_score_loss(energy, pt.matrix("v"), pt.vector("e"), 0.1)


def gaussian_data(n, seed):
    rng = np.random.default_rng(seed)
    mean, std = np.array([1.0, -0.5]), np.array([0.7, 1.5])
    return rng.normal(mean, std, size=(n, 2)), mean, std


def product_moments(energy):
    """Mean and variance of a product of axis-aligned Gaussian experts."""
    precision = (1.0 / energy.sigma**2).sum(axis=0)
    return (energy.mu.get_value() / energy.sigma**2).sum(axis=0) / precision, 1.0 / precision


def test_exact_score_matching_on_a_gaussian_product_is_maximum_likelihood():
    n = 1000
    X, mean, std = gaussian_data(n, seed=1)
    energy = pymc_ebm.Gaussian(mu=np.zeros((2, 2)), sigma=np.full((2, 2), 1.5))
    trainer = pymc_ebm.ScoreMatching(
        energy, batch_size=n, optimizer="adam", learning_rate=0.02, random_seed=0
    )
    history = trainer.fit(X, n_updates=2000, progressbar=False)
    learned_mean, learned_var = product_moments(energy)
    # the optimum is the maximum-likelihood Gaussian: the sample mean and (1/n) variance
    np.testing.assert_allclose(learned_mean, X.mean(axis=0), rtol=0, atol=1e-6)
    np.testing.assert_allclose(learned_var, X.var(axis=0), rtol=1e-6)
    # ... which is within its sampling error of the truth
    assert np.all(np.abs(learned_mean - mean) < Z * std / np.sqrt(n))
    assert np.all(np.abs(learned_var - std**2) < Z * std**2 * np.sqrt(2.0 / n))
    # the loss went down to the Gaussian optimum −½ Σ 1/var
    np.testing.assert_allclose(history["loss"][-1], -0.5 * np.sum(1 / X.var(axis=0)), rtol=1e-6)


def test_denoising_score_matching_learns_the_noised_variance():
    n, sigma = 2000, 0.5
    X, mean, std = gaussian_data(n, seed=2)
    energy = pymc_ebm.Gaussian(mu=np.zeros((1, 2)), sigma=np.ones((1, 2)))
    trainer = pymc_ebm.ScoreMatching(
        energy, method="denoising", sigma=sigma, batch_size=n, optimizer="adam",
        learning_rate=0.005, random_seed=0,
    )  # fmt: skip
    trainer.fit(X, n_updates=3000, progressbar=False)
    learned_mean, learned_var = product_moments(energy)
    noised_var = X.var(axis=0) + sigma**2
    # each update sees n noised points: the error of their variance sizes the tolerance
    tolerance = Z * noised_var * np.sqrt(2.0 / n)
    assert np.all(np.abs(learned_var - noised_var) < tolerance), (learned_var, noised_var)
    assert np.all(np.abs(learned_var - (std**2 + sigma**2)) < 2 * tolerance)
    assert np.all(np.abs(learned_mean - X.mean(axis=0)) < Z * np.sqrt(noised_var / n))
    # and not the data's own variance
    assert np.all(learned_var - X.var(axis=0) > sigma**2 / 2)


def test_sliced_score_matching_on_a_gaussian_recovers_mean_and_variance():
    n = 1000
    X, _, _ = gaussian_data(n, seed=3)
    energy = pymc_ebm.Gaussian(mu=np.zeros((1, 2)), sigma=np.ones((1, 2)))
    trainer = pymc_ebm.ScoreMatching(
        energy, method="sliced", n_projections=2, batch_size=n, optimizer="adam",
        learning_rate=0.005, random_seed=0,
    )  # fmt: skip
    trainer.fit(X, n_updates=3000, progressbar=False)
    learned_mean, learned_var = product_moments(energy)
    var = X.var(axis=0)
    assert np.all(np.abs(learned_var - var) < Z * var * np.sqrt(2.0 / n)), (learned_var, var)
    assert np.all(np.abs(learned_mean - X.mean(axis=0)) < Z * np.sqrt(var / n))


METHODS = [("exact", {}), ("sliced", {"n_projections": 3}), ("denoising", {"sigma": 0.1})]


@pytest.mark.parametrize(("method", "settings"), METHODS)
def test_fit_partial_fit_and_history_as_the_other_trainers(method, settings):
    X, _, _ = gaussian_data(60, seed=4)
    energy = pymc_ebm.Gaussian(mu=np.zeros((1, 2)), sigma=np.ones((1, 2)))
    trainer = pymc_ebm.ScoreMatching(
        energy, method=method, batch_size=20, random_seed=5, **settings
    )
    record = trainer.partial_fit(X[:20])
    assert {"energy_data", "loss", "grad_norm", "norm_mu", "norm_log_sigma", "seconds"} == set(
        record
    )
    history = trainer.fit(X, n_updates=4, progressbar=True)
    assert history.sizes["update"] == 5
    assert history.attrs["trainer"] == "ScoreMatching"
    assert history.attrs["method"] == method
    assert np.all(np.isfinite(history["loss"]))
    with pytest.raises(ValueError, match="batch must have 20 rows"):
        trainer.partial_fit(X[:7])
    # seeded: the same seed gives the same run
    again = pymc_ebm.ScoreMatching(
        pymc_ebm.Gaussian(mu=np.zeros((1, 2)), sigma=np.ones((1, 2))),
        method=method, batch_size=20, random_seed=5, **settings,
    )  # fmt: skip
    again.partial_fit(X[:20])
    np.testing.assert_array_equal(
        again.fit(X, n_updates=4, progressbar=False)["loss"], history["loss"]
    )


def test_divergence_guard_keeps_the_last_good_parameters():
    X, _, _ = gaussian_data(50, seed=6)
    energy = pymc_ebm.Gaussian(mu=np.zeros((1, 2)), sigma=np.ones((1, 2)))
    trainer = pymc_ebm.ScoreMatching(energy, batch_size=50, learning_rate=1e4, momentum=0.0)
    before = energy.get_params()
    with pytest.raises(pymc_ebm.TrainingDivergedError, match="diverged at update 0"):
        trainer.partial_fit(X)
    for name, value in energy.get_params().items():
        np.testing.assert_array_equal(value, before[name])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "hyvarinen"}, "method must be one of"),
        ({"method": "sliced", "n_projections": 0}, "n_projections must be a positive integer"),
        ({"method": "denoising", "sigma": 0.0}, "sigma must be"),
        ({"method": "denoising", "sigma": -1.0}, "sigma must be"),
        ({"method": "denoising"}, "sigma .* is required by method='denoising'"),
    ],
)
def test_bad_settings_are_refused(kwargs, message):
    energy = pymc_ebm.Gaussian(mu=np.zeros((1, 2)), sigma=np.ones((1, 2)))
    before = energy.get_params()
    with pytest.raises(ValueError, match=message):
        pymc_ebm.ScoreMatching(energy, **kwargs)
    for name, value in energy.get_params().items():
        np.testing.assert_array_equal(value, before[name])


@pytest.mark.parametrize("method", ["exact", "sliced", "denoising"])
def test_box_energies_are_refused_with_the_reason(method):
    energy = pymc_ebm.UniGauss([[0.4, 0.4]], [[0.3, 0.3]], [0.5])
    before = energy.get_params()
    with pytest.raises(ValueError, match="lives on a box.*boundary terms"):
        pymc_ebm.ScoreMatching(energy, method=method, sigma=0.1)
    for name, value in energy.get_params().items():
        np.testing.assert_array_equal(value, before[name])
    with pytest.raises(TypeError, match="energy must be an Energy"):
        pymc_ebm.ScoreMatching("not an energy")
