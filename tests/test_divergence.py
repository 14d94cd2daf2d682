"""Divergence detection: a runaway update is named, undone and stops training."""

import warnings

import numpy as np
import pytest

import pymc_ebm
from pymc_ebm.training import (
    ContrastiveDivergence,
    DivergenceCheck,
    NonFiniteUpdateError,
    TrainingDivergedError,
)
from pymc_ebm.training.divergence import DivergenceMonitor
from pymc_ebm.training.exact_gradient import MaximumLikelihood

DIVERGING_RATE = 1e3
USUAL_RATE = 0.01
MAX_UPDATES = 5  # a diverging run stops within this many updates
HMC = {"n_steps": 5, "step_size": 0.1}


def gaussian_data():
    return 1.0 + 0.5 * np.random.default_rng(0).standard_normal((400, 2))


def clusters():
    return pymc_ebm.datasets.grid_clusters(n=200, random_seed=0)


def heavy_tailed_data():
    return np.random.default_rng(0).standard_t(5, size=(400, 2))


# family: (energy, data, trainer settings)
FAMILIES = {
    "gaussian-sgd": (
        lambda: pymc_ebm.Gaussian([[0.0, 0.0]], [[1.0, 1.0]]),
        gaussian_data,
        {"sampler": "hmc", "step_kwargs": HMC, "optimizer": "sgd"},
    ),
    "gaussian-adam": (
        lambda: pymc_ebm.Gaussian([[0.0, 0.0]], [[1.0, 1.0]]),
        gaussian_data,
        {"sampler": "hmc", "step_kwargs": HMC, "optimizer": "adam"},
    ),
    "unigauss-adam": (
        lambda: pymc_ebm.UniGauss(
            [[0.3, 0.3], [0.6, 0.6], [0.5, 0.2]], np.full((3, 2), 0.2), np.full(3, 0.5)
        ),
        clusters,
        {"sampler": "gibbs", "optimizer": "adam"},
    ),
    "student-t": (
        lambda: pymc_ebm.StudentT(W=[[1.0, 0.1], [0.1, 1.0]], alpha=[2.0, 2.0]),
        heavy_tailed_data,
        {"sampler": "hmc", "step_kwargs": HMC, "optimizer": "sgd"},
    ),
    "mlp": (
        lambda: pymc_ebm.MLPEnergy(2, hidden=(8,), box=(-3.0, 3.0), random_seed=0),
        lambda: np.clip(gaussian_data(), -2.9, 2.9),
        {"sampler": "hmc", "step_kwargs": HMC, "optimizer": "sgd"},
    ),
}


def trainer(family, learning_rate, find_step_size=True, **kwargs):
    """A fresh trainer and its energy, and the state after each update it records.

    ``find_step_size=False``: ShortRunHMC's dual averaging without the step-size search
    (the sampler of the reported runs these scenarios replay).
    """
    build, data, settings = FAMILIES[family]
    if "step_kwargs" in settings:
        settings = {**settings, "step_kwargs": {**HMC, "find_step_size": find_step_size}}
    energy = build()
    cd = ContrastiveDivergence(
        energy, batch_size=50, learning_rate=learning_rate, random_seed=0, **settings, **kwargs
    )
    snapshots = [(energy.get_params(), [s.get_value() for s in cd.optimizer.state])]

    def keep(record):
        snapshots.append((energy.get_params(), [s.get_value() for s in cd.optimizer.state]))

    def fit(n_updates, **fit_kwargs):
        return cd.fit(data(), n_updates, progressbar=False, callback=keep, **fit_kwargs)

    return cd, energy, snapshots, fit


def assert_restored(cd, energy, snapshots):
    """The parameters and optimiser state are those after the last recorded update."""
    assert len(snapshots) == cd.history.sizes["update"] + 1
    params, state = snapshots[-1]
    for name, value in params.items():
        np.testing.assert_array_equal(energy.get_params()[name], value)
    for shared, value in zip(cd.optimizer.state, state, strict=True):
        np.testing.assert_array_equal(shared.get_value(), value)


def assert_sane(energy):
    """Finite parameters, log scales and logits within e^±10."""
    for name, value in energy.get_params().items():
        assert np.all(np.isfinite(value)), name
        if name.startswith(("log_", "logit_")):
            assert np.all(np.abs(value) < 10), (name, value)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_diverging_rate_stops_at_the_last_checked_state(family):
    cd, energy, snapshots, fit = trainer(family, DIVERGING_RATE)
    with pytest.raises(TrainingDivergedError) as info:
        fit(50)
    err = info.value
    assert err.update < MAX_UPDATES and cd.history.sizes["update"] == err.update
    assert f"training diverged at update {err.update}: {err.quantity} " in str(err)
    assert isinstance(err, NonFiniteUpdateError)
    assert_restored(cd, energy, snapshots)
    assert_sane(energy)


def test_a_later_divergence_keeps_the_updates_before_it():
    """Three hundred times the usual SGD rate: a few updates pass, then one runs off.

    With ``on_divergence="warn"``, ``fit`` stops with the error's message as a warning.
    """
    cd, energy, snapshots, fit = trainer("gaussian-sgd", 3.0, find_step_size=False)
    with pytest.warns(RuntimeWarning, match="training diverged at update [1-9]"):
        fit(50, on_divergence="warn")
    assert 0 < cd.history.sizes["update"] < 50
    assert_restored(cd, energy, snapshots)  # with the SGD velocity
    assert_sane(energy)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_usual_rate_never_trips_the_checks(family):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        cd, _, _, fit = trainer(family, USUAL_RATE)
        fit(200)
    assert cd.history.sizes["update"] == 200


def test_maximum_likelihood_has_the_same_checks():
    energy = FAMILIES["unigauss-adam"][0]()
    ml = MaximumLikelihood(energy, batch_size=50, learning_rate=DIVERGING_RATE, n_points=32)
    start = energy.get_params()
    with pytest.raises(TrainingDivergedError, match="at update 0: "):
        ml.fit(clusters(), n_updates=10, progressbar=False)
    for name, value in start.items():
        np.testing.assert_array_equal(energy.get_params()[name], value)


def test_the_checks_can_be_switched_off():
    """Without them the Gaussian runs to the end at the degenerate point of the report."""
    cd, energy, _, fit = trainer(
        "gaussian-sgd", DIVERGING_RATE, find_step_size=False, divergence_check=None
    )
    assert fit(20).sizes["update"] == 20
    assert np.abs(energy.log_sigma.get_value()).max() > 50


def test_bad_divergence_settings_are_refused_before_anything_runs():
    with pytest.raises(TypeError, match="divergence_check must be a DivergenceCheck or None"):
        ContrastiveDivergence(FAMILIES["gaussian-sgd"][0](), divergence_check={"window": 5})
    with pytest.raises(ValueError, match="on_divergence must be 'raise' or 'warn'"):
        cd = ContrastiveDivergence(FAMILIES["gaussian-sgd"][0](), sampler="hmc")
        cd.fit(gaussian_data(), n_updates=2, progressbar=False, on_divergence="ignore")
    assert cd.history.sizes["update"] == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": 0}, "window must be a positive integer, got 0"),
        ({"step_limit": 0.0}, "step_limit must be positive and finite, got 0.0"),
        ({"norm_growth": 1.0}, "norm_growth must be finite and > 1, got 1.0"),
        ({"log_limit": np.inf}, "log_limit must be positive and finite, got inf"),
        ({"min_accept": 1.5}, r"min_accept must lie in \[0, 1\], got 1.5"),
        ({"accept_patience": True}, "accept_patience must be a positive integer, got True"),
    ],
)
def test_divergence_check_refuses_bad_thresholds(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DivergenceCheck(**kwargs)


# -- each check on its own, on made-up updates --------------------------------------------


def run_monitor(updates, **settings):
    """Feed ``(record, before, after, negatives, data, stats)`` updates; the first trip."""
    monitor = DivergenceMonitor(DivergenceCheck(**settings))
    for i, update in enumerate(updates):
        tripped = monitor.check(*update)
        if tripped is not None:
            return i, tripped
        monitor.commit()
    return None


def steady(n, gap):
    """Updates that leave a parameter where it is, with energy gap ``gap``."""
    p = {"w": np.ones(4)}
    return [({"energy_gap": gap}, p, p) for _ in range(n)]


def test_a_parameter_step_beyond_the_limit_is_a_divergence():
    before, after = {"mu": np.zeros(4)}, {"mu": np.full(4, 1.5)}  # step 3 > 1.2 × 2
    assert run_monitor([({"energy_gap": 0.0}, before, after)], step_limit=1.2)[1][0] == "mu"
    assert run_monitor([({"energy_gap": 0.0}, before, after)], step_limit=2.0) is None


def test_a_norm_that_grows_steadily_past_its_recent_history_is_a_divergence():
    """A norm growing by 30 % per update: small steps, but 10 times up within the window."""
    updates = []
    w = np.full(4, 1.0)
    for _ in range(30):
        updates.append(({"energy_gap": 0.1}, {"w": w}, {"w": 1.3 * w}))
        w = 1.3 * w
    where, (quantity, reason) = run_monitor(updates)
    assert quantity == "norm_w" and "more than 10 ×" in reason
    assert where == int(np.ceil(np.log(10) / np.log(1.3))) - 1  # the first update above 10×
    assert run_monitor(updates, window=5) is None  # only ever 1.3⁶ = 4.8 times up


def test_a_log_scale_parameter_beyond_its_limit_is_a_divergence():
    before, after = {"0.log_sigma": np.full(1, 40.0)}, {"0.log_sigma": np.full(1, 51.0)}
    where, (quantity, reason) = run_monitor([({"energy_gap": 0.0}, before, after)])
    assert quantity == "0.log_sigma" and "beyond ±50" in reason
    not_log = ({"energy_gap": 0.0}, {"mu": before["0.log_sigma"]}, {"mu": np.full(1, 51.0)})
    assert run_monitor([not_log]) is None


def test_an_energy_gap_far_above_its_history_is_a_divergence():
    updates = steady(10, gap=0.2) + steady(1, gap=25.0)
    assert run_monitor(updates)[1][0] == "energy_gap"
    assert run_monitor(steady(10, gap=0.2) + steady(1, gap=15.0)) is None  # below 100 × 0.2
    assert run_monitor(steady(10, gap=0.001) + steady(1, gap=0.5)) is None  # below the floor
    assert run_monitor(steady(5, gap=0.2) + steady(1, gap=25.0)) is None  # too little history


def test_negatives_that_run_off_are_a_divergence():
    data = np.random.default_rng(0).standard_normal((20, 2))
    near = [({"energy_gap": 0.1}, {}, {}, data + 0.1, data) for _ in range(10)]
    far = [({"energy_gap": 0.1}, {}, {}, data * 30, data)]
    assert run_monitor(near + far)[1][0] == "negatives"
    assert run_monitor(near + [({"energy_gap": 0.1}, {}, {}, data * 5, data)]) is None


def test_a_lasting_loss_of_acceptance_is_a_divergence():
    def updates(accepts):
        return [({"energy_gap": 0.1}, {}, {}, None, None, {"accept": a}) for a in accepts]

    where, (quantity, _) = run_monitor(updates([0.6] * 5 + [0.001] * 10))
    assert (where, quantity) == (14, "stat_accept")
    assert run_monitor(updates([0.6] * 5 + [0.001] * 9 + [0.5] + [0.001] * 9)) is None
    assert run_monitor(updates([float("nan")] * 20)) is None
