"""Tests of the step-size search and of ShortRunHMC's warm start of dual averaging."""

import math

import numpy as np
import pymc as pm
import pytest
from pymc.step_methods.step_sizes import DualAverageAdaptation

import pymc_ebm
from pymc_ebm import ShortRunHMC
from pymc_ebm.step_methods.step_size import (
    SEARCH_LIMIT,
    WarmDualAverageAdaptation,
    dual_averaging,
    search_step_size,
)

TARGET = 0.65
ROWS = 400
DIM = 10
# The mean of ROWS acceptance probabilities in [0, 1] has a standard error of at
# most 0.5 / sqrt(ROWS) = 0.025; the known-answer tests allow 4 of them.
TOL = 4 * 0.5 / math.sqrt(ROWS)


def gaussian_accept(eps):
    return math.exp(-eps * eps)


CROSSING = math.sqrt(-math.log(TARGET))  # gaussian_accept(CROSSING) == TARGET


# -- the pure search ---------------------------------------------------------------
@pytest.mark.parametrize("start", [1e-4, 0.1, 0.5, 0.7, 3.0, 50.0])
def test_search_brackets_the_crossing_within_a_factor_two(start):
    eps = search_step_size(gaussian_accept, start, TARGET)
    assert gaussian_accept(eps) > TARGET >= gaussian_accept(2 * eps)
    assert eps <= CROSSING < 2 * eps
    assert math.log2(eps / start) == round(math.log2(eps / start))  # doublings/halvings only


def test_search_tries_at_most_limit_plus_one_step_sizes_and_stops_there():
    tried = []

    def always(eps):
        tried.append(eps)
        return 1.0

    assert search_step_size(always, 1.0, TARGET) == 2.0**SEARCH_LIMIT
    assert len(tried) == SEARCH_LIMIT + 1
    assert search_step_size(lambda eps: 0.0, 1.0, TARGET, limit=3) == 0.125
    assert search_step_size(lambda eps: 0.0, 0.3, TARGET, limit=0) == 0.3


def test_search_counts_nan_as_nothing_accepted():
    eps = search_step_size(lambda e: 1.0 if e < 1.0 else math.nan, 0.1, TARGET)
    assert eps == pytest.approx(0.8)
    assert search_step_size(lambda e: math.nan, 1.0, TARGET, limit=2) == 0.25


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"step_size": 0.0}, "step_size must be positive"),
        ({"step_size": math.inf}, "step_size must be positive"),
        ({"target_accept": 1.0}, "target_accept must be in"),
        ({"limit": -1}, "limit must be a non-negative integer"),
        ({"limit": 2.5}, "limit must be a non-negative integer"),
        ({"limit": True}, "limit must be a non-negative integer"),
    ],
)
def test_search_refuses_bad_arguments(kwargs, match):
    args = {"step_size": 0.1, "target_accept": TARGET, **kwargs}
    with pytest.raises(ValueError, match=match):
        search_step_size(gaussian_accept, **args)


def test_warm_dual_averaging_shrinks_towards_the_initial_step_size():
    cold, warm = dual_averaging(0.1, TARGET), dual_averaging(0.1, TARGET, warm=True)
    assert type(cold) is DualAverageAdaptation
    assert isinstance(warm, WarmDualAverageAdaptation)
    assert warm.current(True) == pytest.approx(0.1)
    for adapt in (cold, warm):
        adapt.update(TARGET, True)  # on target: the iterate is the shrinkage point
    assert cold.current(True) == pytest.approx(1.0)
    assert warm.current(True) == pytest.approx(0.1)


def test_dual_averaging_refuses_a_warm_that_is_not_a_bool():
    with pytest.raises(TypeError, match="warm must be True or False"):
        dual_averaging(0.1, TARGET, warm="yes")


# -- ShortRunHMC ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def normal_model():
    """ROWS independent rows of a standard normal in DIM dimensions, and a point at equilibrium."""
    expert = pymc_ebm.Gaussian(mu=np.zeros((1, DIM)), sigma=np.ones((1, DIM)))
    with pm.Model() as model:
        pymc_ebm.visible("v", expert, n_particles=ROWS)
    point = model.initial_point()
    point["v"] = np.random.default_rng(0).standard_normal((ROWS, DIM))
    return model, point


def _step(model, **kwargs):
    kwargs.setdefault("n_steps", 10)
    kwargs.setdefault("adapt_mass", False)
    with model:
        step = ShortRunHMC(target_accept=TARGET, **kwargs)
    step.setup_chain(np.random.default_rng(11), tune=100, draws=0)
    return step


@pytest.mark.parametrize("bad", ["yes", 1, None])
def test_find_step_size_must_be_a_bool(normal_model, bad):
    model, _ = normal_model
    with model, pytest.raises(TypeError, match="find_step_size must be True or False"):
        ShortRunHMC(find_step_size=bad)


def test_search_on_a_standard_normal_lands_near_the_target(normal_model):
    """From a far too small step, the first draw is at the found ε₀; 2 ε₀ is below the target."""
    model, point = normal_model
    step = _step(model, step_size=1e-3)
    assert step.sampling_state.step_size_search_pending
    _, [first] = step.step(point)
    assert not step.step_size_search_pending
    eps0 = first["step_size"]
    assert math.log2(eps0 / 1e-3) == round(math.log2(eps0 / 1e-3))
    assert first["accept"] > TARGET - TOL
    # the same point at twice the step size (no search, no tuning): at or below the target
    doubled = _step(model, step_size=2 * eps0, find_step_size=False)
    doubled.stop_tuning()
    _, [second] = doubled.step(point)
    assert second["accept"] <= TARGET + TOL
    # the statistics keep their names and shapes
    assert set(first) == set(ShortRunHMC.stats_dtypes_shapes)


def test_warm_start_avoids_the_rejected_second_draw(normal_model):
    """The reported defect: above the target at ε₀, PyMC's dual averaging jumps to ~10 ε₀."""
    model, point = normal_model
    found = _step(model, step_size=1e-3)
    _, [st] = found.step(point)
    eps0 = st["step_size"]  # what the search found
    accepts = {}
    for flag in (False, True):
        step = _step(model, step_size=eps0, find_step_size=flag)
        current, out = point, []
        for _ in range(3):
            current, [st] = step.step(current)
            out.append(st["accept"])
        accepts[flag] = np.array(out)
    # the old behaviour: draws 2 and 3 at about 17 ε₀ and 4 ε₀, (nearly) every row rejected
    assert accepts[False][1:3].max() < 0.2
    # warm: near ε₀ (dual averaging on this steep acceptance curve still swings later on)
    assert accepts[True][1:3].min() > 0.4


def test_without_search_the_draws_are_the_old_ones(normal_model):
    """find_step_size=False is PyMC's dual averaging from step_size; no tuning: no search."""
    model, point = normal_model
    step = _step(model, step_size=0.3, find_step_size=False)
    reference = dual_averaging(0.3, TARGET)
    _, [st] = step.step(point)
    assert st["step_size"] == pytest.approx(0.3)
    reference.update(st["accept"], True)
    assert type(step.step_adapt) is DualAverageAdaptation
    assert step.step_size == pytest.approx(reference.current(True))
    # after tuning the search changes nothing: the same draws for the same generator
    draws = []
    for flag in (False, True):
        step = _step(model, step_size=0.3, find_step_size=flag)
        step.stop_tuning()
        new, _ = step.step(point)
        draws.append(new["v"])
    np.testing.assert_array_equal(draws[0], draws[1])


def test_search_state_round_trips_and_reset_tuning_searches_again(normal_model):
    model, point = normal_model
    step = _step(model, step_size=0.05)
    state = step.sampling_state
    first, _ = step.step(point)
    assert not step.sampling_state.step_size_search_pending
    step.sampling_state = state  # pending again, same generator state: the same draw
    assert step.step_size_search_pending
    again, _ = step.step(point)
    np.testing.assert_array_equal(again["v"], first["v"])
    step.reset_tuning()
    assert step.step_size_search_pending
    assert step.step_size == pytest.approx(0.05)
