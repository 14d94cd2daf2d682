"""PyMC's step-method conformance checks, re-typed for the package's step methods.

After PyMC's ``tests/helpers.py`` (``StepMethodTester.step_continuous``,
``check_stat_dtype``, ``RVsAssignmentStepsTester``) and ``tests/models.py``
(``mv_simple``): the sampling state round-trips, the declared statistics are
what ``step()`` returns, ``copy.deepcopy`` works and the copy continues the
chain, the moments match the known answer, and random and value variables
select the same value variables. (The arm demo's ``ArmReflection`` has its
deepcopy check, on a model with initial values, in ``tests/demos/test_arm.py``.)
"""

import copy

import cloudpickle
import numpy as np
import pymc as pm
import pytest

import pymc_ebm
from pymc_ebm.evaluation.quadrature import grid_density

Z = 4.0  # |z| threshold of each MCSE check (at most 8 per test)
N_ROWS = 200  # rows are independent chains

# -- models with known moments -------------------------------------------------

MV_MU = np.array([-0.1, 0.5, 1.1])
MV_COV = np.array([[1.0, 0.5, 0.2], [0.5, 2.0, -0.3], [0.2, -0.3, 0.5]])
"""Like PyMC's ``mv_simple`` (a correlated 3-D Gaussian with an initial value), but
with a covariance of moderate condition number, as ShortRunHMC has no mass matrix."""


def _mv_model() -> pm.Model:
    with pm.Model() as model:
        pm.MvNormal(
            "x",
            MV_MU,
            cov=MV_COV,
            shape=(N_ROWS, 3),
            initval=np.tile([0.1, 1.0, 0.8], (N_ROWS, 1)),
        )
    return model


def _experts() -> pymc_ebm.UniGauss:
    return pymc_ebm.UniGauss(
        mu=[[0.25, 0.3], [0.7, 0.6], [0.4, 0.8]],
        sigma=[[0.1, 0.15], [0.12, 0.08], [0.2, 0.1]],
        pi=[0.6, 0.5, 0.7],
    )


def _visible_model() -> pm.Model:
    """A uni-gauss visible with a non-default initial value (what ``deepcopy`` used to refuse)."""
    with pm.Model() as model:
        v = pymc_ebm.visible("v", _experts(), n_particles=N_ROWS)
    model.set_initval(v, np.full((N_ROWS, 2), 0.45))
    return model


def _visible_moments() -> tuple[np.ndarray, np.ndarray]:
    grid = grid_density(_experts(), n_points=400)
    mean, sd = [], []
    for points, marginal in zip(grid.points, grid.marginals, strict=True):
        weights = marginal / marginal.sum()
        m = np.sum(weights * points)
        mean.append(m)
        sd.append(np.sqrt(np.sum(weights * (points - m) ** 2)))
    return np.array(mean), np.array(sd)


STUDENT_ALPHA = 4.0  # nu = 7 per independent direction
STUDENT_ROTATION = np.array([[0.8, -0.6], [0.6, 0.8]])
STUDENT_W = np.diag([1.0, 2.0]) @ STUDENT_ROTATION


def _student_t_model() -> pm.Model:
    """A Student-t visible with a non-default initial value.

    With ``W = D R`` (``R`` a rotation, ``D`` diagonal), ``t = W v`` has
    independent Student-t entries with ``nu = 2 alpha - 1`` and scale ``sqrt(2/nu)``,
    so ``v = W⁻¹ t`` has mean 0 and covariance ``(2/nu) nu/(nu - 2) W⁻¹ W⁻ᵀ``.
    """
    energy = pymc_ebm.StudentT(W=STUDENT_W, alpha=[STUDENT_ALPHA, STUDENT_ALPHA])
    with pm.Model() as model:
        v = pymc_ebm.visible("v", energy, n_particles=N_ROWS)
    model.set_initval(v, np.full((N_ROWS, 2), 0.3))
    return model


def _student_t_moments() -> tuple[np.ndarray, np.ndarray]:
    nu = 2 * STUDENT_ALPHA - 1
    inverse = np.linalg.inv(STUDENT_W)
    cov = 2.0 / (nu - 2) * inverse @ inverse.T
    return np.zeros(2), np.sqrt(np.diag(cov))


# -- the steps under test --------------------------------------------------------

STEPS = {
    "ShortRunHMC": (
        _mv_model,
        "x",
        lambda vars, model, rng: pymc_ebm.ShortRunHMC(
            vars, n_steps=8, step_size=0.3, model=model, rng=rng
        ),
    ),
    "UniGaussGibbs": (
        _visible_model,
        "v",
        lambda vars, model, rng: pymc_ebm.UniGaussGibbs(vars, model=model, rng=rng),
    ),
    "BoxJump": (
        _visible_model,
        "v",
        lambda vars, model, rng: pymc_ebm.BoxJump(vars, model=model, rng=rng),
    ),
    "StudentTGibbs": (
        _student_t_model,
        "v",
        lambda vars, model, rng: pymc_ebm.StudentTGibbs(vars, model=model, rng=rng),
    ),
}

MOMENTS = {
    "ShortRunHMC": lambda: (MV_MU, np.sqrt(np.diag(MV_COV))),
    "UniGaussGibbs": _visible_moments,
    "BoxJump": _visible_moments,
    "StudentTGibbs": _student_t_moments,
}


def _params(marks_for_hmc=()):
    return [
        pytest.param(name, marks=marks_for_hmc if name == "ShortRunHMC" else ()) for name in STEPS
    ]


def _build(name: str, seed: int = 1):
    make_model, rv_name, make_step = STEPS[name]
    model = make_model()
    step = make_step([model[rv_name]], model, seed)
    return model, step


def _assert_same(result_a, result_b):
    (point_a, stats_a), (point_b, stats_b) = result_a, result_b
    assert point_a.keys() == point_b.keys()
    for key in point_a:
        np.testing.assert_array_equal(point_a[key], point_b[key])
    np.testing.assert_equal(stats_a, stats_b)


# -- the checks ------------------------------------------------------------------


@pytest.mark.parametrize("name", _params())
def test_sampling_state_round_trips(name):
    model, step = _build(name)
    point = model.initial_point()
    state = step.sampling_state
    first = step.step(point)
    after_first = step.step(point)  # the generator moved on: another draw
    step.sampling_state = state
    again = step.step(point)
    _assert_same(first, again)
    assert any(not np.array_equal(first[0][key], after_first[0][key]) for key in first[0]), (
        "the step did not move"
    )


@pytest.mark.parametrize("name", _params())
@pytest.mark.parametrize("tune", [True, False])
def test_declared_stats_match_the_step(name, tune):
    model, step = _build(name)
    step.setup_chain(np.random.default_rng(0), tune=10 if tune else 0, draws=5)
    if not tune:
        step.stop_tuning()
    _, stats = step.step(model.initial_point())
    assert len(stats) == 1
    declared = step.stats_dtypes_shapes
    assert stats[0].keys() == declared.keys()
    assert stats[0]["tune"] is tune
    for stat, value in stats[0].items():
        dtype, shape = declared[stat]
        assert np.asarray(value).dtype == np.dtype(dtype), stat
        if shape is not None:
            assert list(np.shape(value)) == list(shape), stat


@pytest.mark.parametrize("name", _params())
def test_deepcopy_continues_the_same_chain(name):
    model, step = _build(name)
    point = model.initial_point()
    step.step(point)  # compiled functions and generator in use
    clone = copy.deepcopy(step)
    assert clone is not step
    _assert_same(step.step(point), clone.step(point))
    restored = cloudpickle.loads(cloudpickle.dumps(clone))
    state = clone.sampling_state
    expected = clone.step(point)
    restored.sampling_state = state
    _assert_same(expected, restored.step(point))


@pytest.mark.parametrize("name", _params())
def test_moments_match_the_known_answer(name):
    model, step = _build(name, seed=2)
    rv_name = STEPS[name][1]
    with model:
        idata = pm.sample(
            draws=150, tune=100, chains=1, step=step, random_seed=3, progressbar=False,
            compute_convergence_checks=False,
        )  # fmt: skip
    draws = idata.posterior[rv_name].values[0]  # (draws, rows, dim)
    mean, sd = MOMENTS[name]()
    # rows are independent chains: the spread of their averages gives the standard error
    row_means = draws.mean(axis=0)
    row_second = ((draws - mean) ** 2).mean(axis=0)
    se_mean = row_means.std(axis=0, ddof=1) / np.sqrt(N_ROWS)
    se_var = row_second.std(axis=0, ddof=1) / np.sqrt(N_ROWS)
    error_mean = row_means.mean(axis=0) - mean
    error_var = row_second.mean(axis=0) - sd**2
    assert np.all(np.abs(error_mean) < sd / 10), (error_mean, sd)  # PyMC's check
    assert np.all(np.abs(error_mean) < Z * se_mean), (error_mean, se_mean)
    std = np.sqrt(row_second.mean(axis=0))
    assert np.all(np.abs(std - sd) < sd / 10), (std, sd)  # PyMC's check
    assert np.all(np.abs(error_var) < Z * se_var), (error_var, se_var)


@pytest.mark.parametrize("name", _params())
def test_random_value_and_default_variables_assign_the_same_values(name):
    make_model, rv_name, make_step = STEPS[name]
    model = make_model()
    rv = model[rv_name]
    value = model.rvs_to_values[rv]
    with model:
        by_rv = make_step([rv], model, 0).vars
        by_value = make_step([value], model, 0).vars
        by_default = make_step(None, model, 0).vars
    assert by_rv == by_value == by_default == [value]
