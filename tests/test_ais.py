"""AIS is never confidently wrong: improper energies and degenerate bases are refused,
a weight ESS that is a small share of the runs is warned about, the progress bar counts
temperatures, and the runs are called ``n_runs``."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import pymc_ebm
from pymc_ebm.evaluation import ais as ais_module
from pymc_ebm.evaluation.ais import GaussianBase, annealed_importance_sampling
from pymc_ebm.evaluation.propriety import improper_reason

QUICK = dict(n_temperatures=5, n_leapfrog=2, progressbar=False)


def _data(dim: int = 2, n: int = 50, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim))


# -- improper energies ---------------------------------------------------------------------
IMPROPER = {
    "rank-1 StudentT": pymc_ebm.StudentT([[1.0, 0.0]], [2.0]),
    "two parallel StudentT": pymc_ebm.StudentT([[1.0, 1.0], [2.0, 2.0]], [2.0, 2.0]),
    "StudentT alpha 1/2 in 1-D": pymc_ebm.StudentT([[1.0]], [0.5]),
    "complete StudentT, one alpha < 1/2": pymc_ebm.StudentT([[2.0, 0.5], [0.0, 1.0]], [0.4, 3.0]),
    "product of StudentT on one axis": (
        pymc_ebm.StudentT([[1.0, 0.0]], [2.0]) * pymc_ebm.StudentT([[3.0, 0.0]], [1.0])
    ),
    "topographic pooling one filter": pymc_ebm.TopographicStudentT(
        np.eye(2), [1.0, 1.0], [[1.0, 0.0], [1.0, 0.0]]
    ),
    "arm link": pymc_ebm.FASConstraints([[1.0, -1.0]], [[1.0]], [-1.0], [1.0]),
    "sigmoid MLP without box": pymc_ebm.MLPEnergy(2, hidden=4, random_seed=0),
    "StudentT times sigmoid MLP": (
        pymc_ebm.StudentT([[1.0, 0.0]], [2.0]) * pymc_ebm.MLPEnergy(2, hidden=4, random_seed=0)
    ),
}

PROPER_OR_UNKNOWN = {
    "complete StudentT": pymc_ebm.StudentT(np.eye(2), [2.0, 2.0]),
    "two StudentT on two axes": (
        pymc_ebm.StudentT([[1.0, 0.0]], [2.0]) * pymc_ebm.StudentT([[0.0, 1.0]], [2.0])
    ),
    "rank-1 StudentT times a Gaussian": (
        pymc_ebm.StudentT([[1.0, 0.0]], [2.0]) * pymc_ebm.Gaussian([[0.0, 0.0]], [[5.0, 5.0]])
    ),
    "arm link times a Gaussian": (
        pymc_ebm.FASConstraints([[1.0, -1.0]], [[1.0]], [-1.0], [1.0])
        * pymc_ebm.Gaussian([[0.0, 0.0]], [[5.0, 5.0]])
    ),
    "MLP on a box": pymc_ebm.MLPEnergy(2, hidden=4, box=(-1.0, 1.0), random_seed=0),
    "rank-1 StudentT times a box": (
        pymc_ebm.StudentT([[1.0, 0.0]], [2.0])
        * pymc_ebm.UniGauss([[0.5, 0.5]], [[0.1, 0.1]], [0.5])
    ),
    "softplus MLP with a positive scale (may grow)": pymc_ebm.MLPEnergy(
        2, hidden=1, activation="softplus", weights=[[[1.0], [0.0]], [0.0], [1.0]]
    ),
    "mixture": pymc_ebm.Mixture([pymc_ebm.Gaussian([[0.0, 0.0], [1.0, 1.0]], np.ones((2, 2)))]),
}


@pytest.mark.parametrize("name", sorted(IMPROPER))
def test_improper_energies_are_known(name):
    assert improper_reason(IMPROPER[name]) is not None


@pytest.mark.parametrize("name", sorted(PROPER_OR_UNKNOWN))
def test_proper_energies_and_unknown_ones_are_not_refused(name):
    assert improper_reason(PROPER_OR_UNKNOWN[name]) is None


def test_softplus_mlp_with_no_positive_scale_is_bounded_above():
    net = pymc_ebm.MLPEnergy(2, hidden=3, activation="softplus", random_seed=0)
    params = net.get_params()
    net.set_params({"scale": -np.abs(params["scale"])})
    assert "bounded above" in improper_reason(net)


def test_ais_refuses_an_improper_energy_before_running():
    """``StudentT([[1, 0]], [2])`` is flat along the second axis: ``log Z = +inf``."""
    with pytest.raises(ValueError, match=r"energy is improper: its StudentT filters span 1 of 2"):
        pymc_ebm.log_partition(pymc_ebm.StudentT([[1.0, 0.0]], [2.0]), "ais", data=_data())


def test_ais_still_runs_once_a_gaussian_confines_the_product():
    energy = pymc_ebm.StudentT([[1.0, 0.0]], [2.0]) * pymc_ebm.Gaussian([[0.0, 0.0]], [[3.0, 3.0]])
    est = pymc_ebm.log_partition(energy, "ais", data=_data(), n_runs=32, random_seed=0, **QUICK)
    assert np.isfinite(est.log_z)


# -- a degenerate base -----------------------------------------------------------------------
def test_rank_deficient_data_is_refused_as_a_base():
    gauss = pymc_ebm.Gaussian(np.zeros((2, 2)), np.ones((2, 2)))
    data = np.outer(np.arange(10.0), [1.0, 1.0])
    with pytest.raises(ValueError, match=r"data must vary along all 2 dimensions.*span only 1"):
        pymc_ebm.log_partition(gauss, "ais", data=data)
    with pytest.raises(ValueError, match=r"span only 2"):
        GaussianBase.fit(_data(dim=3, n=3), 3)  # 3 rows: 2 directions about their mean
    with pytest.raises(ValueError, match=r"span only 1"):
        GaussianBase.fit(np.c_[_data(dim=1, n=20), np.full(20, 4.0)], 2)  # constant column


def test_full_rank_data_of_very_different_scales_is_a_base():
    data = _data() * [1e4, 1e-3]
    base = GaussianBase.fit(data, 2)
    np.testing.assert_allclose(np.diag(base.chol @ base.chol.T), data.var(axis=0, ddof=1), 1e-4)


def test_base_data_that_are_not_numbers_are_refused():
    gauss = pymc_ebm.Gaussian([[0.0, 0.0]], [[1.0, 1.0]])
    with pytest.raises(ValueError, match="data must be an array of numbers"):
        pymc_ebm.log_partition(gauss, "ais", data=np.array([[1, "a"], [2, 3]], dtype=object))


# -- the ESS warning ---------------------------------------------------------------------------
def test_a_small_weight_ess_is_warned_about():
    """A base 30 standard deviations away: a few runs carry all the weight."""
    gauss = pymc_ebm.Gaussian(np.zeros((1, 2)), np.ones((1, 2)))
    data = 30.0 + 0.2 * _data(n=100)
    with pytest.warns(UserWarning, match=r"effective sample size of .* of 64 runs") as caught:
        est = pymc_ebm.log_partition(gauss, "ais", data=data, n_runs=64, random_seed=1, **QUICK)
    assert len(caught) == 1
    assert est.ess < 0.1 * 64


def test_a_healthy_weight_ess_is_not_warned_about():
    gauss = pymc_ebm.Gaussian(np.zeros((1, 2)), np.ones((1, 2)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        est = pymc_ebm.log_partition(
            gauss, "ais", data=_data(n=200), n_runs=64, random_seed=1, **QUICK
        )
    assert est.ess > 0.5 * 64


# -- the progress bar ------------------------------------------------------------------------
class _Recorder:
    """Stands in for ProgressBar and records each bar's label, total and steps."""

    bars: list[_Recorder] = []

    def __init__(self, total, label, field, field_format=".3f", enabled=True):
        self.total, self.label, self.completed = total, label, 0
        _Recorder.bars.append(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def advance(self, value):
        self.completed += 1


@pytest.mark.parametrize("step_size", [None, 0.3])
def test_progress_bars_count_temperatures(monkeypatch, step_size):
    monkeypatch.setattr(ais_module, "ProgressBar", _Recorder)
    _Recorder.bars = []
    gauss = pymc_ebm.Gaussian(np.zeros((1, 2)), np.ones((1, 2)))
    pymc_ebm.log_partition(
        gauss, "ais", data=_data(), n_runs=8, n_temperatures=7, n_leapfrog=2,
        step_size=step_size, random_seed=0,
    )  # fmt: skip
    labels = [bar.label for bar in _Recorder.bars]
    assert labels == (["AIS temperatures"] if step_size else [labels[0], "AIS temperatures"])
    assert all(bar.total == bar.completed == 7 for bar in _Recorder.bars)


# -- the runs' new name --------------------------------------------------------------------------
def test_n_chains_is_a_deprecated_spelling_of_n_runs():
    gauss = pymc_ebm.Gaussian(np.zeros((1, 2)), np.ones((1, 2)))
    kwargs = dict(data=_data(), random_seed=3, **QUICK)
    new = pymc_ebm.log_partition(gauss, "ais", n_runs=16, **kwargs)
    with pytest.deprecated_call(match="n_chains is deprecated.*use n_runs"):
        old = pymc_ebm.log_partition(gauss, "ais", n_chains=16, **kwargs)
    np.testing.assert_array_equal(new.log_weights, old.log_weights)
    assert new.n_runs == 16
    with pytest.deprecated_call(match="use n_runs"):
        assert new.n_chains == 16
    with pytest.raises(TypeError, match="give n_runs only"):
        pymc_ebm.log_partition(gauss, "ais", n_runs=16, n_chains=16, **kwargs)


def test_engine_takes_the_old_spellings_with_a_deprecation_warning():
    gauss = pymc_ebm.Gaussian(np.zeros((1, 2)), np.ones((1, 2)))
    base = GaussianBase.fit(_data(), 2)
    kwargs = dict(random_seed=4, **QUICK)
    new = annealed_importance_sampling(gauss, base, n_runs=8, n_pilot_runs=4, **kwargs)
    with pytest.deprecated_call(match="n_pilot_chains is deprecated"):
        old = annealed_importance_sampling(gauss, base, n_runs=8, n_pilot_chains=4, **kwargs)
    np.testing.assert_array_equal(new.log_weights, old.log_weights)
    with pytest.deprecated_call(match="n_chains is deprecated"):
        annealed_importance_sampling(gauss, base, n_chains=8, **kwargs)


# -- arguments that do not apply, bases that do not fit ----------------------------------------
def test_arguments_of_another_method_are_refused():
    gauss = pymc_ebm.Gaussian(np.zeros((1, 2)), np.ones((1, 2)))
    with pytest.raises(ValueError, match="low and high are for method='quadrature'"):
        pymc_ebm.log_partition(gauss, "ais", data=_data(), low=-5.0, high=5.0)
    with pytest.raises(ValueError, match="data is for method='ais'"):
        pymc_ebm.log_partition(gauss, "exact", data=_data())
    with pytest.raises(ValueError, match="method must be one of"):
        pymc_ebm.log_partition(gauss, ["ais"])


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (
            lambda: GaussianBase(np.zeros(2), np.eye(3)),
            ValueError,
            r"cov must have shape \(2, 2\)",
        ),
        (lambda: GaussianBase(np.zeros(2), [[1.0, 0.5], [0.0, 1.0]]), ValueError, "symmetric"),
        (lambda: GaussianBase([0.0, np.nan], np.eye(2)), ValueError, "mean must be finite"),
        (lambda: ais_module.UniformBoxBase([0.0, 1.0], [1.0, 1.0]), ValueError, "low must be"),
        (lambda: ais_module.UniformBoxBase([0.0], [1.0, 2.0]), ValueError, "high must have"),
    ],
)
def test_malformed_bases_are_refused(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_the_engine_refuses_a_base_of_another_dimension():
    gauss = pymc_ebm.Gaussian(np.zeros((1, 2)), np.ones((1, 2)))
    with pytest.raises(ValueError, match="base must have the energy's dim 2, got dim 3"):
        annealed_importance_sampling(gauss, GaussianBase(np.zeros(3), np.eye(3)), **QUICK)
    with pytest.raises(TypeError, match="base must be a GaussianBase or UniformBoxBase"):
        annealed_importance_sampling(gauss, "gaussian", **QUICK)
