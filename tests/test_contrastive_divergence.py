import numpy as np
import pytensor
import pytest
from pymc.step_methods.step_sizes import DualAverageAdaptation

import pymc_ebm
from pymc_ebm.step_methods.step_size import WarmDualAverageAdaptation
from pymc_ebm.training import SGD, Adam, ContrastiveDivergence, NonFiniteUpdateError
from pymc_ebm.training.optimizers import make_optimizer


@pytest.fixture(scope="module")
def clusters():
    return pymc_ebm.datasets.grid_clusters(n=200, random_seed=0)


def make_negatives_non_finite(cd):
    """From now on, the trainer's negative phase returns a NaN: every update is refused."""
    original_run = cd.negative_phase.run

    def diverging(start, k):
        negatives, stats = original_run(start, k)
        negatives[0, 0] = np.nan
        return negatives, stats

    cd.negative_phase.run = diverging


def small_unigauss():
    mu = np.array([[0.3, 0.3], [0.6, 0.6], [0.5, 0.2]])
    return pymc_ebm.UniGauss(mu, np.full((3, 2), 0.2), np.full(3, 0.5))


@pytest.mark.jax
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
    cd.fit(X, n_updates=500, progressbar=False)
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
    history_a = cd_a.fit(clusters, n_updates=6, progressbar=False)
    for batch in cd_b.minibatches(clusters, 6):
        cd_b.partial_fit(batch)
    for name, value in a.get_params().items():
        np.testing.assert_array_equal(value, b.get_params()[name])
    np.testing.assert_array_equal(history_a["energy_gap"], cd_b.history["energy_gap"])


@pytest.mark.jax
def test_same_seed_same_history(clusters):
    histories = []
    for _ in range(2):
        cd = ContrastiveDivergence(
            small_unigauss(), batch_size=50, learning_rate=0.05, k=2, random_seed=3
        )
        histories.append(cd.fit(clusters, n_updates=5, progressbar=False))
    for key in ["energy_data", "energy_negative", "norm_mu", "stat_active_experts"]:
        np.testing.assert_array_equal(histories[0][key], histories[1][key])
    other = ContrastiveDivergence(
        small_unigauss(), batch_size=50, learning_rate=0.05, k=2, random_seed=4
    ).fit(clusters, n_updates=5, progressbar=False)
    assert not np.array_equal(other["energy_negative"], histories[0]["energy_negative"])


def test_history_contents(clusters):
    energy = small_unigauss()
    cd = ContrastiveDivergence(energy, batch_size=40, learning_rate=0.05, random_seed=0)
    history = cd.fit(clusters, n_updates=4, progressbar=False)
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
    for name, value in energy.get_params().items():
        assert history[f"norm_{name}"].values[-1] == np.linalg.norm(value)


def test_persistent_chains_continue_between_updates(clusters):
    cd = ContrastiveDivergence(
        small_unigauss(), batch_size=40, learning_rate=1e-3, persistent=True, random_seed=0
    )
    cd.fit(clusters, n_updates=1, progressbar=False)
    chains = cd._chains.copy()
    start_points = []
    original_run = cd.negative_phase.run

    def spy(start, k):
        start_points.append(np.array(start))
        return original_run(start, k)

    cd.negative_phase.run = spy
    cd.fit(clusters, n_updates=1, progressbar=False)
    np.testing.assert_array_equal(start_points[0], chains)


def test_trained_energy_round_trips(tmp_path, clusters):
    energy = small_unigauss()
    ContrastiveDivergence(energy, batch_size=50, learning_rate=0.05, random_seed=0).fit(
        clusters, n_updates=5, progressbar=False
    )
    pymc_ebm.save(energy, tmp_path / "experts.npz")
    loaded = pymc_ebm.load(tmp_path / "experts.npz")
    points = clusters[:20]
    np.testing.assert_allclose(loaded.energy_fn()(points), energy.energy_fn()(points), rtol=1e-10)


def test_non_finite_update_keeps_last_good_parameters(clusters):
    energy = small_unigauss()
    cd = ContrastiveDivergence(energy, batch_size=40, learning_rate=0.05, random_seed=0)
    cd.fit(clusters, n_updates=2, progressbar=False)
    good = energy.get_params()
    make_negatives_non_finite(cd)
    with pytest.raises(NonFiniteUpdateError, match="last good update"):
        cd.fit(clusters, n_updates=3, progressbar=False)
    for name, value in good.items():
        np.testing.assert_array_equal(energy.get_params()[name], value)
    assert cd.history.sizes["update"] == 2


def test_a_non_finite_negative_energy_is_named(clusters):
    cd = ContrastiveDivergence(small_unigauss(), batch_size=40, learning_rate=0.05, random_seed=0)
    cd.fit(clusters, n_updates=2, progressbar=False)
    make_negatives_non_finite(cd)
    with pytest.raises(NonFiniteUpdateError, match="^update 2 gave a non-finite negative energy"):
        cd.fit(clusters, n_updates=1, progressbar=False)


@pytest.mark.parametrize(
    ("mode_jumps", "fast_path"), [(False, True), (False, False), (True, True)]
)
def test_jump_accept_is_recorded_only_when_jumps_run(clusters, mode_jumps, fast_path):
    cd = ContrastiveDivergence(
        small_unigauss(),
        batch_size=40,
        learning_rate=0.05,
        step_kwargs={"mode_jumps": mode_jumps},
        fast_path=fast_path,
        random_seed=0,
    )
    history = cd.fit(clusters, n_updates=3, progressbar=False)
    assert ("stat_jump_accept" in history) == mode_jumps
    if mode_jumps:
        assert np.all((history["stat_jump_accept"] >= 0) & (history["stat_jump_accept"] <= 1))
    assert np.all(np.isfinite(history["stat_active_experts"]))


def test_keyboard_interrupt_keeps_finished_updates(clusters):
    energy = small_unigauss()
    cd = ContrastiveDivergence(energy, batch_size=40, learning_rate=0.05, random_seed=0)
    original_run = cd.negative_phase.run
    calls = []

    def interrupt_third(start, k):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original_run(start, k)

    cd.negative_phase.run = interrupt_third
    with pytest.warns(RuntimeWarning, match="interrupted"):
        history = cd.fit(clusters, n_updates=10, progressbar=False)
    assert history.sizes["update"] == 2
    # the parameters are those of two finished updates: as a trainer that stopped there
    reference = small_unigauss()
    ContrastiveDivergence(reference, batch_size=40, learning_rate=0.05, random_seed=0).fit(
        clusters, n_updates=2, progressbar=False
    )
    for name, value in reference.get_params().items():
        np.testing.assert_array_equal(energy.get_params()[name], value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": 0}, "k must be a positive integer"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"learning_rate": 0.0}, "learning_rate must be positive"),
        ({"learning_rate": -1.0}, "learning_rate must be positive"),
        ({"sampler": "metropolis"}, "sampler must be one of"),
        ({"weight_decay": -0.1}, "weight_decay must be non-negative"),
        ({"weight_decay": np.nan}, "weight_decay must be non-negative and finite"),
        ({"momentum": 1.0}, r"momentum must lie in \[0, 1\), got 1.0"),
        ({"momentum": -0.1, "optimizer": "adam"}, r"momentum must lie in \[0, 1\)"),
        ({"learning_rate": np.inf}, "learning_rate must be positive and finite"),
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
        cd.fit(X, n_updates=1, progressbar=False)


def test_partial_fit_checks_batch_rows(clusters):
    cd = ContrastiveDivergence(small_unigauss(), batch_size=50, random_seed=0)
    with pytest.raises(ValueError, match="batch must have 50 rows"):
        cd.partial_fit(clusters[:10])


@pytest.mark.parametrize("find_step_size", [True, False])
def test_hmc_negative_phase_records_acceptance_and_step_size(find_step_size):
    X = pymc_ebm.datasets.four_squares(n=200, random_seed=0)
    net = pymc_ebm.MLPEnergy(2, hidden=(6,), box=(-2.0, 2.0), random_seed=0)
    cd = ContrastiveDivergence(
        net,
        sampler="hmc",
        batch_size=50,
        learning_rate=0.01,
        optimizer="adam",
        step_kwargs={"n_steps": 6, "step_size": 0.2, "find_step_size": find_step_size},
        random_seed=0,
    )
    history = cd.fit(X, n_updates=30, progressbar=False)
    accept = history["stat_accept"].values
    assert np.all((accept >= 0) & (accept <= 1))
    _check_dual_averaging(history, initial_step=0.2, target=0.65, warm=find_step_size)


def _check_dual_averaging(history, initial_step, target, warm=True):
    """The recorded step sizes follow PyMC's dual averaging (ShortRunHMC's settings) on the
    recorded acceptances, update after update: one step method keeps adapting across the
    trainer's updates. Warm (``find_step_size=True``, the default): the first step size is
    the searched one (``initial_step`` doubled or halved) and the averaging is shrunk
    towards it; otherwise it starts at ``initial_step``, shrunk towards 10 times it."""
    step_sizes = history["stat_step_size"].values
    if warm:
        doublings = np.log2(step_sizes[0] / initial_step)
        assert doublings == pytest.approx(round(doublings), abs=1e-9)
        initial_step = step_sizes[0]
    cls = WarmDualAverageAdaptation if warm else DualAverageAdaptation
    adapt = cls(initial_step, target, gamma=0.05, k=0.75, t0=10.0)
    for step_size, accept in zip(step_sizes, history["stat_accept"].values, strict=True):
        assert step_size == pytest.approx(float(adapt.current(True)), rel=1e-12)
        adapt.update(accept, True)
    assert history["stat_step_size"].values[-1] != initial_step


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
    history = cd.fit(X, n_updates=5, progressbar=False)
    assert history.sizes["update"] == 5
    _check_dual_averaging(history, initial_step=0.1, target=0.65)  # ShortRunHMC's defaults


# -- weight decay ----------------------------------------------------------------
class StayingStep:
    """A step method that never moves: the negatives are the data, the learning signal 0."""

    def __init__(self, model):
        self.model = model

    def setup_chain(self, rng, tune, draws):
        pass

    def step(self, point):
        return point, []

    def stop_tuning(self):
        pass


def test_decayed_params_are_weights_only():
    gauss = pymc_ebm.Gaussian(np.zeros((1, 2)), np.ones((1, 2)))
    student = pymc_ebm.StudentT(np.eye(2), [1.0, 1.0])
    assert gauss.decayed_params == []
    assert small_unigauss().decayed_params == []
    assert pymc_ebm.Mixture([gauss]).decayed_params == []
    assert student.decayed_params == ["W"]
    assert (gauss * student).decayed_params == ["1.W"]


def test_weight_decay_shrinks_student_t_filters_by_the_sgd_factor():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(3, 2))
    student = pymc_ebm.StudentT(W, [1.0, 2.0, 3.0])
    gauss = pymc_ebm.Gaussian([[0.5, -0.5]], [[2.0, 3.0]])
    energy = student * gauss
    before = energy.get_params()
    lr, decay = 0.1, 0.5
    cd = ContrastiveDivergence(
        energy,
        sampler=StayingStep,
        batch_size=10,
        learning_rate=lr,
        momentum=0.0,
        weight_decay=decay,
        random_seed=0,
    )
    record = cd.partial_fit(rng.normal(size=(10, 2)))
    assert record["energy_gap"] == 0.0  # the negatives are the data
    after = energy.get_params()
    # SGD on the decay term alone: W ← W - lr · decay · W
    np.testing.assert_allclose(after["0.W"], (1 - lr * decay) * W, rtol=1e-14)
    for name in ["0.log_alpha", "1.mu", "1.log_sigma"]:
        np.testing.assert_array_equal(after[name], before[name])


@pytest.mark.parametrize(
    ("build", "sampler"),
    [
        (small_unigauss, "gibbs"),
        (lambda: pymc_ebm.Mixture([small_unigauss()], weights=[0.2, 0.3, 0.5]), "hmc"),
    ],
)
def test_weight_decay_leaves_locations_scales_and_proportions_alone(build, sampler, clusters):
    """Training with and without weight decay gives the same parameters, bit for bit."""
    params = []
    for decay in [0.0, 0.5]:
        energy = build()
        cd = ContrastiveDivergence(
            energy,
            sampler=sampler,
            batch_size=40,
            learning_rate=0.05,
            weight_decay=decay,
            random_seed=0,
        )
        cd.fit(clusters, n_updates=3, progressbar=False)
        params.append(energy.get_params())
    for name, value in params[0].items():
        np.testing.assert_array_equal(params[1][name], value, err_msg=name)


# -- optimisers --------------------------------------------------------------------
def _quadratic_steps(optimizer, n_steps, theta0=(1.0, -2.0), centre=(0.5, 0.5)):
    """Parameter values after each of ``n_steps`` steps on ½|θ - c|² (gradient θ - c)."""
    theta = pytensor.shared(np.array(theta0), name="theta")
    params, state = optimizer.updates([theta], [theta - np.array(centre)])
    step = pytensor.function([], [], updates=params + state)
    values = []
    for _ in range(n_steps):
        step()
        values.append(theta.get_value().copy())
    return values


@pytest.mark.jax
def test_sgd_with_momentum_steps_match_closed_form():
    lr, m = 0.1, 0.9
    theta0, c = np.array([1.0, -2.0]), np.array([0.5, 0.5])
    first, second = _quadratic_steps(SGD(lr, momentum=m), 2)
    u1 = -lr * (theta0 - c)
    np.testing.assert_allclose(first, theta0 + u1, rtol=1e-14)
    u2 = m * u1 - lr * (first - c)
    np.testing.assert_allclose(second, first + u2, rtol=1e-14)
    (plain,) = _quadratic_steps(SGD(lr), 1)
    np.testing.assert_allclose(plain, theta0 - lr * (theta0 - c), rtol=1e-14)


def _adam_closed_form(lr, beta1, beta2, eps, theta0, c, n_steps):
    theta, m, v, out = np.array(theta0), 0.0, 0.0, []
    for t in range(1, n_steps + 1):
        g = theta - c
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        theta = theta - lr * np.sqrt(1 - beta2**t) / (1 - beta1**t) * m / (np.sqrt(v) + eps)
        out.append(theta)
    return out


@pytest.mark.parametrize("momentum", [0.9, 0.0])
def test_adam_steps_match_closed_form_with_momentum_as_beta1(momentum):
    """``optimizer="adam"`` takes ``momentum`` as beta1, 0.0 included."""
    lr, theta0, c = 0.1, np.array([1.0, -2.0]), np.array([0.5, 0.5])
    optimizer = make_optimizer("adam", lr, momentum)
    assert optimizer.beta1 == momentum
    got = _quadratic_steps(optimizer, 3)
    expected = _adam_closed_form(lr, momentum, 0.999, 1e-8, theta0, c, 3)
    np.testing.assert_allclose(got, expected, rtol=1e-13)
    # β1 = 0 and β1 = 0.9 part from the second step on
    other = _adam_closed_form(lr, 0.9 - momentum, 0.999, 1e-8, theta0, c, 3)
    assert np.max(np.abs(np.array(other[1:]) - np.array(expected[1:]))) > 1e-3


def test_trainer_adam_momentum_zero_is_beta1_zero():
    cd = ContrastiveDivergence(small_unigauss(), optimizer="adam", momentum=0.0)
    assert isinstance(cd.optimizer, Adam)
    assert cd.optimizer.beta1 == 0.0


def test_optimizer_reset_restarts_from_a_first_step():
    optimizer = Adam(0.1)
    theta = pytensor.shared(np.array([1.0, -2.0]))
    params, state = optimizer.updates([theta], [theta - 0.5])
    step = pytensor.function([], [], updates=params + state)
    step()
    step()
    assert len(optimizer.state) == 3  # first and second moments, step count
    optimizer.reset()
    for shared in optimizer.state:
        np.testing.assert_array_equal(shared.get_value(), 0.0)
    before = theta.get_value().copy()
    step()
    (fresh,) = _quadratic_steps(Adam(0.1), 1, theta0=before)
    np.testing.assert_array_equal(theta.get_value(), fresh)


def test_non_finite_update_keeps_optimizer_state(clusters):
    energy = small_unigauss()
    cd = ContrastiveDivergence(
        energy, batch_size=40, learning_rate=0.05, optimizer="adam", random_seed=0
    )
    cd.fit(clusters, n_updates=2, progressbar=False)
    state = [s.get_value().copy() for s in cd.optimizer.state]
    assert float(max(np.max(np.abs(s)) for s in state)) > 0
    make_negatives_non_finite(cd)
    with pytest.raises(NonFiniteUpdateError):
        cd.partial_fit(clusters[:40])
    for old, shared in zip(state, cd.optimizer.state, strict=True):
        np.testing.assert_array_equal(shared.get_value(), old)


# -- given negatives ----------------------------------------------------------------
@pytest.mark.jax
def test_partial_fit_with_given_negatives_is_one_sgd_step():
    """One Gaussian expert: ∂E/∂μ = -(v - μ)/σ², so μ moves by lr (mean(d) - mean(c)) / σ²."""
    rng = np.random.default_rng(5)
    mu, sigma, lr = np.array([[0.5, -1.0]]), np.array([[2.0, 0.5]]), 0.1
    expert = pymc_ebm.Gaussian(mu, sigma)
    cd = ContrastiveDivergence(
        expert, sampler="hmc", batch_size=20, learning_rate=lr, momentum=0.0, persistent=True
    )
    data, negatives = rng.normal(size=(20, 2)), rng.normal(size=(20, 2)) + 1.0
    cd.partial_fit(data, negatives)
    expected = mu + lr * (data.mean(0) - negatives.mean(0)) / sigma**2
    np.testing.assert_allclose(expert.mu.get_value(), expected, rtol=1e-13)
    with pytest.raises(ValueError, match="negatives must have 20 rows"):
        cd.partial_fit(data, negatives[:5])


# -- the two paths of the negative phase ----------------------------------------------
def test_fast_and_generic_negative_phases_draw_the_same_negatives(clusters):
    energy = small_unigauss()
    fast, generic = (
        ContrastiveDivergence(energy, batch_size=40, random_seed=11, fast_path=flag)
        for flag in (True, False)
    )
    assert fast.negative_phase.fast_path and not generic.negative_phase.fast_path
    start = clusters[:40]
    neg_fast, stats_fast = fast.negative_phase.run(start, 3)
    neg_generic, stats_generic = generic.negative_phase.run(start, 3)
    # identical draws; the generic path goes through the interval transform and back
    np.testing.assert_allclose(neg_generic, neg_fast, rtol=1e-12, atol=1e-14)
    assert stats_generic["active_experts"] == stats_fast["active_experts"]
    assert not np.allclose(neg_fast, start)
    hmc = ContrastiveDivergence(energy, sampler="hmc", batch_size=40, fast_path=True)
    assert not hmc.negative_phase.fast_path


def test_float32_trainer_updates_the_same_outside_its_floatx():
    """A trainer built under floatX=float32 casts data to float32 whatever floatX is later.

    Two identical trainers (same seed) make one update on the same batch, one inside
    ``change_flags(floatX="float32")`` and one outside it: the filters must be equal
    (before the fix, the outside call cast the batch to float64 and failed to type).
    """

    def make():
        with pytensor.config.change_flags(floatX="float32"):
            energy = pymc_ebm.StudentT(np.eye(3) + 0.1, np.full(3, 1.5))
            cd = pymc_ebm.ContrastiveDivergence(
                energy, sampler="hmc", batch_size=10, random_seed=0, step_kwargs={"n_steps": 5}
            )
        return energy, cd

    X = np.random.default_rng(0).standard_t(3, size=(10, 3))
    inside, inside_cd = make()
    outside, outside_cd = make()
    with pytensor.config.change_flags(floatX="float32"):
        inside_cd.partial_fit(X)
    outside_cd.partial_fit(X)
    assert outside.W.get_value().dtype == np.float32
    np.testing.assert_array_equal(outside.W.get_value(), inside.W.get_value())
    assert not np.array_equal(outside.W.get_value(), (np.eye(3) + 0.1).astype(np.float32))


def test_average_from_is_the_running_mean_of_the_parameters_after_each_update(clusters):
    energy = small_unigauss()
    cd = ContrastiveDivergence(
        energy, batch_size=40, learning_rate=0.05, average_from=3, random_seed=0
    )
    snapshots = []
    for batch in cd.minibatches(clusters, 8):
        cd.partial_fit(batch)
        snapshots.append(energy.get_params())
    assert cd.n_averaged == 5
    for name in energy.param_names:
        expected = np.mean([snap[name] for snap in snapshots[3:]], axis=0)
        np.testing.assert_allclose(cd.averaged_params[name], expected, rtol=1e-12, atol=1e-15)
    # averaging watches the training, it does not steer it
    plain = small_unigauss()
    ContrastiveDivergence(plain, batch_size=40, learning_rate=0.05, random_seed=0).fit(
        clusters, n_updates=8, progressbar=False
    )
    for name, value in plain.get_params().items():
        np.testing.assert_array_equal(energy.get_params()[name], value)
    cd.use_average()
    for name, value in energy.get_params().items():
        np.testing.assert_allclose(value, cd.averaged_params[name].astype(value.dtype))


def test_failed_update_is_not_averaged(clusters):
    energy = small_unigauss()
    cd = ContrastiveDivergence(
        energy, batch_size=40, learning_rate=0.05, average_from=0, random_seed=0
    )
    cd.fit(clusters, n_updates=2, progressbar=False)
    averaged = {name: value.copy() for name, value in cd.averaged_params.items()}
    make_negatives_non_finite(cd)
    with pytest.raises(NonFiniteUpdateError):
        cd.fit(clusters, n_updates=1, progressbar=False)
    assert cd.n_averaged == 2
    for name, value in averaged.items():
        np.testing.assert_array_equal(cd.averaged_params[name], value)


@pytest.mark.parametrize("average_from", [-1, 1.5, True, "10"])
def test_bad_average_from_raises(average_from):
    with pytest.raises(ValueError, match="average_from must be a non-negative integer"):
        ContrastiveDivergence(small_unigauss(), average_from=average_from)


def test_use_average_without_an_average_raises(clusters):
    cd = ContrastiveDivergence(small_unigauss(), batch_size=40, random_seed=0)
    with pytest.raises(ValueError, match="no average_from"):
        cd.use_average()
    cd = ContrastiveDivergence(small_unigauss(), batch_size=40, average_from=5, random_seed=0)
    cd.fit(clusters, n_updates=2, progressbar=False)
    before = cd.energy.get_params()
    with pytest.raises(ValueError, match="averaging starts at update 5, 2 done"):
        cd.use_average()
    for name, value in before.items():
        np.testing.assert_array_equal(cd.energy.get_params()[name], value)
