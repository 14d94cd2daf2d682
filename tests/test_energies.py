"""Energies against closed forms computed in NumPy/SciPy."""

import itertools
import json

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy import stats
from scipy.special import logsumexp

import pymc_ebm
from pymc_ebm import Gaussian, Mixture, ProductOfExperts, StudentT, UniGauss

RNG_SEED = 20240611


def compile_graph(build, *arrays):
    """Evaluate ``build(*symbolic inputs)`` at ``arrays`` (matrices of floatX)."""
    inputs = [pt.matrix(f"x{i}", dtype=pytensor.config.floatX) for i in range(len(arrays))]
    fn = pytensor.function(inputs, build(*inputs))
    return fn(*[np.asarray(a, dtype=pytensor.config.floatX) for a in arrays])


def unigauss_params(rng, n_experts=3, dim=2):
    low = np.array([-1.0, 0.0, 2.0])[:dim]
    high = np.array([2.0, 0.5, 3.5])[:dim]
    mu = rng.uniform(low, high, size=(n_experts, dim))
    sigma = rng.uniform(0.1, 0.6, size=(n_experts, dim))
    pi = rng.uniform(0.2, 0.8, size=n_experts)
    return mu, sigma, pi, low, high


def unigauss_expert_log_density(x, mu, sigma, pi, low, high):
    """NumPy log p_j(x) = log(π N + (1 - π) / r), shape (n, n_experts)."""
    log_n = stats.norm.logpdf(x[:, None, :], mu[None], sigma[None]).sum(axis=-1)
    r = np.prod(high - low)
    return np.logaddexp(np.log(pi) + log_n, np.log1p(-pi) - np.log(r))


# -- Gaussian ----------------------------------------------------------------
def test_gaussian_energy_matches_scipy():
    rng = np.random.default_rng(RNG_SEED)
    mu = rng.normal(size=(3, 2))
    sigma = rng.uniform(0.5, 2.0, size=(3, 2))
    x = rng.normal(size=(7, 2))
    experts = Gaussian(mu, sigma)

    expected_per_expert = stats.norm.logpdf(x[:, None, :], mu[None], sigma[None]).sum(-1)
    np.testing.assert_allclose(
        compile_graph(experts.expert_log_density, x), expected_per_expert, rtol=1e-10
    )
    np.testing.assert_allclose(
        experts.energy_fn()(x), -expected_per_expert.sum(axis=1), rtol=1e-10
    )
    np.testing.assert_allclose(experts.sigma, sigma, rtol=1e-12)


def test_product_of_equal_gaussians_is_sharper():
    # 4 standard normal experts: E(v) = 2 v² + const, i.e. N(0, 1/4) up to Z
    experts = Gaussian(np.zeros((4, 1)), np.ones((4, 1)))
    x = np.linspace(-3, 3, 7)[:, None]
    energies = experts.energy_fn()(x)
    np.testing.assert_allclose(energies - energies[3], 2.0 * x[:, 0] ** 2, rtol=1e-10)


# -- UniGauss ----------------------------------------------------------------
def test_unigauss_free_energy_closed_form():
    rng = np.random.default_rng(RNG_SEED)
    mu, sigma, pi, low, high = unigauss_params(rng)
    experts = UniGauss(mu, sigma, pi, low, high)
    x = rng.uniform(low, high, size=(9, 2))

    log_p = unigauss_expert_log_density(x, mu, sigma, pi, low, high)
    np.testing.assert_allclose(experts.energy_fn()(x), -log_p.sum(axis=1), rtol=1e-10)
    np.testing.assert_allclose(compile_graph(experts.expert_log_density, x), log_p, rtol=1e-10)
    np.testing.assert_allclose(experts.pi, pi, rtol=1e-12)
    np.testing.assert_allclose(experts.log_volume, np.log(np.prod(high - low)))


def test_unigauss_joint_energy_sums_to_free_energy_and_posterior():
    rng = np.random.default_rng(RNG_SEED + 1)
    n_experts = 4
    mu, sigma, pi, low, high = unigauss_params(rng, n_experts=n_experts)
    experts = UniGauss(mu, sigma, pi, low, high)
    x = rng.uniform(low, high, size=(5, 2))

    states = np.array(list(itertools.product([0, 1], repeat=n_experts)), dtype=float)  # (16, M)
    n_states = len(states)
    v_rep = np.repeat(x, n_states, axis=0)
    h_rep = np.tile(states, (len(x), 1))
    joint = compile_graph(experts.joint_energy, v_rep, h_rep).reshape(len(x), n_states)

    # closed form of the joint energy
    log_n = stats.norm.logpdf(x[:, None, :], mu[None], sigma[None]).sum(-1)  # (n, M)
    log_gauss = np.log(pi)[None] + log_n
    log_unif = np.log1p(-pi) - np.log(np.prod(high - low))
    expected_joint = -(
        states[None] * log_gauss[:, None, :] + (1 - states[None]) * log_unif[None, None, :]
    ).sum(-1)
    np.testing.assert_allclose(joint, expected_joint, rtol=1e-10)

    # summing h out gives the free energy
    free = experts.energy_fn()(x)
    np.testing.assert_allclose(-logsumexp(-joint, axis=1), free, rtol=1e-10)

    # hidden_logits is the exact posterior log-odds of each h_j
    log_post = -joint - logsumexp(-joint, axis=1, keepdims=True)  # (n, 16)
    on = np.stack(
        [logsumexp(log_post[:, states[:, j] == 1], axis=1) for j in range(n_experts)], axis=1
    )
    off = np.stack(
        [logsumexp(log_post[:, states[:, j] == 0], axis=1) for j in range(n_experts)], axis=1
    )
    logits = compile_graph(experts.hidden_logits, x)
    np.testing.assert_allclose(logits, on - off, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(logits, log_gauss - log_unif[None], rtol=1e-10)


# -- Student-t ---------------------------------------------------------------
def test_student_t_energy_closed_form():
    rng = np.random.default_rng(RNG_SEED)
    W = rng.normal(size=(5, 3))
    alpha = rng.uniform(0.5, 3.0, size=5)
    x = rng.normal(size=(6, 3))
    experts = StudentT(W, alpha)
    expected = (alpha[None] * np.log1p(0.5 * (x @ W.T) ** 2)).sum(axis=1)
    np.testing.assert_allclose(experts.energy_fn()(x), expected, rtol=1e-10)
    np.testing.assert_allclose(experts.alpha, alpha, rtol=1e-12)


def test_student_t_one_expert_is_scaled_t_density():
    alpha, w = 3.5, 1.7
    experts = StudentT([[w]], [alpha])
    nu = 2 * alpha - 1
    x = np.linspace(-20, 20, 41)[:, None]
    log_t = stats.t.logpdf(x[:, 0], df=nu, scale=np.sqrt(2 / nu) / w)
    # -E(x) - log t(x) is the constant log Z
    diff = -experts.energy_fn()(x) - log_t
    np.testing.assert_allclose(diff, diff[0], rtol=0, atol=1e-10)


# -- combinations ------------------------------------------------------------
def test_mixture_energy_closed_form():
    rng = np.random.default_rng(RNG_SEED)
    mu, sigma, pi, low, high = unigauss_params(rng, n_experts=1)
    mu2, sigma2, pi2 = mu + 0.2, sigma * 1.5, pi * 0.5
    weights = np.array([0.2, 0.3, 0.5])
    mixture = Mixture(
        [
            UniGauss(mu, sigma, pi, low, high),
            UniGauss(np.r_[mu2, mu], np.r_[sigma2, sigma], np.r_[pi2, pi], low, high),
        ],
        weights,
    )
    x = rng.uniform(low, high, size=(8, 2))

    log_p = np.concatenate(
        [
            unigauss_expert_log_density(x, mu, sigma, pi, low, high),
            unigauss_expert_log_density(
                x, np.r_[mu2, mu], np.r_[sigma2, sigma], np.r_[pi2, pi], low, high
            ),
        ],
        axis=1,
    )
    expected = -np.log((weights[None] * np.exp(log_p)).sum(axis=1))
    np.testing.assert_allclose(mixture.energy_fn()(x), expected, rtol=1e-10)
    np.testing.assert_allclose(mixture.weights, weights, rtol=1e-12)
    assert mixture.n_experts == 3
    np.testing.assert_array_equal(mixture.domain[0], low)


def test_mixture_of_gaussians_closed_form_and_mismatched_domains():
    rng = np.random.default_rng(RNG_SEED)
    mu_g = rng.normal(size=(2, 2))
    sigma_g = rng.uniform(0.5, 1.5, size=(2, 2))
    mixture = Mixture([Gaussian(mu_g, sigma_g)], weights=[0.4, 0.6])
    x = rng.normal(size=(6, 2))
    log_p = stats.norm.logpdf(x[:, None, :], mu_g[None], sigma_g[None]).sum(-1)
    expected = -np.log((np.array([0.4, 0.6])[None] * np.exp(log_p)).sum(axis=1))
    np.testing.assert_allclose(mixture.energy_fn()(x), expected, rtol=1e-10)
    assert mixture.domain is None
    mu, sigma, pi, low, high = unigauss_params(rng, n_experts=1)
    with pytest.raises(ValueError, match="share one domain"):
        Mixture([Gaussian(mu_g, sigma_g), UniGauss(mu, sigma, pi, low, high)])


def test_mixture_of_one_gaussian_is_normalised():
    mixture = Mixture([Gaussian([[0.5]], [[0.7]])])
    assert pymc_ebm.log_partition_quadrature(mixture, -8.0, 8.0, n_points=4000) == pytest.approx(
        0.0, abs=1e-6
    )


def test_product_energy_is_sum_and_mul_builds_product():
    rng = np.random.default_rng(RNG_SEED)
    gauss = Gaussian(rng.normal(size=(2, 2)), rng.uniform(0.5, 2.0, size=(2, 2)))
    student = StudentT(rng.normal(size=(3, 2)), rng.uniform(0.5, 2.0, size=3))
    mu, sigma, pi, low, high = unigauss_params(rng, n_experts=2)
    unigauss = UniGauss(mu, sigma, pi, low, high)
    x = rng.uniform(low, high, size=(6, 2))

    product = ProductOfExperts([gauss, student, unigauss])
    expected = gauss.energy_fn()(x) + student.energy_fn()(x) + unigauss.energy_fn()(x)
    np.testing.assert_allclose(product.energy_fn()(x), expected, rtol=1e-10)
    assert product.n_experts == 7
    np.testing.assert_array_equal(product.domain[1], high)

    by_mul = gauss * student * unigauss
    assert isinstance(by_mul, ProductOfExperts)
    assert by_mul.experts == [gauss, student, unigauss]  # nested products are flattened
    np.testing.assert_allclose(by_mul.energy_fn()(x), expected, rtol=1e-10)
    # the parameters are shared, not copied
    assert len(by_mul.params) == len(gauss.params) + len(student.params) + len(unigauss.params)
    assert all(p in by_mul.params for p in gauss.params)


def test_shared_parameters_update_compiled_energy():
    experts = Gaussian(np.zeros((1, 1)), np.ones((1, 1)))
    product = ProductOfExperts([experts, experts])
    assert len(product.params) == 2
    fn = product.energy_fn()
    before = fn(np.ones((1, 1)))
    experts.set_params({"mu": np.ones((1, 1))})
    after = fn(np.ones((1, 1)))
    np.testing.assert_allclose(before - after, 1.0, rtol=1e-12)  # 2 × ½ (1 - 0)²


def test_float32_outputs():
    with pytensor.config.change_flags(floatX="float32"):
        x = np.full((3, 2), 0.3)
        gauss = Gaussian(np.zeros((2, 2)), np.ones((2, 2)))
        unigauss = UniGauss(np.full((2, 2), 0.5), np.full((2, 2), 0.1), [0.5, 0.5])
        student = StudentT(np.eye(2), [2.0, 2.0])
        for energy in [gauss, unigauss, student, Mixture([gauss]), gauss * student * unigauss]:
            assert all(p.dtype == "float32" for p in energy.params)
            assert energy.energy_fn()(x).dtype == np.float32, type(energy).__name__
        v = pt.matrix("v", dtype="float32")
        h = pt.matrix("h", dtype="float32")
        assert unigauss.joint_energy(v, h).dtype == "float32"
        assert unigauss.hidden_logits(v).dtype == "float32"


# -- validation ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: Gaussian(np.zeros(2), np.ones(2)), "mu must have 2 dimensions"),
        (lambda: Gaussian(np.zeros((2, 2)), np.ones((2, 3))), "sigma must have shape"),
        (lambda: Gaussian(np.zeros((2, 2)), np.zeros((2, 2))), "sigma must be positive"),
        (lambda: Gaussian([[0.0, np.nan]], [[1.0, 1.0]]), "mu must be finite"),
        (lambda: Gaussian([[0.0, 1.0]], [[1.0, np.inf]]), "sigma must be finite"),
        (lambda: Gaussian([["a"]], [[1.0]]), "mu must be an array of numbers"),
        (lambda: StudentT(np.eye(2), [1.0, 0.0]), "alpha must be positive"),
        (lambda: StudentT(np.eye(2), [1.0]), "alpha must have shape"),
        (lambda: StudentT(np.ones(2), [1.0]), "W must have 2 dimensions"),
        (lambda: StudentT(np.eye(2), [1.0, np.nan]), "alpha must be finite"),
        (lambda: UniGauss([[0.5]], [[-0.1]], [0.5]), "sigma must be positive"),
        (lambda: UniGauss([[0.5]], [[0.1]], [1.0]), "pi must lie in"),
        (lambda: UniGauss([[0.5]], [[0.1]], [0.0]), "pi must lie in"),
        (lambda: UniGauss([[0.5]], [[0.1]], [0.5, 0.5]), "pi must have shape"),
        (lambda: UniGauss([[0.5]], [[0.1]], [0.5], low=1.0, high=1.0), "low must be smaller"),
        (lambda: UniGauss([[0.5]], [[0.1]], [0.5], low=[np.inf]), "low must be finite"),
        (
            lambda: Gaussian(np.zeros((1, 2)), np.ones((1, 2))) * StudentT(np.eye(3), np.ones(3)),
            "must share dim",
        ),
        (lambda: ProductOfExperts([]), "at least one expert"),
        (
            lambda: Mixture([Gaussian(np.zeros((2, 1)), np.ones((2, 1)))], weights=[0.3, 0.3]),
            "weights must be positive and sum to 1",
        ),
        (
            lambda: Mixture([Gaussian(np.zeros((2, 1)), np.ones((2, 1)))], weights=[1.0]),
            "weights must have shape",
        ),
        (
            lambda: (
                UniGauss([[0.5]], [[0.1]], [0.5], 0.0, 1.0)
                * UniGauss([[0.5]], [[0.1]], [0.5], 2.0, 3.0)
            ),
            "domains do not overlap",
        ),
    ],
)
def test_bad_input_raises_value_error(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_bad_types_raise_type_error():
    with pytest.raises(TypeError, match="cannot be mixed"):
        Mixture([StudentT(np.eye(2), [1.0, 1.0])])
    with pytest.raises(TypeError, match="takes Energy objects"):
        ProductOfExperts([Gaussian(np.zeros((1, 1)), np.ones((1, 1))), "expert"])


def test_set_params_validates():
    experts = Gaussian(np.zeros((1, 2)), np.ones((1, 2)))
    with pytest.raises(ValueError, match="unknown parameter 'sigma'"):
        experts.set_params({"sigma": np.ones((1, 2))})
    with pytest.raises(ValueError, match="parameter 'mu' has shape"):
        experts.set_params({"mu": np.ones((2, 2))})
    with pytest.raises(ValueError, match="parameter 'mu' has non-finite values"):
        experts.set_params({"mu": np.full((1, 2), np.nan)})


# -- save / load ---------------------------------------------------------------
def _families():
    """One energy of every class, with extreme unconstrained values the constructors refuse.

    ``log_sigma = -30`` reads back as ``sigma == 0`` in float32, ``logit_pi = ±50`` as
    ``pi == 1.0`` / ``pi ~ 2e-22`` (and 0.0 in float32), ``log_alpha = -800`` as
    ``alpha == 0``: a round trip through constructor values loses them.
    """
    rng = np.random.default_rng(RNG_SEED)
    mu, sigma, pi, low, high = unigauss_params(rng, n_experts=3)
    gauss = Gaussian(rng.normal(size=(2, 2)), rng.uniform(0.5, 2.0, size=(2, 2)))
    gauss.set_params({"log_sigma": np.array([[-30.0, 0.1], [30.0, 1 / 3]])})
    student = StudentT(rng.normal(size=(3, 2)), rng.uniform(0.5, 2.0, size=3))
    student.set_params({"log_alpha": np.array([-800.0, 0.7, 40.0])})
    unigauss = UniGauss(mu, sigma, pi, low, high)
    unigauss.set_params(
        {"logit_pi": np.array([50.0, -50.0, 0.1]), "log_sigma": np.full((3, 2), -30.0)}
    )
    other = UniGauss(mu[:2] + 0.1, sigma[:2], pi[:2], low, high)
    mixture = Mixture([unigauss, other], weights=[0.1, 0.2, 0.3, 0.2, 0.2])
    mixture.set_params({"log_weights": np.array([60.0, -60.0, 0.1, 1e-30, -1 / 3])})
    net = pymc_ebm.MLPEnergy(2, hidden=(3, 2), box=(-1.0, 1.0), random_seed=RNG_SEED)
    net.set_params({"W0": np.full((2, 3), 1e30), "scale": np.array([1e-30, -1 / 3])})
    constraints = pymc_ebm.FASConstraints(
        rng.normal(size=(3, 2)), rng.normal(size=(2, 3)), [1.0, -1.0], [1.0, 2.0]
    )
    constraints.set_params(
        {
            "b": np.array([1e8, -1 / 3]),
            "U": np.array([[1e-30, -1e-30, 0.7], [1 / 3, 2.0, -5.0]]),
            "log_alpha": np.array([-800.0, 1 / 3]),
        }
    )
    fixed_alpha = pymc_ebm.FASConstraints(
        rng.normal(size=(2, 2)), [[1e-30, -1e-30]], [1e8], [1 / 3], learn_alpha=False
    )
    return {
        "constraints": constraints,
        "constraints_fixed_alpha": fixed_alpha,
        "gaussian": gauss,
        "student_t": student,
        "unigauss": unigauss,
        "mlp": net,
        "product": ProductOfExperts([gauss, student, unigauss]),
        "mixture": mixture,
    }


FAMILIES = [
    "gaussian",
    "student_t",
    "unigauss",
    "mlp",
    "product",
    "mixture",
    "constraints",
    "constraints_fixed_alpha",
]


@pytest.mark.parametrize("float_x", ["float64", "float32"])
@pytest.mark.parametrize("family", FAMILIES)
def test_save_load_round_trip_is_bit_exact(family, float_x, tmp_path):
    with pytensor.config.change_flags(floatX=float_x):
        energy = _families()[family]
        path = tmp_path / f"{family}.npz"
        pymc_ebm.save(energy, path)
        loaded = pymc_ebm.load(path)

        assert type(loaded) is type(energy)
        assert (loaded.dim, loaded.n_experts) == (energy.dim, energy.n_experts)
        assert loaded.param_names == energy.param_names
        saved, restored = energy.get_params(), loaded.get_params()
        assert list(restored) == list(saved)
        for name, value in saved.items():
            assert restored[name].dtype == np.dtype(float_x), name
            assert restored[name].tobytes() == value.tobytes(), name
        if energy.domain is not None:
            np.testing.assert_array_equal(loaded.domain[0], energy.domain[0])
            np.testing.assert_array_equal(loaded.domain[1], energy.domain[1])
        else:
            assert loaded.domain is None


@pytest.mark.parametrize("family", FAMILIES)
def test_copy_is_bit_exact_and_independent(family):
    energy = _families()[family]
    copy = energy.copy()
    assert type(copy) is type(energy)
    before = energy.get_params()
    for name, value in copy.get_params().items():
        assert value.tobytes() == before[name].tobytes(), name
    assert not set(map(id, copy.params)) & set(map(id, energy.params))
    first = energy.param_names[0]
    copy.set_params({first: before[first] + 1.0})
    assert energy.get_params()[first].tobytes() == before[first].tobytes()


def test_save_load_keeps_energy_values(tmp_path):
    energy = _families()["product"]
    pymc_ebm.save(energy, tmp_path / "product.npz")
    loaded = pymc_ebm.load(tmp_path / "product.npz")
    x = np.random.default_rng(RNG_SEED).uniform([-1.0, 0.0], [2.0, 0.5], size=(5, 2))
    np.testing.assert_array_equal(loaded.energy_fn()(x), energy.energy_fn()(x))


def test_load_reads_format_1_files(tmp_path):
    """Files of the first format (constructor arguments) still load."""
    path = tmp_path / "old.npz"
    spec = {
        "class": "UniGauss",
        "arrays": {"mu": "mu", "sigma": "sigma", "pi": "pi", "low": "low", "high": "high"},
        "experts": [],
    }
    header = json.dumps({"format": "pymc_ebm.energy/1", "energy": spec})
    np.savez(
        path,
        __spec__=np.array(header),
        mu=np.array([[0.25, 0.5]]),
        sigma=np.array([[0.5, 2.0]]),
        pi=np.array([0.2]),
        low=np.zeros(2),
        high=np.ones(2),
    )
    loaded = pymc_ebm.load(path)
    np.testing.assert_array_equal(loaded.mu.get_value(), [[0.25, 0.5]])
    np.testing.assert_allclose(loaded.sigma, [[0.5, 2.0]], rtol=1e-15)
    np.testing.assert_allclose(loaded.pi, [0.2], rtol=1e-15)


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, __spec__=np.array('{"format": "something else"}'))
    with pytest.raises(ValueError, match="is not a pymc_ebm energy file"):
        pymc_ebm.load(path)
    np.savez(path, weights=np.zeros(2))
    with pytest.raises(ValueError, match="is not a pymc_ebm energy file"):
        pymc_ebm.load(path)
    with pytest.raises(TypeError, match="energy must be an Energy"):
        pymc_ebm.save("experts", path)
