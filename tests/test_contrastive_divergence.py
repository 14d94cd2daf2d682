import numpy as np
import pytest

import pymc_ebm
from pymc_ebm.training import ContrastiveDivergence, NonFiniteUpdateError


@pytest.fixture(scope="module")
def clusters():
    return pymc_ebm.datasets.grid_clusters(n=200, random_seed=0)


def small_unigauss():
    mu = np.array([[0.3, 0.3], [0.6, 0.6], [0.5, 0.2]])
    return pymc_ebm.UniGauss(mu, np.full((3, 2), 0.2), np.full(3, 0.5))


@pytest.mark.parametrize(
    ("sampler", "step_kwargs"),
    [("nuts", None), ("hmc", {"n_steps": 10, "step_size": 0.3})],
)
def test_cd_recovers_mean_and_variance_of_one_gaussian(sampler, step_kwargs):
    rng = np.random.default_rng(42)
    truth_mu, truth_sigma = np.array([1.0, -2.0]), np.array([0.5, 2.0])
    X = truth_mu + truth_sigma * rng.standard_normal((4000, 2))
    expert = pymc_ebm.Gaussian([[0.0, 0.0]], [[1.0, 1.0]])
    cd = ContrastiveDivergence(
        expert,
        sampler=sampler,
        step_kwargs=step_kwargs,
        k=1,
        batch_size=100,
        learning_rate=0.02,
        optimizer="adam",
        random_seed=1,
    )
    cd.fit(X, n_updates=500, progress=False)
    mus, sigmas = [], []
    for batch in cd.minibatches(X, 200):
        cd.partial_fit(batch)
        mus.append(expert.mu.get_value()[0])
        sigmas.append(expert.sigma[0])
    mu_hat, sigma_hat = np.mean(mus, axis=0), np.mean(sigmas, axis=0)
    # the MLE is the sample mean/std; CD with an exact (NUTS) kernel has it as fixed point
    assert np.all(np.abs(mu_hat - X.mean(axis=0)) < 0.1 * truth_sigma), mu_hat
    assert np.all(np.abs(sigma_hat / X.std(axis=0) - 1) < 0.1), sigma_hat


def test_partial_fit_repeated_equals_fit(clusters):
    a, b = small_unigauss(), small_unigauss()
    cd_a = ContrastiveDivergence(a, batch_size=50, learning_rate=0.05, random_seed=7)
    cd_b = ContrastiveDivergence(b, batch_size=50, learning_rate=0.05, random_seed=7)
    history_a = cd_a.fit(clusters, n_updates=6, progress=False)
    for batch in cd_b.minibatches(clusters, 6):
        cd_b.partial_fit(batch)
    for name, value in a.get_params().items():
        np.testing.assert_array_equal(value, b.get_params()[name])
    np.testing.assert_array_equal(history_a["energy_gap"], cd_b.history["energy_gap"])


def test_same_seed_same_history(clusters):
    histories = []
    for _ in range(2):
        cd = ContrastiveDivergence(
            small_unigauss(), batch_size=50, learning_rate=0.05, k=2, random_seed=3
        )
        histories.append(cd.fit(clusters, n_updates=5, progress=False))
    for key in ["energy_data", "energy_negative", "norm_mu", "stat_active_experts"]:
        np.testing.assert_array_equal(histories[0][key], histories[1][key])
    other = ContrastiveDivergence(
        small_unigauss(), batch_size=50, learning_rate=0.05, k=2, random_seed=4
    ).fit(clusters, n_updates=5, progress=False)
    assert not np.array_equal(other["energy_negative"], histories[0]["energy_negative"])


def test_history_contents(clusters):
    cd = ContrastiveDivergence(small_unigauss(), batch_size=40, learning_rate=0.05, random_seed=0)
    history = cd.fit(clusters, n_updates=4, progress=False)
    assert history.sizes["update"] == 4
    for key in [
        "energy_data",
        "energy_negative",
        "energy_gap",
        "grad_norm",
        "stat_active_experts",
        "norm_mu",
        "norm_log_sigma",
        "norm_logit_pi",
    ]:
        assert key in history
    np.testing.assert_allclose(
        history["energy_gap"], history["energy_negative"] - history["energy_data"]
    )


def test_persistent_chains_continue_between_updates(clusters):
    cd = ContrastiveDivergence(
        small_unigauss(), batch_size=40, learning_rate=1e-3, persistent=True, random_seed=0
    )
    cd.fit(clusters, n_updates=1, progress=False)
    chains = cd._chains.copy()
    start_points = []
    original_run = cd.negative_phase.run

    def spy(start, k):
        start_points.append(np.array(start))
        return original_run(start, k)

    cd.negative_phase.run = spy
    cd.fit(clusters, n_updates=1, progress=False)
    np.testing.assert_array_equal(start_points[0], chains)


def test_trained_energy_round_trips(tmp_path, clusters):
    energy = small_unigauss()
    ContrastiveDivergence(energy, batch_size=50, learning_rate=0.05, random_seed=0).fit(
        clusters, n_updates=5, progress=False
    )
    pymc_ebm.save(energy, tmp_path / "experts.npz")
    loaded = pymc_ebm.load(tmp_path / "experts.npz")
    points = clusters[:20]
    np.testing.assert_allclose(loaded.energy_fn()(points), energy.energy_fn()(points), rtol=1e-10)


def test_non_finite_update_keeps_last_good_parameters(clusters):
    energy = small_unigauss()
    cd = ContrastiveDivergence(energy, batch_size=40, learning_rate=0.05, random_seed=0)
    cd.fit(clusters, n_updates=2, progress=False)
    good = energy.get_params()
    original_run = cd.negative_phase.run

    def diverging(start, k):
        negatives, stats = original_run(start, k)
        negatives[0, 0] = np.nan
        return negatives, stats

    cd.negative_phase.run = diverging
    with pytest.raises(NonFiniteUpdateError, match="last good update"):
        cd.fit(clusters, n_updates=3, progress=False)
    for name, value in good.items():
        np.testing.assert_array_equal(energy.get_params()[name], value)
    assert cd.history.sizes["update"] == 2


def test_keyboard_interrupt_keeps_finished_updates(clusters):
    cd = ContrastiveDivergence(small_unigauss(), batch_size=40, learning_rate=0.05, random_seed=0)
    original_run = cd.negative_phase.run
    calls = []

    def interrupt_third(start, k):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original_run(start, k)

    cd.negative_phase.run = interrupt_third
    with pytest.warns(RuntimeWarning, match="interrupted"):
        history = cd.fit(clusters, n_updates=10, progress=False)
    assert history.sizes["update"] == 2
    assert np.isfinite(history["norm_mu"]).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 0}, "k must be a positive integer"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"learning_rate": 0.0}, "learning_rate must be positive"),
        ({"learning_rate": -1.0}, "learning_rate must be positive"),
        ({"sampler": "metropolis"}, "sampler must be one of"),
        ({"weight_decay": -0.1}, "weight_decay must be non-negative"),
        ({"optimizer": "rmsprop"}, "optimizer must be"),
    ],
)
def test_bad_settings_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ContrastiveDivergence(small_unigauss(), **kwargs)


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.full((60, 3), 0.5), r"shape \(n, 2\)"),
        (np.where(np.eye(60, 2) > 0, np.nan, 0.5), "NaN or inf"),
        (np.where(np.eye(60, 2) > 0, np.inf, 0.5), "NaN or inf"),
        (np.full((60, 2), 1.5), "outside the energy's box"),
        (np.full((10, 2), 0.5), "fewer than batch_size"),
    ],
)
def test_bad_data_raise(X, message):
    cd = ContrastiveDivergence(small_unigauss(), batch_size=50, random_seed=0)
    with pytest.raises(ValueError, match=message):
        cd.fit(X, n_updates=1, progress=False)


def test_partial_fit_checks_batch_rows(clusters):
    cd = ContrastiveDivergence(small_unigauss(), batch_size=50, random_seed=0)
    with pytest.raises(ValueError, match="batch must have 50 rows"):
        cd.partial_fit(clusters[:10])


def test_hmc_negative_phase_records_acceptance_and_step_size():
    X = pymc_ebm.datasets.four_squares(n=200, random_seed=0)
    net = pymc_ebm.MLPEnergy(2, hidden=(6,), box=(-2.0, 2.0), random_seed=0)
    cd = ContrastiveDivergence(
        net,
        sampler="hmc",
        batch_size=50,
        learning_rate=0.01,
        optimizer="adam",
        step_kwargs={"n_steps": 6, "step_size": 0.2},
        random_seed=0,
    )
    history = cd.fit(X, n_updates=30, progress=False)
    accept = history["stat_accept"].values
    assert np.all((accept >= 0) & (accept <= 1))
    # the step size is adapted towards the target acceptance while training
    assert history["stat_step_size"].values[-1] != pytest.approx(0.2)


def test_online_hmc_procedure_with_momentum_renewal_and_persistent_chains():
    X = pymc_ebm.datasets.four_squares(n=200, random_seed=0)
    net = pymc_ebm.MLPEnergy(2, hidden=(6,), box=(-2.0, 2.0), random_seed=0)
    cd = ContrastiveDivergence(
        net,
        sampler="hmc",
        batch_size=50,
        persistent=True,
        step_kwargs={"n_steps": 12, "renew_momentum": 4},
        random_seed=0,
    )
    history = cd.fit(X, n_updates=5, progress=False)
    assert history.sizes["update"] == 5
    assert np.isfinite(history["energy_negative"]).all()
