"""FASConstraints against known answers: NumPy, finite differences, the hand-set arm network."""

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
import pytest
from scipy import stats

import pymc_ebm
from pymc_ebm import FASConstraints, Gaussian
from pymc_ebm.datasets import arm, link_lengths
from pymc_ebm.evaluation.quadrature import grid_density

RNG_SEED = 20240903
KS_ALPHA = 0.01  # family-wise level of one test function's KS tests (Bonferroni)
SAMPLE_KWARGS = {"cores": 1, "progressbar": False, "compute_convergence_checks": False}


def numpy_energy(v, W, U, b, alpha):
    """E(v) = Σ_k α_k log(1 + ½ c_k²), c = (v Wᵀ)² Uᵀ + b, shape (n,)."""
    c = (v @ W.T) ** 2 @ U.T + b
    return np.log1p(0.5 * c**2) @ alpha


def random_network(rng, dim=5, n_filters=4, n_units=3):
    W = rng.normal(size=(n_filters, dim))
    U = rng.normal(size=(n_units, n_filters))
    b = rng.normal(size=n_units)
    alpha = rng.uniform(0.5, 2.0, size=n_units)
    return W, U, b, alpha


def difference_operator(link, n_links=4):
    """D_l, shape (3, 3 (n_links + 1)): D_l v = joint l+1 − joint l."""
    D = np.zeros((3, 3 * (n_links + 1)))
    D[:, 3 * link : 3 * link + 3] = -np.eye(3)
    D[:, 3 * link + 3 : 3 * link + 6] = np.eye(3)
    return D


def arm_network(lengths, alpha=1.0):
    """The true constraints by hand: filters Δx, Δy, Δz of each link, one unit per link."""
    n_links = len(lengths)
    W = np.vstack([difference_operator(link, n_links) for link in range(n_links)])
    U = np.kron(np.eye(n_links), np.ones((1, 3)))
    return FASConstraints(W, U, -(np.asarray(lengths) ** 2), np.full(n_links, alpha))


# -- the energy and its gradients --------------------------------------------------
@pytest.mark.parametrize("learn_alpha", [True, False])
def test_energy_matches_numpy(learn_alpha):
    rng = np.random.default_rng(RNG_SEED)
    W, U, b, alpha = random_network(rng)
    net = FASConstraints(W, U, b, alpha, learn_alpha=learn_alpha)
    v = rng.normal(size=(20, 5))
    np.testing.assert_allclose(net.energy_fn()(v), numpy_energy(v, W, U, b, alpha), rtol=1e-12)
    np.testing.assert_allclose(net.alpha, alpha, rtol=1e-14)
    expected_names = ["W", "U", "b", "log_alpha"] if learn_alpha else ["W", "U", "b"]
    assert net.param_names == expected_names


def test_gradients_match_finite_differences():
    with pytensor.config.change_flags(floatX="float64"):
        rng = np.random.default_rng(RNG_SEED + 1)
        net = FASConstraints(*random_network(rng))
        v_value = 0.7 * rng.normal(size=(6, 5))
        v = pt.matrix("v")
        total = pt.sum(net.energy(v))
        grads = pytensor.function([v], pt.grad(total, [v, *net.params]))(v_value)
        energy_sum = pytensor.function([v], total)
        h = 1e-6

        def central(set_value, value):
            numeric = np.zeros_like(value)
            for index in np.ndindex(value.shape):
                up, down = value.copy(), value.copy()
                up[index] += h
                down[index] -= h
                numeric[index] = (set_value(up) - set_value(down)) / (2 * h)
            set_value(value)
            return numeric

        np.testing.assert_allclose(
            grads[0], central(energy_sum, v_value), rtol=1e-6, atol=1e-8, err_msg="v"
        )
        for name, shared, grad in zip(net.param_names, net.params, grads[1:], strict=True):

            def with_param(value, shared=shared):
                shared.set_value(value)
                return energy_sum(v_value)

            numeric = central(with_param, shared.get_value())
            np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8, err_msg=name)


# -- the arm: the true constraints set by hand --------------------------------------
def test_true_arms_have_zero_energy_and_stretched_links_cost_exactly():
    X, lengths = arm(n=200, random_seed=RNG_SEED)
    net = arm_network(lengths, alpha=1.5)
    energy = net.energy_fn()
    true_energy = energy(X)
    np.testing.assert_allclose(true_energy, 0.0, atol=1e-20)

    joints = X.reshape(200, 5, 3).copy()
    stretched = np.arange(200) % 4  # each arm gets one link 10% longer
    rows = np.arange(200)
    step = joints[rows, stretched + 1] - joints[rows, stretched]
    after = np.arange(5)[None, :] > stretched[:, None]  # joints beyond the stretched link
    joints += 0.1 * after[:, :, None] * step[:, None, :]
    perturbed = joints.reshape(200, 15)
    new_lengths = link_lengths(perturbed)
    np.testing.assert_allclose(new_lengths[rows, stretched], 1.1 * lengths[stretched])
    others = np.ones((200, 4), bool)
    others[rows, stretched] = False
    np.testing.assert_allclose(new_lengths[others], np.tile(lengths, (200, 1))[others])

    perturbed_energy = energy(perturbed)
    violation = (1.1**2 - 1) * lengths[stretched] ** 2
    np.testing.assert_allclose(perturbed_energy, 1.5 * np.log1p(0.5 * violation**2), rtol=1e-10)
    assert np.all(perturbed_energy > true_energy)


def test_quadratic_forms_of_the_arm_network_are_the_link_operators():
    net = arm_network(np.array([1.2, 0.9, 1.4, 0.6]))
    forms = net.quadratic_forms()
    assert forms.shape == (4, 15, 15)
    for link in range(4):
        D = difference_operator(link)
        np.testing.assert_array_equal(forms[link], D.T @ D)
    # c_k(v) = vᵀ M_k v + b_k on random inputs
    v = np.random.default_rng(RNG_SEED).normal(size=(7, 15))
    c = np.einsum("na,kab,nb->nk", v, forms, v) + net.b.get_value()
    np.testing.assert_allclose(
        pytensor.function([(x := pt.matrix("x"))], net.constraint_outputs(x))(v), c, rtol=1e-12
    )


# -- normalisability with a confining Gaussian ---------------------------------------
def test_arm_network_times_gaussian_samples_stay_finite():
    _, lengths = arm(n=1, random_seed=0)
    energy = arm_network(lengths) * Gaussian(np.zeros((1, 15)), 3 * np.ones((1, 15)))
    idata = pymc_ebm.sample_fantasies(
        energy, draws=200, tune=200, chains=2, n_particles=2, random_seed=3, **SAMPLE_KWARGS
    )
    assert "tree_depth" in idata.sample_stats  # NUTS
    draws = idata.posterior["v"].values
    assert np.all(np.isfinite(draws))
    assert np.abs(draws).max() < 30  # 10 standard deviations of the Gaussian


def thinned(chains):
    """Pool draws of shape (chain, draw) after thinning by ⌈draws / ESS⌉ (roughly independent)."""
    import arviz as az

    ess = min(az.ess(chains, method="bulk"), az.ess(chains, method="tail", prob=(0.05, 0.95)))
    step = max(1, int(np.ceil(chains.shape[1] / (ess / chains.shape[0]))))
    return chains[:, ::step].ravel()


def test_two_dimensional_toy_matches_quadrature():
    """One filter, one unit: two parallel valleys w · v = ±1, confined by N(0, 3² I).

    The filter is nearly along x, so that the x marginal shows the valleys: these KS
    tests reject the same draws against the quadrature of ``alpha = 1`` (p ~ 1e-6),
    whereas with the filter (1, 0.5) the Gaussian's spread hides the difference.
    """
    toy = FASConstraints(W=[[1.0, 0.2]], U=[[1.0]], b=[-1.0], alpha=[2.0])
    energy = toy * Gaussian(np.zeros((1, 2)), 3 * np.ones((1, 2)))
    grid = grid_density(energy, -14.0, 14.0, n_points=800)
    idata = pymc_ebm.sample_fantasies(
        energy, draws=2000, tune=500, chains=2, n_particles=4, random_seed=11, **SAMPLE_KWARGS
    )
    posterior = idata.posterior["v"].values  # (chain, draw, row, 2)
    assert np.all(np.isfinite(posterior))
    n_chain, n_draw, n_row, _ = posterior.shape
    draws = posterior.transpose(0, 2, 1, 3).reshape(n_chain * n_row, n_draw, 2)
    for d in range(2):
        x = thinned(draws[..., d])
        assert len(x) > 400
        result = stats.kstest(x, lambda q, d=d: grid.marginal_cdf(d, q))
        assert result.pvalue > KS_ALPHA / 2, (d, result)  # two KS tests


# -- fixed alpha and persistence --------------------------------------------------------
@pytest.mark.parametrize("float_x", ["float64", "float32"])
def test_fixed_alpha_is_no_parameter_and_round_trips(float_x, tmp_path):
    with pytensor.config.change_flags(floatX=float_x):
        _check_fixed_alpha_round_trip(tmp_path)


def _check_fixed_alpha_round_trip(tmp_path):
    rng = np.random.default_rng(RNG_SEED + 2)
    W, U, b, _ = random_network(rng)
    alpha = np.array([0.3, 1e-3, 7.0])
    net = FASConstraints(W, U, b, alpha, learn_alpha=False)
    assert "log_alpha" not in net.param_names and len(net.params) == 3
    v = rng.normal(size=(5, 5))
    pymc_ebm.save(net, tmp_path / "net.npz")
    for other in (pymc_ebm.load(tmp_path / "net.npz"), net.copy()):
        assert other.learn_alpha is False and other.param_names == ["W", "U", "b"]
        assert other.alpha.tobytes() == net.alpha.tobytes()
        np.testing.assert_array_equal(other.energy_fn()(v), net.energy_fn()(v))


# -- bad input ---------------------------------------------------------------------------
GOOD = {"W": np.eye(2), "U": np.ones((1, 2)), "b": [0.0], "alpha": [1.0]}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"W": [1.0, 2.0]}, "W must have 2 dimensions"),
        ({"U": np.ones((1, 3))}, r"U must have shape \(n_units, 2\)"),
        ({"U": np.ones(2)}, "U must have 2 dimensions"),
        ({"b": [0.0, 1.0]}, r"b must have shape \(1,\)"),
        ({"alpha": [1.0, 1.0]}, r"alpha must have shape \(1,\)"),
        ({"alpha": [0.0]}, "alpha must be positive"),
        ({"alpha": [-1.0]}, "alpha must be positive"),
        ({"W": [[np.nan, 0.0], [0.0, 1.0]]}, "W must be finite"),
        ({"U": [[1.0, np.inf]]}, "U must be finite"),
        ({"b": [np.nan]}, "b must be finite"),
        ({"alpha": [np.nan]}, "alpha must be finite"),
    ],
)
def test_bad_constructor_arguments_raise(changes, message):
    with pytest.raises(ValueError, match=message):
        FASConstraints(**{**GOOD, **changes})


def test_set_params_refuses_nan_and_wrong_shapes():
    net = FASConstraints(**GOOD)
    with pytest.raises(ValueError, match="non-finite"):
        net.set_params({"b": np.array([np.nan])})
    with pytest.raises(ValueError, match="has shape"):
        net.set_params({"W": np.eye(3)})


def test_energy_of_wrong_width_input_raises():
    net = FASConstraints(**GOOD)
    with pytest.raises(ValueError):
        net.energy_fn()(np.zeros((3, 5)))


def test_model_with_fas_constraints_compiles():
    with pm.Model() as model:
        pymc_ebm.visible("v", FASConstraints(**GOOD) * Gaussian(np.zeros((1, 2)), [[3.0, 3.0]]))
    assert np.isfinite(model.compile_logp()(model.initial_point()))
