"""Tests of ShortRunHMC: known targets through ``pm.sample``, per-row tests, plumbing."""

import warnings

import arviz as az
import cloudpickle
import numpy as np
import pymc as pm
import pytest
from pymc.step_methods.compound import Competence
from scipy import stats

import pymc_ebm
from pymc_ebm import ShortRunHMC
from pymc_ebm.evaluation.quadrature import grid_density

Z = 4.0  # |mean − truth| / MCSE limit per assertion: P(|z| > 4) ≈ 6e-5, so a few
# dozen assertions of a correct sampler fail with probability well under 1 %.
ALPHA = 0.01  # family-wise level of the KS tests of one test function (Bonferroni)

MU = np.array([1.0, -2.0])
COV = np.array([[1.0, 0.8], [0.8, 1.0]])
SCALES = np.tile([0.8, 1.25], 30)  # row r is N(MU, SCALES[r]² COV)
TARGET = 0.65


def _sample(step, draws, tune, seed, **kwargs):
    kwargs.setdefault("chains", 1)
    return pm.sample(
        draws=draws,
        tune=tune,
        step=step,
        random_seed=seed,
        progressbar=False,
        compute_convergence_checks=False,
        **kwargs,
    )


def _z_mean(values, truth):
    """|mean − truth| / MCSE for draws of shape (chains, draws) (ArviZ MCSE)."""
    return abs(values.mean() - truth) / az.mcse(values, method="mean", chain_axis=0, draw_axis=1)


# -- a correlated 2-D Gaussian batch with rows of different scales -----------------
@pytest.fixture(scope="module")
def gaussian():
    """Two variables in one block: x_r ~ N(MU, s_r² COV) and y_r ~ N(-1, s_r²), rows r."""
    with pm.Model() as model:
        pm.MvNormal(
            "x",
            mu=MU,
            cov=SCALES[:, None, None] ** 2 * COV,
            shape=(len(SCALES), 2),
        )
        pm.Normal("y", -1.0, SCALES, shape=(len(SCALES),))
        step = ShortRunHMC(n_steps=10, step_size=0.1, target_accept=TARGET)
        idata = _sample(step, draws=400, tune=400, seed=2024)
    return model, step, idata


def _standardised(idata):
    """Draws as (rows, draws, 2), standardised to N(0, COV) on every row."""
    x = idata.posterior["x"].values[0]  # (draws, rows, 2)
    z = (x - MU) / SCALES[None, :, None]
    return np.moveaxis(z, 1, 0)


@pytest.mark.jax
def test_gaussian_is_per_row(gaussian):
    _, step, _ = gaussian
    assert step.per_row
    assert step.n_particles == len(SCALES)
    assert [v.name for v in step.vars] == ["x", "y"]


@pytest.mark.jax
def test_gaussian_mean_variance_covariance_within_mcse(gaussian):
    _, _, idata = gaussian
    z = _standardised(idata)  # rows act as chains for the MCSE
    for d in range(2):
        assert _z_mean(z[..., d], 0.0) < Z
        assert _z_mean(z[..., d] ** 2, COV[d, d]) < Z
    assert _z_mean(z[..., 0] * z[..., 1], COV[0, 1]) < Z
    y = (idata.posterior["y"].values[0].T + 1.0) / SCALES[:, None]  # (rows, draws), N(0, 1)
    assert _z_mean(y, 0.0) < Z
    assert _z_mean(y**2, 1.0) < Z


def test_tuned_acceptance_near_target(gaussian):
    _, _, idata = gaussian
    accept = idata.sample_stats["accept"].values
    assert abs(accept.mean() - TARGET) < 0.1
    step_size = idata.sample_stats["step_size"].values
    assert np.all(step_size == step_size[0, 0])  # fixed after tuning


RHO_DIM = 5
RHO_COV = 0.9 * np.ones((RHO_DIM, RHO_DIM)) + 0.1 * np.eye(RHO_DIM)  # correlation 0.9


@pytest.fixture(scope="module")
def correlated():
    """A 5-D Gaussian batch with correlation 0.9, sampled with its tuning draws kept."""
    with pm.Model():
        pm.MvNormal("x", mu=np.zeros(RHO_DIM), cov=RHO_COV, shape=(60, RHO_DIM))
        step = ShortRunHMC(n_steps=10, step_size=0.1, target_accept=TARGET)
        idata = _sample(step, draws=400, tune=400, seed=5, discard_tuned_samples=False)
    return step, idata


def test_acceptance_after_tuning_sits_above_target_at_the_averaged_step_size(correlated):
    """Dual averaging hits the target on average over its fluctuating iterates; the fixed
    averaged step size (their geometric mean) accepts more, since the acceptance falls faster
    for a too large step than it rises for a too small one (docs/statistics.md)."""
    from pymc.step_methods.step_sizes import DualAverageAdaptation

    step, idata = correlated
    warmup, after = idata.warmup_sample_stats, idata.sample_stats
    tuning_accept = warmup["accept"].values[0, -100:]
    iterates = warmup["step_size"].values[0, -100:]
    averaged = float(after["step_size"].values[0, 0])
    accept = after["accept"].values  # (1, draws)
    # tuning: the iterates reach the target on average; their geometric mean is the averaged ε
    assert abs(tuning_accept.mean() - TARGET) < 0.05
    assert 0.8 < averaged / np.exp(np.log(iterates).mean()) < 1.25
    # after tuning: clearly above the target
    mcse = float(az.mcse(accept, method="mean", chain_axis=0, draw_axis=1))
    assert accept.mean() - TARGET > Z * mcse
    # why: replayed at the last tuning iterates (same mass, same end point), the mean
    # acceptance is lower than at their geometric mean
    point = {"x": idata.posterior["x"].values[0, -1]}

    def accept_at(step_size, draws):
        step.step_adapt = DualAverageAdaptation(step_size, TARGET, 0.05, 0.75, 10.0)
        step.stop_tuning()
        current, out = dict(point), []
        for _ in range(draws):
            current, [st] = step.step(current)
            out.append(st["accept"])
        return np.mean(out)

    step.rng = np.random.default_rng(6)  # the adapted mass is kept (setup_chain would reset it)
    replayed = np.mean([accept_at(s, 10) for s in iterates])
    assert accept_at(averaged, 400) > replayed + 0.05


def test_rows_accept_on_their_own(gaussian):
    _, _, idata = gaussian
    # Stats: fractions of accepted rows strictly between 0 and 1 (a joint test gives 0 or 1).
    accepted = idata.sample_stats["accepted"].values.ravel()
    assert np.mean((accepted > 0) & (accepted < 1)) > 0.9
    # Behaviour: with one step size, narrow rows (scale 0.8) move less often than wide ones.
    x = idata.posterior["x"].values[0]
    moved = np.any(x[1:] != x[:-1], axis=2).mean(axis=0)  # per row
    y = idata.posterior["y"].values[0]
    np.testing.assert_array_equal(y[1:] != y[:-1], np.any(x[1:] != x[:-1], axis=2))
    narrow, wide = moved[SCALES == 0.8], moved[SCALES == 1.25]
    assert narrow.mean() + 0.15 < wide.mean()
    assert narrow.max() < wide.min()


def test_same_seed_same_draws_also_with_two_cores(gaussian):
    model, step, _ = gaussian
    with model:
        one = _sample(step, draws=30, tune=20, seed=7, chains=2, cores=1)
        again = _sample(step, draws=30, tune=20, seed=7, chains=2, cores=1)
        parallel = _sample(step, draws=30, tune=20, seed=7, chains=2, cores=2)
        other = _sample(step, draws=30, tune=20, seed=8, chains=1)
    x = one.posterior["x"].values
    np.testing.assert_array_equal(again.posterior["x"].values, x)
    np.testing.assert_array_equal(parallel.posterior["x"].values, x)
    assert not np.array_equal(x[0], x[1])
    assert not np.array_equal(other.posterior["x"].values[0], x[0])


def test_pickle_round_trip_gives_same_draws(gaussian):
    model, step, _ = gaussian
    copy = cloudpickle.loads(cloudpickle.dumps(step))
    point = model.initial_point()
    step.setup_chain(np.random.default_rng(3), tune=0, draws=1)
    copy.setup_chain(np.random.default_rng(3), tune=0, draws=1)
    new, stats = step.step(point)
    new_copy, stats_copy = copy.step(point)
    np.testing.assert_array_equal(new["x"], new_copy["x"])
    np.testing.assert_array_equal(new["y"], new_copy["y"])
    assert stats == stats_copy


def test_divergent_rows_are_rejected_and_counted(gaussian):
    model, _, _ = gaussian
    with model:
        step = ShortRunHMC(n_steps=10, step_size=1e150)
    step.stop_tuning()
    point = model.initial_point()
    new, [st] = step.step(point)
    np.testing.assert_array_equal(new["x"], point["x"])
    np.testing.assert_array_equal(new["y"], point["y"])
    assert st["diverging"] and st["n_diverging"] == len(SCALES)
    assert st["accept"] == 0.0 and st["accepted"] == 0.0
    assert np.isnan(st["energy_error"])
    assert st["step_size"] == pytest.approx(1e150)
    assert np.isfinite(st["model_logp"])


# -- energies from pymc_ebm -------------------------------------------------------
def test_student_t_expert_with_momentum_renewal():
    """E = 3.5 log(1 + x²/2) is a Student-t with ν = 6 and scale √(2/6)."""
    expert = pymc_ebm.StudentT(W=[[1.0]], alpha=[3.5])
    with pm.Model():
        pymc_ebm.visible("v", expert, n_particles=100)
        step = ShortRunHMC(n_steps=10, step_size=0.5, renew_momentum=5)
        idata = _sample(step, draws=400, tune=300, seed=11)
    assert step.n_trajectories == 2 and step.per_row
    draws = idata.posterior["v"].values[0, ::20, :, 0].ravel()
    truth = stats.t(df=6, scale=np.sqrt(2 / 6))
    assert stats.kstest(draws, truth.cdf).pvalue > ALPHA  # one KS test
    assert abs(idata.sample_stats["accept"].values.mean() - TARGET) < 0.1


@pytest.mark.jax
def test_unigauss_product_on_the_unit_square():
    """Through the Uniform box's logit transform, against quadrature marginals."""
    experts = pymc_ebm.UniGauss(
        mu=[[0.25, 0.3], [0.7, 0.6], [0.4, 0.8]],
        sigma=[[0.1, 0.15], [0.12, 0.08], [0.2, 0.1]],
        pi=[0.6, 0.5, 0.7],
    )
    with pm.Model():
        pymc_ebm.visible("v", experts, n_particles=100)
        step = ShortRunHMC(n_steps=10, step_size=0.2)
        idata = _sample(step, draws=400, tune=300, seed=5)
    assert step.per_row
    v = idata.posterior["v"].values[0, ::10]  # (draws, rows, 2)
    assert np.all((v > 0) & (v < 1))
    grid = grid_density(experts, n_points=400)
    for axis in range(2):
        result = stats.kstest(v[..., axis].ravel(), lambda x, a=axis: grid.marginal_cdf(a, x))
        assert result.pvalue > ALPHA / 2  # two KS tests


# -- several variables, joint test, compound steps -------------------------------
def _hierarchy():
    """mu ~ N(0, 1), x_i ~ N(mu, 1): marginally Var(mu) = 1, Var(x_i) = 2."""
    model = pm.Model()
    with model:
        mu = pm.Normal("mu", 0.0, 1.0)
        pm.Normal("x", mu, 1.0, shape=(4,))
    return model


def test_joint_test_for_blocks_without_common_rows():
    model = _hierarchy()
    with model, pytest.warns(UserWarning, match="one joint Metropolis test"):
        step = ShortRunHMC(n_steps=10, step_size=0.3)
    assert not step.per_row and step.n_particles == 1
    assert {v.name for v in step.vars} == {"mu", "x"}
    with model:
        idata = _sample(step, draws=1000, tune=300, seed=3)
    accepted = idata.sample_stats["accepted"].values
    assert set(np.unique(accepted)) <= {0.0, 1.0}
    mu = idata.posterior["mu"].values
    x = idata.posterior["x"].values
    assert _z_mean(mu, 0.0) < Z
    assert _z_mean(mu**2, 1.0) < Z
    assert _z_mean(x[..., 0], 0.0) < Z
    assert _z_mean(x[..., 0] ** 2, 2.0) < Z


def test_inside_a_compound_step():
    """Rows of x are their own chains given mu, which another sampler updates."""
    model = _hierarchy()
    with model:
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            hmc = ShortRunHMC([model["x"]], n_steps=5, step_size=0.5)
        idata = _sample([hmc, pm.Slice([model["mu"]])], draws=1500, tune=300, seed=9)
    assert hmc.per_row and hmc.n_particles == 4
    x = idata.posterior["x"].values
    mu = idata.posterior["mu"].values
    assert _z_mean(mu**2, 1.0) < Z
    for i in range(4):
        assert _z_mean(x[..., i], 0.0) < Z
        assert _z_mean(x[..., i] ** 2, 2.0) < Z


def test_competence():
    with pm.Model() as model:
        pm.Normal("a")
        pm.Poisson("k", 3.0)
    assert ShortRunHMC.competence(model["a"], True) == Competence.COMPATIBLE
    assert ShortRunHMC.competence(model["a"], False) == Competence.INCOMPATIBLE
    assert ShortRunHMC.competence(model["k"], False) == Competence.INCOMPATIBLE


def test_reset_and_stop_tuning(gaussian):
    model, _, _ = gaussian
    with model:
        step = ShortRunHMC(n_steps=10, step_size=0.1)
    assert step.tune
    for _ in range(20):
        step.step_adapt.update(1.0, True)  # everything accepted: the step grows
    assert step.step_size > 0.1
    step.stop_tuning()
    assert not step.tune
    assert step.step_size == pytest.approx(step.step_adapt.stats()["step_size_bar"])
    assert step.step_size != pytest.approx(step.step_adapt.stats()["step_size"])
    _, [st] = step.step(model.initial_point())
    assert st["step_size"] == st["step_size_bar"] == pytest.approx(step.step_size)
    assert not st["tune"] and st["n_steps"] == 10
    step.reset_tuning()
    assert step.step_adapt.current(True) == pytest.approx(0.1)


# -- validation --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n_steps": 0}, "n_steps"),
        ({"n_steps": 2.5}, "n_steps"),
        ({"n_steps": True}, "n_steps"),
        ({"step_size": 0.0}, "step_size"),
        ({"step_size": -0.1}, "step_size"),
        ({"step_size": np.nan}, "step_size"),
        ({"step_size": np.inf}, "step_size"),
        ({"step_size": "big"}, "step_size"),
        ({"target_accept": 0.0}, "target_accept"),
        ({"target_accept": 1.0}, "target_accept"),
        ({"target_accept": 1.5}, "target_accept"),
        ({"renew_momentum": 0}, "renew_momentum"),
        ({"renew_momentum": 3}, "renew_momentum"),  # does not divide n_steps=10
        ({"renew_momentum": 20}, "renew_momentum"),
        ({"renew_momentum": 2.0}, "renew_momentum"),
        ({"step_jitter": -0.1}, "step_jitter"),
        ({"step_jitter": 1.0}, "step_jitter"),
    ],
)
def test_bad_arguments_raise(kwargs, name):
    with pm.Model():
        pm.Normal("a", shape=(3,))
        with pytest.raises(ValueError, match=name):
            ShortRunHMC(**kwargs)


def test_discrete_variable_raises():
    with pm.Model() as model:
        pm.Poisson("k", 3.0)
        with pytest.raises(ValueError, match="continuous"):
            ShortRunHMC([model["k"]])


# -- rows that are not independent chains ----------------------------------------
def test_coupled_rows_sample_their_joint_covariance():
    """logp = -½ Σ x_i² − (x_0 − x_1)², written as a per-row potential, has
    covariance [[0.6, 0.4], [0.4, 0.6]]; a per-row test would sample N(0, I/2)."""
    with pm.Model() as model:
        x = pm.Normal("x", 0.0, 1.0, shape=(2,))
        pm.Potential("coupling", -0.5 * (x - x[::-1]) ** 2)
    with model, pytest.warns(UserWarning, match="one joint Metropolis test"):
        step = ShortRunHMC(n_steps=5, step_size=0.5)
    assert not step.per_row
    with model:
        idata = _sample(step, draws=1500, tune=300, seed=12, chains=2)
    x = idata.posterior["x"].values
    assert _z_mean(x[..., 0] ** 2, 0.6) < Z
    assert _z_mean(x[..., 1] ** 2, 0.6) < Z
    assert _z_mean(x[..., 0] * x[..., 1], 0.4) < Z


def test_visible_with_a_per_row_likelihood_is_exact():
    """A N(0, 1) visible row observed through y_r ~ N(v_r, 0.5²): v_r | y_r ~ N(0.8 y_r, 0.2)."""
    experts = pymc_ebm.Gaussian(mu=[[0.0]], sigma=[[1.0]])
    y = np.linspace(-2.0, 2.0, 40)
    with pm.Model() as model:
        v = pymc_ebm.visible("v", experts, n_particles=len(y))
        pm.Normal("y", v[:, 0], 0.5, observed=y)
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            step = ShortRunHMC(n_steps=8, step_size=0.3)
    assert step.per_row and step.n_particles == len(y)
    with model:
        idata = _sample(step, draws=500, tune=300, seed=4)
    z = (idata.posterior["v"].values[0, :, :, 0] - 0.8 * y) / np.sqrt(0.2)  # (draws, rows)
    assert _z_mean(z.T, 0.0) < Z
    assert _z_mean(z.T**2, 1.0) < Z


# -- statistics ArviZ reads --------------------------------------------------------
def test_energy_statistic_is_the_hamiltonian_of_the_state(gaussian):
    """After a draw, (q, p) follows target × N(0, I): E[energy + logp] = D / 2."""
    _, _, idata = gaussian
    st = idata.sample_stats
    kinetic = st["energy"].values + st["lp"].values  # lp is PyMC's name for model_logp
    dims = 3 * len(SCALES)
    assert np.all(kinetic > 0)
    assert _z_mean(kinetic, dims / 2) < Z
    assert np.all(st["n_steps"].values == 10)
    assert np.all(st["max_energy_error"].values >= np.abs(st["energy_error"].values) - 1e-12)
    np.testing.assert_allclose(st["step_size_bar"].values, st["step_size"].values)


def test_bfmi_and_energy_plot_work_on_a_trace(gaussian):
    import arviz_plots as azp
    import matplotlib

    matplotlib.use("Agg")
    _, _, idata = gaussian
    bfmi = az.bfmi(idata)["energy"].values
    energy = idata.sample_stats["energy"].values[0]
    by_hand = np.mean(np.diff(energy) ** 2) / np.var(energy)
    assert bfmi.shape == (1,) and bfmi[0] == pytest.approx(by_hand, rel=0.01)
    assert 0.5 < bfmi[0] < 2.5  # an exact Gaussian target mixes its energy well
    summary = pymc_ebm.evaluation.diagnostics.summary(idata)
    assert summary.bfmi_min == pytest.approx(bfmi[0])
    assert "BFMI" in str(summary)
    plot = azp.plot_energy(idata, backend="matplotlib")
    assert plot is not None


def test_sampling_state_round_trip_gives_the_same_draw(gaussian):
    """The state holds the step size and the mass adaptation: restored, the same draws follow."""
    model, _, _ = gaussian
    with model:
        step = ShortRunHMC(n_steps=10, step_size=0.1, rng=5)
    point = model.initial_point()
    for _ in range(45):
        point, _ = step.step(point)  # tuning moves the step size, the mass window fills
    state = step.sampling_state
    np.testing.assert_array_equal(state.mass_adapt.inv_mass, np.ones(3))

    def ten_draws():
        out, current = [], point
        for _ in range(10):  # the first mass update comes after draw 50
            current, [st] = step.step(current)
            out.append((current["x"], st))
        return out

    first = ten_draws()
    adapted = step.inv_mass
    assert not np.allclose(adapted, 1.0)
    step.sampling_state = state
    np.testing.assert_array_equal(step.inv_mass, np.ones(3))
    again = ten_draws()
    for (x1, st1), (x2, st2) in zip(first, again, strict=True):
        np.testing.assert_array_equal(x2, x1)
        assert st2 == st1
    np.testing.assert_array_equal(step.inv_mass, adapted)


# -- diagonal mass matrix ------------------------------------------------------------
SD = np.logspace(-2, 1, 20)  # a badly scaled 20-D Gaussian: sd from 0.01 to 10
N_ROWS = 40


@pytest.fixture(scope="module")
def scaled():
    with pm.Model() as model:
        pm.Normal("x", 0.0, SD, shape=(N_ROWS, 20))
        step = ShortRunHMC(n_steps=10, step_size=0.1, target_accept=TARGET)
        idata = _sample(step, draws=500, tune=500, seed=11)
    return model, step, idata


def _z_variances(idata):
    """|var − truth| / MCSE per coordinate (rows as chains) of x ~ N(0, SD²)."""
    z = np.moveaxis(idata.posterior["x"].values[0] / SD, 1, 0)  # (rows, draws, 20)
    return np.array([_z_mean(z[..., d] ** 2, 1.0) for d in range(20)])


def test_adapted_mass_gives_the_variances_of_a_badly_scaled_target(scaled):
    _, step, idata = scaled
    assert np.all(_z_variances(idata) < Z)
    ratio = step.inv_mass / SD**2  # the adapted M⁻¹ estimates the variances
    assert np.all((ratio > 1 / 1.5) & (ratio < 1.5))
    assert abs(idata.sample_stats["accept"].values.mean() - TARGET) < 0.1


def test_fixed_covariance_scaling_needs_no_tuning(scaled):
    model, _, _ = scaled
    with model:
        step = ShortRunHMC(n_steps=10, step_size=0.3, scaling=SD**2, is_cov=True)
        idata = _sample(step, draws=300, tune=0, seed=12)
    assert not step.mass_adapt.adapt
    np.testing.assert_allclose(step.inv_mass, SD**2)
    assert np.all(_z_variances(idata) < Z)


def test_mass_arguments_follow_pymc(scaled):
    """Precision unless is_cov; PyMC's diagonal potentials are read for their variances."""
    from pymc.step_methods.hmc.quadpotential import QuadPotentialDiag, QuadPotentialDiagAdapt

    model, _, _ = scaled
    with model:
        precision = ShortRunHMC(scaling=SD**-2)
        fixed = ShortRunHMC(potential=QuadPotentialDiag(SD**2))
        adapt = ShortRunHMC(potential=QuadPotentialDiagAdapt(20, np.zeros(20), SD**2, 10))
        forced = ShortRunHMC(scaling=SD**2, is_cov=True, adapt_mass=True)
    for step in (precision, fixed, adapt, forced):
        np.testing.assert_allclose(step.inv_mass, SD**2, rtol=1e-6)
    assert [s.mass_adapt.adapt for s in (precision, fixed, adapt, forced)] == [
        False,
        False,
        True,
        True,
    ]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scaling": np.ones(19)}, "20 elements"),
        ({"scaling": np.ones(N_ROWS * 20)}, "20 elements"),
        ({"scaling": np.ones((20, 20))}, "1-D"),
        ({"scaling": np.r_[0.0, np.ones(19)]}, "positive and finite"),
        ({"scaling": np.r_[-1.0, np.ones(19)], "is_cov": True}, "positive and finite"),
        ({"scaling": np.r_[np.nan, np.ones(19)]}, "positive and finite"),
        ({"scaling": np.r_[np.inf, np.ones(19)], "is_cov": True}, "positive and finite"),
        ({"scaling": "big"}, "scaling"),
        ({"scaling": 1.0}, "1-D"),
        ({"scaling": np.ones(20, dtype=complex)}, "real numbers"),
        ({"scaling": np.ones(20, dtype=bool)}, "real numbers"),
        ({"scaling": [1.0] * 19 + [None]}, "real numbers"),
        ({"potential": "diag19"}, "20 elements"),
        ({"potential": "adapt_nan"}, "positive and finite"),
        ({"scaling": np.ones(20), "potential": "diag"}, "both"),
        ({"potential": "dense"}, "diagonal potentials"),
    ],
)
def test_bad_mass_arguments_raise(scaled, kwargs, match):
    from pymc.step_methods.hmc.quadpotential import (
        QuadPotentialDiag,
        QuadPotentialDiagAdapt,
        QuadPotentialFull,
    )

    model, _, _ = scaled
    potentials = {
        "diag": QuadPotentialDiag(np.ones(20)),
        "dense": QuadPotentialFull(np.eye(20)),
        "diag19": QuadPotentialDiag(np.ones(19)),
        "adapt_nan": QuadPotentialDiagAdapt(20, np.zeros(20), np.r_[np.nan, np.ones(19)], 10),
    }
    if "potential" in kwargs:
        kwargs = {**kwargs, "potential": potentials[kwargs["potential"]]}
    with model, pytest.raises(ValueError, match=match):
        ShortRunHMC(**kwargs)
