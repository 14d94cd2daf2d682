"""Imputation: ``visible(observed=X)`` with NaNs and ``impute``, against known conditionals."""

import arviz as az
import numpy as np
import pymc as pm
import pytest
from pymc.logprob.transforms import IntervalTransform
from pymc.step_methods.compound import Competence
from scipy import integrate

import pymc_ebm
from pymc_ebm import Gaussian, ShortRunHMC, StudentT, UniGauss, UniGaussGibbs
from pymc_ebm.model import energy_of

Z = 4.0  # |estimate − truth| / MCSE limit per assertion (P(|z| > 4) ≈ 6e-5)
SAMPLE_KWARGS = {"cores": 1, "compute_convergence_checks": False}

# -- a product of three axis-aligned Gaussian experts in 3-D ---------------------------
MU = np.array([[0.0, 1.0, -2.0], [1.0, 1.0, 0.0], [-1.0, 3.0, 1.0]])
SIGMA = np.array([[1.0, 2.0, 1.0], [0.5, 1.0, 2.0], [1.0, 1.5, 0.7]])
PRECISION = (1 / SIGMA**2).sum(axis=0)  # the product is N(MEAN, 1/PRECISION) per axis
MEAN = (MU / SIGMA**2).sum(axis=0) / PRECISION
X_GAUSS = np.array(
    [
        [np.nan, 0.5, np.nan],  # two missing: no padded slot
        [1.0, np.nan, 2.0],  # one missing: one padded slot
        [0.3, -0.2, 0.1],  # complete: constants only
        [np.nan, np.nan, 4.0],
        [-2.0, 7.0, np.nan],
    ]
)


def _z_mean(values, truth):
    """|mean − truth| / MCSE for draws of shape (chain, draw)."""
    return abs(values.mean() - truth) / az.mcse(values, method="mean")


def _check_moments(draws, missing, mean, variance):
    """Mean and variance of every missing entry; draws (chain, draw, row, dim)."""
    for row, col in zip(*np.nonzero(missing), strict=True):
        x = draws[:, :, row, col]
        z_mean = _z_mean(x, mean[row, col])
        assert z_mean < Z, f"entry ({row}, {col}): mean off by {z_mean:.2f} MCSE"
        z_var = _z_mean((x - mean[row, col]) ** 2, variance[row, col])
        assert z_var < Z, f"entry ({row}, {col}): variance off by {z_var:.2f} MCSE"


@pytest.fixture(scope="module", params=["nuts", "short_run_hmc"])
def gaussian_imputed(request):
    """``impute`` on the Gaussian product, with PyMC's choice or a ShortRunHMC factory."""
    built = []

    def short_run_hmc(model):
        built.append(ShortRunHMC(n_steps=10, step_size=0.3, per_row=True))
        return built[-1]

    step = None if request.param == "nuts" else short_run_hmc
    filled, idata = pymc_ebm.impute(
        Gaussian(MU, SIGMA), X_GAUSS, draws=1000, tune=500, step=step, random_seed=11,
        **SAMPLE_KWARGS,
    )  # fmt: skip
    return request.param, built, filled, idata


def test_gaussian_product_conditionals_are_its_marginals(gaussian_imputed):
    sampler, built, filled, idata = gaussian_imputed
    if sampler == "nuts":
        assert "tree_depth" in idata.sample_stats  # PyMC picked NUTS
    else:
        assert len(built) == 1 and built[0].per_row and built[0].n_particles == 4
    missing = np.isnan(X_GAUSS)
    mean = np.broadcast_to(MEAN, X_GAUSS.shape)
    variance = np.broadcast_to(1 / PRECISION, X_GAUSS.shape)
    _check_moments(idata.posterior["x"].values, missing, mean, variance)
    # the filled values are the posterior means
    np.testing.assert_allclose(
        filled[missing], idata.posterior["x"].mean(("chain", "draw")).values[missing]
    )


def test_observed_entries_are_returned_unchanged_and_shapes(gaussian_imputed):
    _, _, filled, idata = gaussian_imputed
    observed = ~np.isnan(X_GAUSS)
    assert filled.dtype == np.float64 and not np.isnan(filled).any()
    assert filled[observed].tobytes() == X_GAUSS[observed].tobytes()  # bit for bit
    assert idata.posterior["x"].shape == (2, 1000, 5, 3)
    assert idata.posterior["x_missing"].shape == (2, 1000, 4, 2)  # incomplete rows, slots
    x = idata.posterior["x"].values
    assert (x[:, :, observed] == X_GAUSS[observed]).all()  # constants in every draw
    # slot j of an incomplete row holds its j-th missing column
    slots = idata.posterior["x_missing"].values
    np.testing.assert_array_equal(slots[:, :, 0], x[:, :, 0][..., [0, 2]])
    np.testing.assert_array_equal(slots[:, :, 1, 0], x[:, :, 1, 1])
    np.testing.assert_array_equal(slots[:, :, 2], x[:, :, 3][..., [0, 1]])
    np.testing.assert_array_equal(slots[:, :, 3, 0], x[:, :, 4, 2])


# -- a correlated target: the conditional is not the marginal --------------------------
def test_student_t_conditionals_match_quadrature():
    """``E = 2 log(1 + ½ (x₁ − x₂)²) + Gaussian(0, 2²)``: x₂ follows x₁ non-linearly."""
    energy = StudentT(W=[[1.0, -1.0]], alpha=[2.0]) * Gaussian(
        np.zeros((1, 2)), np.full((1, 2), 2.0)
    )
    X = np.array([[-3.0, np.nan], [-1.0, np.nan], [0.5, np.nan], [2.5, np.nan], [np.nan, 1.5]])
    energy_fn = energy.energy_fn()

    def conditional_mean(row):
        missing = int(np.flatnonzero(np.isnan(row))[0])

        def density(t, power):
            v = row.copy()
            v[missing] = t
            return t**power * np.exp(-energy_fn(v[None])[0])

        z = integrate.quad(density, -np.inf, np.inf, args=(0,))[0]
        return integrate.quad(density, -np.inf, np.inf, args=(1,))[0] / z

    truth = np.array([conditional_mean(row) for row in X])
    assert np.ptp(truth) > 2.0  # rows mixed up would be caught
    _, idata = pymc_ebm.impute(energy, X, draws=1000, tune=500, random_seed=5, **SAMPLE_KWARGS)
    draws = idata.posterior["x_missing"].values[..., 0]  # (chain, draw, row)
    for row in range(len(X)):
        z = _z_mean(draws[:, :, row], truth[row])
        assert z < Z, f"row {row}: conditional mean off by {z:.2f} MCSE"


# -- a box energy: Uniform missing entries, UniGaussGibbs refuses, NUTS samples ---------
def _unigauss():
    return UniGauss(mu=[[0.2, 0.3], [0.8, 0.7]], sigma=[[0.1, 0.15], [0.1, 0.1]], pi=[0.7, 0.6])


def test_box_energy_uses_uniform_entries_and_conditionals_match_quadrature():
    energy = _unigauss()
    X = np.array([[0.2, np.nan], [0.8, np.nan], [np.nan, 0.5]])
    with pm.Model() as model:
        pymc_ebm.visible("x", energy, observed=X)
        free = model["x_missing"]
        assert UniGaussGibbs.competence(free, True) == Competence.INCOMPATIBLE
        assert isinstance(model.rvs_to_transforms[free], IntervalTransform)
        ShortRunHMC(per_row=True)  # the rows are independent chains
        idata = pm.sample(draws=1000, tune=500, chains=2, random_seed=3, progressbar=False)
    assert "tree_depth" in idata.sample_stats  # NUTS, not UniGaussGibbs
    energy_fn = energy.energy_fn()
    grid = np.linspace(0.0, 1.0, 4001)
    for row, values in enumerate(X):
        col = int(np.flatnonzero(np.isnan(values))[0])
        points = np.repeat(values[None], grid.size, axis=0)
        points[:, col] = grid
        weights = np.exp(-energy_fn(points))
        truth = integrate.trapezoid(grid * weights, grid) / integrate.trapezoid(weights, grid)
        x = idata.posterior["x"].values[:, :, row, col]
        assert 0.0 <= x.min() and x.max() <= 1.0
        z = _z_mean(x, truth)
        assert z < Z, f"row {row}: conditional mean off by {z:.2f} MCSE"


# -- plumbing ---------------------------------------------------------------------------
def test_model_layout_tags_and_masked_arrays():
    energy = Gaussian(MU, SIGMA)
    with pm.Model() as model:
        x = pymc_ebm.visible("x", energy, observed=np.ma.masked_invalid(X_GAUSS))
    assert x is model["x"] and energy_of(x) is energy
    assert [rv.name for rv in model.free_RVs] == ["x_missing"]
    assert {p.name for p in model.potentials} == {"x_energy", "x_padding"}
    assert [d.name for d in model.deterministics] == ["x"]
    point = model.initial_point()
    assert point["x_missing"].shape == (4, 2)
    logp = model.compile_fn(model.logp(sum=False), point_fn=True)(point)
    assert [np.shape(term) for term in logp] == [(4, 2), (4,), (4,)]  # rows first


def test_hidden_refuses_an_imputed_matrix():
    energy = _unigauss()
    with pm.Model() as model:
        x = pymc_ebm.visible("x", energy, observed=[[0.5, np.nan]])
        assert energy_of(x) is energy
        with pytest.raises(ValueError, match="without observed"):
            pymc_ebm.hidden("h", energy, x)
    assert [rv.name for rv in model.free_RVs] == ["x_missing"]


def _bad_inputs():
    gauss = Gaussian(MU, SIGMA)
    box = _unigauss()
    nan = np.nan
    return {
        "one-dimensional": (gauss, np.array([1.0, nan, 2.0]), {}, "shape"),
        "three-dimensional": (gauss, np.full((2, 2, 3), nan), {}, "shape"),
        "wrong columns": (gauss, np.array([[1.0, nan]]), {}, r"shape \(n_rows, 3\)"),
        "no rows": (gauss, np.empty((0, 3)), {}, "shape"),
        "all-NaN row": (gauss, np.array([[1.0, nan, 2.0], [nan, nan, nan]]), {}, r"rows \[1\]"),
        "inf": (gauss, np.array([[1.0, np.inf, nan]]), {}, "inf"),
        "-inf": (gauss, np.array([[-np.inf, 0.0, nan]]), {}, "inf"),
        "nothing missing": (gauss, np.zeros((2, 3)), {}, "nothing to impute"),
        "outside the box": (box, np.array([[1.5, nan]]), {}, "outside the energy's box"),
        "n_particles too": (gauss, X_GAUSS, {"n_particles": 5}, "not both"),
        "not numbers": (gauss, [["a", "b", "c"]], {}, "array of numbers"),
    }


@pytest.mark.parametrize("case", list(_bad_inputs()))
def test_bad_observed_is_refused_and_adds_nothing(case):
    energy, X, kwargs, match = _bad_inputs()[case]
    with pm.Model() as model:
        with pytest.raises(ValueError, match=match):
            pymc_ebm.visible("x", energy, observed=X, **kwargs)
    assert not model.named_vars
    if not kwargs:
        with pytest.raises(ValueError, match=match):
            pymc_ebm.impute(energy, X)


def test_taken_name_is_refused_and_adds_nothing():
    with pm.Model() as model:
        pm.Normal("x_energy")
        with pytest.raises(ValueError, match="already has"):
            pymc_ebm.visible("x", Gaussian(MU, SIGMA), observed=X_GAUSS)
    assert list(model.named_vars) == ["x_energy"]
