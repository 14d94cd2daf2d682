"""Learning with missing inputs: filled-in values kept per row, observed entries untouched."""

import arviz as az
import numpy as np
import pytest

import pymc_ebm
from pymc_ebm.training import ContrastiveDivergence, Minibatch
from pymc_ebm.training.missing_inputs import MissingInputs

Z = 4.0

MU = np.array([[0.0, 1.0, -1.0], [1.0, 2.0, 0.0], [-0.5, 0.0, 1.0]])
SIGMA = np.array([[1.0, 0.5, 2.0], [0.7, 1.5, 1.0], [1.2, 0.8, 0.6]])
# the product of the axis-aligned experts: precision and mean per column
PRECISION = (1.0 / SIGMA**2).sum(axis=0)
MEAN = (MU / SIGMA**2).sum(axis=0) / PRECISION


def experts() -> pymc_ebm.Gaussian:
    return pymc_ebm.Gaussian(MU, SIGMA)


def with_missing(n: int, seed: int, fraction: float = 0.2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = MEAN + rng.standard_normal((n, 3)) / np.sqrt(PRECISION)
    X[rng.random(X.shape) < fraction] = np.nan
    X[np.isnan(X).all(axis=1), 0] = 0.5  # no row entirely missing
    return X


def trainer(missing: str | None = "fill", **kwargs) -> ContrastiveDivergence:
    return ContrastiveDivergence(
        experts(),
        sampler="hmc",
        step_kwargs={"n_steps": 5, "step_size": 0.2},
        batch_size=20,
        learning_rate=0.01,
        missing=missing,
        random_seed=0,
        **kwargs,
    )


@pytest.fixture(scope="module", params=["fill", "hmc"])
def trained(request):
    X = with_missing(60, seed=1)
    cd = trainer(request.param)
    # a fixed step size (early dual averaging may overshoot and reject every row of an update)
    cd.missing_inputs.stop_tuning()
    cd.fit(X, n_updates=4, progressbar=False)
    return cd, X


def test_observed_entries_never_change(trained):
    cd, X = trained
    observed = ~np.isnan(X)
    np.testing.assert_array_equal(cd.filled[observed], X[observed])  # bit for bit
    assert np.all(np.isfinite(cd.filled))
    assert not cd.filled.flags.writeable


def test_filled_values_move_only_in_used_rows(trained):
    cd, X = trained
    batch = next(iter(cd.minibatches(X, 1)))
    assert isinstance(batch, Minibatch)
    np.testing.assert_array_equal(batch.values, X[batch.rows])
    before = cd.filled.copy()
    record = cd.partial_fit(batch)
    after = cd.filled
    unused = np.setdiff1d(np.arange(len(X)), batch.rows)
    np.testing.assert_array_equal(after[unused], before[unused])
    moved = after != before
    mask = np.isnan(X)
    assert not np.any(moved & ~mask)  # observed entries: never
    used = mask[batch.rows]
    if cd.missing == "fill":  # deterministic gradient steps move every filled-in entry
        assert np.all(moved[batch.rows][used])
    else:  # a draw moves the rows it accepts: all their missing entries at once
        row_moved = moved[batch.rows].any(axis=1)
        assert row_moved.any()
        assert np.all(moved[batch.rows][used & row_moved[:, None]])
    change = (after[batch.rows] - before[batch.rows])[used]
    assert record["fill_n_missing"] == used.sum()
    np.testing.assert_allclose(record["fill_move_rms"], np.sqrt(np.mean(change**2)), rtol=1e-12)
    history = cd.history
    assert {"fill_move_rms", "fill_n_missing"} <= set(history.data_vars)
    assert history.attrs["missing"] == cd.missing


def test_fill_steps_descend_the_energy_exactly():
    X = with_missing(20, seed=2, fraction=0.4)
    energy = experts()
    inputs = MissingInputs(
        energy, 20, "fill", {"n_fill_steps": 3, "fill_step_size": 0.05}, np.random.default_rng(0)
    )
    inputs.attach(X)
    rows = np.arange(20)
    start = inputs.filled.copy()
    values, record = inputs.fill(rows)
    mask = np.isnan(X)
    expected = start.copy()
    for _ in range(3):  # ∂E/∂v = precision · (v − mean), per column
        expected = np.where(mask, expected - 0.05 * PRECISION * (expected - MEAN), expected)
    np.testing.assert_allclose(values, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(values[~mask], X[~mask])
    e = energy.energy_fn()
    np.testing.assert_array_less(e(values)[mask.any(axis=1)], e(start)[mask.any(axis=1)])
    np.testing.assert_array_equal(inputs.filled, start)  # not written before commit
    inputs.commit(rows, values)
    np.testing.assert_array_equal(inputs.filled, values)
    assert record["fill_n_missing"] == mask.sum()


def test_hmc_fill_draws_the_known_conditional():
    # Axis-aligned experts: the conditional of a missing entry is its column's
    # Gaussian whatever the observed entries, set far out to catch any leak.
    n, n_warmup, n_draws = 40, 150, 800
    X = np.full((n, 3), 5.0)
    for i in range(n):
        X[i, i % 3] = np.nan
        if i % 4 == 0:
            X[i, (i + 1) % 3] = np.nan
    inputs = MissingInputs(
        experts(), n, "hmc", {"n_steps": 5, "step_size": 0.3}, np.random.default_rng(3)
    )
    inputs.attach(X)
    rows = np.arange(n)
    draws = []
    for t in range(n_warmup + n_draws):
        if t == n_warmup:
            inputs.stop_tuning()
        values, _ = inputs.fill(rows)
        inputs.commit(rows, values)
        if t >= n_warmup:
            draws.append(values)
    draws = np.array(draws)  # (draw, row, column)
    assert np.all(draws[:, ~np.isnan(X)] == 5.0)
    for d in range(3):
        chains = draws[:, np.isnan(X[:, d]), d].T  # (chain = row, draw)
        for series, exact in [(chains, MEAN[d]), ((chains - MEAN[d]) ** 2, 1 / PRECISION[d])]:
            mcse = az.mcse(series, method="mean", chain_axis=0, draw_axis=1)
            assert abs(series.mean() - exact) < Z * mcse, (d, series.mean(), exact, mcse)


def test_cd_with_missing_inputs_recovers_mean_and_sd_of_one_gaussian():
    rng = np.random.default_rng(42)
    truth_mu, truth_sigma = np.array([1.0, -2.0]), np.array([0.5, 2.0])
    X = truth_mu + truth_sigma * rng.standard_normal((4000, 2))
    X[rng.random(X.shape) < 0.1] = np.nan
    X[np.isnan(X).all(axis=1), 0] = truth_mu[0]
    expert = pymc_ebm.Gaussian([[0.0, 0.0]], [[1.0, 1.0]])
    cd = ContrastiveDivergence(
        expert,
        sampler="hmc",
        step_kwargs={"n_steps": 10, "step_size": 0.3},
        batch_size=100,
        learning_rate=0.02,
        optimizer="adam",
        missing="hmc",
        random_seed=1,
    )
    cd.fit(X, n_updates=500, progressbar=False)
    mus, sigmas = [], []
    for batch in cd.minibatches(X, 200):
        cd.partial_fit(batch)
        mus.append(expert.mu.get_value()[0])
        sigmas.append(expert.sigma[0])
    mu_hat, sigma_hat = np.mean(mus, axis=0), np.mean(sigmas, axis=0)
    # The MLE from the observed entries is their mean/sd (columns independent);
    # tolerances as for complete data (tests/test_contrastive_divergence.py).
    assert np.all(np.abs(mu_hat - np.nanmean(X, axis=0)) < 0.1 * truth_sigma), mu_hat
    assert np.all(np.abs(sigma_hat / np.nanstd(X, axis=0) - 1) < 0.1), sigma_hat


@pytest.mark.parametrize(
    ("missing", "missing_kwargs", "match"),
    [
        ("mean", None, "missing must be None or one of"),
        ("fill", {"n_fill_steps": 0}, "n_fill_steps must be a positive integer"),
        ("fill", {"fill_step_size": -0.1}, "fill_step_size must be positive"),
        ("fill", {"n_draws": 2}, "unknown missing_kwargs"),
        ("hmc", {"target_accept": 1.0}, "target_accept must lie in"),
        ("hmc", "fast", "missing_kwargs must be a dict"),
        (None, {"n_fill_steps": 2}, "missing_kwargs needs missing"),
    ],
)
def test_bad_missing_arguments(missing, missing_kwargs, match):
    with pytest.raises(ValueError, match=match):
        trainer(missing, missing_kwargs=missing_kwargs)


def test_bad_data_writes_nothing(trained):
    cd, X = trained
    params, filled, n_updates = cd.energy.get_params(), cd.filled.copy(), len(cd._records)
    all_nan, inf, other = X.copy(), X.copy(), X.copy()
    all_nan[3] = np.nan
    inf[4, 1] = np.inf
    other[~np.isnan(X)] += 1.0
    batch = next(iter(cd.minibatches(X, 1)))
    for bad, match in [
        (all_nan, "every entry missing"),
        (inf, "contains inf"),
        (X[:40], "X must be the training set of the first fit"),
        (other, "X must be the training set of the first fit"),
    ]:
        with pytest.raises(ValueError, match=match):
            cd.fit(bad, n_updates=1, progressbar=False)
    with pytest.raises(ValueError, match="batch is not the rows"):
        cd.partial_fit(batch.values, rows=(batch.rows + 1) % len(X))
    with pytest.raises(ValueError, match="contains NaN"):
        cd.partial_fit(X[:20])  # NaN without rows
    for name, value in cd.energy.get_params().items():
        np.testing.assert_array_equal(value, params[name])
    np.testing.assert_array_equal(cd.filled, filled)
    assert len(cd._records) == n_updates


def test_nan_without_missing_is_refused():
    cd = trainer(None)
    params = cd.energy.get_params()
    X = with_missing(40, seed=4)
    with pytest.raises(ValueError, match="contains NaN or inf .*missing='fill' or 'hmc'"):
        cd.fit(X, n_updates=1, progressbar=False)
    with pytest.raises(ValueError, match="rows is only used with missing"):
        cd.partial_fit(np.zeros((20, 3)), rows=np.arange(20))
    for name, value in cd.energy.get_params().items():
        np.testing.assert_array_equal(value, params[name])
    assert cd.filled is None and cd.history.sizes["update"] == 0


@pytest.mark.parametrize("mode", ["fill", "hmc"])
def test_box_energy_fills_stay_in_the_box(mode):
    energy = pymc_ebm.UniGauss([[0.2, 0.8]], [[0.05, 0.05]], [0.9])
    X = np.random.default_rng(5).uniform(0.1, 0.9, (30, 2))
    X[::2, 0] = np.nan
    X[1::2, 1] = np.nan
    kwargs = {"fill_step_size": 1.0} if mode == "fill" else {"step_size": 0.5}
    inputs = MissingInputs(energy, 30, mode, kwargs, np.random.default_rng(0))
    inputs.attach(X)
    for _ in range(20):  # big steps: the gradient pushes towards the edges
        values, _ = inputs.fill(np.arange(30))
        inputs.commit(np.arange(30), values)
    margin = 1e-6
    assert np.all((inputs.filled >= margin) & (inputs.filled <= 1 - margin))
    np.testing.assert_array_equal(inputs.filled[~np.isnan(X)], X[~np.isnan(X)])
