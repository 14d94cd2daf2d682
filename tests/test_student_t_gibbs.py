"""StudentTGibbs: exact Gibbs sampling of Student-t products, checked against known answers."""

import numpy as np
import pymc as pm
import pytest
from pymc.step_methods.compound import Competence
from scipy import stats
from scipy.special import digamma

import pymc_ebm
from pymc_ebm.evaluation.quadrature import grid_density
from pymc_ebm.step_methods import StudentTGibbs, StudentTKernel
from pymc_ebm.step_methods.student_t_gibbs import CHOLESKY_MIN_DIM, _draw_by_qr

Z = 4.0  # |z| threshold of each MCSE check (at most 8 per test)
KS_LEVEL = 1e-4  # p-value below which a KS test fails (one or two per test)


def _sample(energy, n_rows, draws, seed, tune=20):
    with pm.Model():
        pymc_ebm.visible("v", energy, n_particles=n_rows)
        idata = pm.sample(
            draws=draws, tune=tune, chains=2, cores=2, random_seed=seed, progressbar=False,
            compute_convergence_checks=False,
        )  # fmt: skip
    return idata


def test_one_dimensional_student_t_by_ks():
    alpha, w = 2.5, 1.5  # nu = 2 alpha - 1 = 4, scale sqrt(2 / nu) / |w|
    nu = 2 * alpha - 1
    idata = _sample(pymc_ebm.StudentT(W=[[w]], alpha=[alpha]), n_rows=1000, draws=50, seed=11)
    assert "mean_precision" in idata.sample_stats  # pm.sample picked StudentTGibbs
    # the last draw of every row of both chains: 2000 independent draws
    last = idata.posterior["v"].values[:, -1, :, 0].ravel()
    result = stats.kstest(last, stats.t(df=nu, scale=np.sqrt(2 / nu) / w).cdf)
    assert result.pvalue > KS_LEVEL, result
    # E log(1 + ½ w² v²) = E log(1 + t²/ν) = ψ(α) - ψ(α - ½): a light-tailed statistic
    # whose mean over all draws is sharp (rows are independent chains: MCSE from rows)
    log_term = np.log1p(0.5 * (w * idata.posterior["v"].values[..., 0]) ** 2)
    row_means = log_term.mean(axis=1).ravel()
    error = row_means.mean() - (digamma(alpha) - digamma(alpha - 0.5))
    assert abs(error) < Z * row_means.std(ddof=1) / np.sqrt(row_means.size), error


def _product_2d() -> pymc_ebm.StudentT:
    W = [[1.0, 0.0], [0.6, 0.8], [-0.5, 1.2]]
    return pymc_ebm.StudentT(W=W, alpha=[3.0, 2.5, 3.5])


def test_two_dimensional_product_matches_quadrature():
    energy = _product_2d()
    grid = grid_density(energy, low=-12.0, high=12.0, n_points=600)
    X, Y = np.meshgrid(*grid.points, indexing="ij")
    weights = grid.density / grid.density.sum()
    mean = np.array([np.sum(weights * X), np.sum(weights * Y)])
    second = np.array([np.sum(weights * (X - mean[0]) ** 2), np.sum(weights * (Y - mean[1]) ** 2)])
    n_rows = 300
    idata = _sample(energy, n_rows=n_rows, draws=100, seed=12)
    assert "mean_precision" in idata.sample_stats
    draws = idata.posterior["v"].values  # (chains, draws, rows, 2)
    # rows (and chains) are independent chains: the spread of their averages is the MCSE
    per_row = draws.reshape(2, -1, n_rows, 2).transpose(1, 0, 2, 3).reshape(100, -1, 2)
    row_means = per_row.mean(axis=0)
    row_second = ((per_row - mean) ** 2).mean(axis=0)
    n = row_means.shape[0]
    for estimate, truth in ((row_means, mean), (row_second, second)):
        error = estimate.mean(axis=0) - truth
        se = estimate.std(axis=0, ddof=1) / np.sqrt(n)
        assert np.all(np.abs(error) < Z * se), (error, se)
    # KS on each marginal with the quadrature CDF (last draw of every row: independent)
    last = draws[:, -1].reshape(-1, 2)
    for axis in range(2):
        result = stats.kstest(last[:, axis], lambda x, a=axis: grid.marginal_cdf(a, x))
        assert result.pvalue > KS_LEVEL / 2, (axis, result)


def test_kernel_keeps_the_one_dimensional_law_from_exact_draws():
    # started from exact draws, one sweep must leave the law unchanged
    alpha, w, nu = 3.0, 0.7, 5.0
    law = stats.t(df=nu, scale=np.sqrt(2 / nu) / w)
    rng = np.random.default_rng(5)
    start = law.rvs(size=(2000, 1), random_state=rng)
    kernel = StudentTKernel(pymc_ebm.StudentT(W=[[w]], alpha=[alpha]))
    v, u = kernel.sweep(start, rng)
    assert u.shape == (2000, 1) and np.all(u > 0)
    assert stats.kstest(v[:, 0], law.cdf).pvalue > KS_LEVEL


def _model(energy, extra=False):
    with pm.Model() as model:
        v = pymc_ebm.visible("v", energy, n_particles=4)
        if extra:
            pm.Normal("y", mu=v.sum(), sigma=1.0, observed=0.3)
    return model


def test_competence_refuses_filters_that_do_not_span_the_space():
    energy = pymc_ebm.StudentT(W=[[1.0, 2.0], [2.0, 4.0], [-1.0, -2.0]], alpha=[2.0, 2.0, 2.0])
    model = _model(energy)
    with model:
        assert StudentTGibbs.competence(model["v"]) == Competence.INCOMPATIBLE
        with pytest.raises(ValueError, match="do not span the space"):
            StudentTGibbs([model["v"]])
        with pytest.raises(ValueError, match="do not span the space"):
            StudentTGibbs()


def test_competence_accepts_spanning_filters_and_refuses_other_terms():
    model = _model(_product_2d())
    with model:
        assert StudentTGibbs.competence(model["v"]) == Competence.IDEAL
        assert StudentTGibbs().vars == [model.rvs_to_values[model["v"]]]
    methods = pm.step_methods.STEP_METHODS
    assert methods.index(StudentTGibbs) < methods.index(pm.NUTS)
    coupled = _model(_product_2d(), extra=True)
    with coupled:
        assert StudentTGibbs.competence(coupled["v"]) == Competence.INCOMPATIBLE
        with pytest.raises(ValueError, match="another term"):
            StudentTGibbs([coupled["v"]])


def test_competence_refuses_other_energies_and_student_t_products():
    student = _product_2d()
    gauss = pymc_ebm.Gaussian(np.zeros((1, 2)), np.ones((1, 2)))
    for energy in (gauss, student * gauss):
        model = _model(energy)
        with model:
            assert StudentTGibbs.competence(model["v"]) == Competence.INCOMPATIBLE
            with pytest.raises(ValueError, match="StudentT energy"):
                StudentTGibbs([model["v"]])


def test_competence_outside_a_model_context_judges_the_registered_model():
    """``pm.sample(model=model)`` needs no ``with model:``; a clone is not found."""
    model = _model(_product_2d())
    assert StudentTGibbs.competence(model["v"]) == Competence.IDEAL
    assert StudentTGibbs.competence(model.copy()["v"]) == Competence.INCOMPATIBLE


def test_kernel_reads_updated_parameters():
    energy = pymc_ebm.StudentT(W=np.eye(2), alpha=[2.0, 2.0])
    kernel = StudentTKernel(energy)
    rng = np.random.default_rng(0)
    energy.set_params({"W": 100.0 * np.eye(2)})
    v, _ = kernel.sweep(np.zeros((500, 2)), rng, n_sweeps=3)
    # scale sqrt(2/3)/100: far below the scale of W = I
    assert np.abs(v).max() < 0.5


def test_kernel_refuses_bad_sweeps_and_energies():
    kernel = StudentTKernel(_product_2d())
    with pytest.raises(ValueError, match="n_sweeps"):
        kernel.sweep(np.zeros((2, 2)), np.random.default_rng(0), n_sweeps=0)
    with pytest.raises(TypeError, match="StudentT"):
        StudentTKernel(pymc_ebm.Gaussian(np.zeros((1, 2)), np.ones((1, 2))))


# -- v | u through the Cholesky factor (dimension >= CHOLESKY_MIN_DIM) and through QR -------


def _draws_given_precisions(dim, through_qr, n=4000, seed=0):
    """``n`` draws of ``v | u`` for one fixed ``u``, and the precision ``P = Wᵀ diag(u) W``.

    ``W`` and ``u`` depend on ``dim`` only; the draws on ``seed``.
    """
    problem = np.random.default_rng(dim)
    W = problem.standard_normal((3 * dim, dim))
    u = problem.gamma(2.0, 1.0, size=3 * dim)
    rng = np.random.default_rng(seed)
    kernel = StudentTKernel(pymc_ebm.StudentT(W=W, alpha=np.full(3 * dim, 2.0)))
    if through_qr:
        z = rng.standard_normal((n, dim))
        v = _draw_by_qr(np.sqrt(np.tile(u, (n, 1))), W, z)
    else:
        v = kernel.sample_visible(np.tile(u, (n, 1)), rng)
    return v, (W.T * u) @ W


@pytest.mark.parametrize("through_qr", [False, True], ids=["cholesky", "qr"])
def test_visibles_given_precisions_have_the_exact_gaussian_law(through_qr):
    """Whitened by the precision, the draws are N(0, I): the quadratic form is χ²(dim)."""
    dim = 2 * CHOLESKY_MIN_DIM
    v, precision = _draws_given_precisions(dim, through_qr)
    assert v.shape == (4000, dim)
    white = v @ np.linalg.cholesky(precision)  # (Lᵀ v) per row, P = L Lᵀ
    quadratic = np.sum(white**2, axis=1)
    assert stats.kstest(quadratic, stats.chi2(dim).cdf).pvalue > KS_LEVEL
    # every whitened coordinate has mean 0 (Bonferroni over the dim coordinates)
    z_max = stats.norm.isf(stats.norm.sf(Z) / dim)
    assert np.max(np.abs(white.mean(axis=0))) * np.sqrt(len(v)) < z_max


def test_cholesky_and_qr_draws_agree_and_a_singular_row_is_refused():
    dim = CHOLESKY_MIN_DIM
    chol, _ = _draws_given_precisions(dim, through_qr=False, seed=1)
    qr, _ = _draws_given_precisions(dim, through_qr=True, seed=2)  # independent draws
    # the same law: per coordinate, the same mean and spread (two-sample KS, Bonferroni)
    p = min(stats.ks_2samp(chol[:, d], qr[:, d]).pvalue for d in range(dim))
    assert p > KS_LEVEL / dim
    kernel = StudentTKernel(pymc_ebm.StudentT(W=np.eye(dim), alpha=np.full(dim, 2.0)))
    u = np.ones((3, dim))
    u[1, 0] = 0.0  # the other filters do not span the space: P is singular
    with pytest.raises(np.linalg.LinAlgError):
        kernel.sample_visible(u, np.random.default_rng(0))


@pytest.mark.parametrize(
    ("method", "value", "message"),
    [
        ("sample_visible", np.ones((3, 7)), r"u must have shape \(n, 20\), got shape \(3, 7\)"),
        ("sample_visible", np.ones(20), r"u must have shape \(n, 20\), got shape \(20,\)"),
        ("sample_visible", np.full((3, 20), np.nan), "u must be finite and non-negative"),
        ("sample_visible", -np.ones((3, 20)), "u must be finite and non-negative"),
        ("sample_precisions", np.ones((3, 4)), r"v must have shape \(n, 10\), got shape \(3, 4\)"),
    ],
)
def test_kernel_refuses_inputs_of_the_wrong_shape_or_sign(method, value, message):
    rng = np.random.default_rng(0)
    kernel = StudentTKernel(
        pymc_ebm.StudentT(W=rng.standard_normal((20, 10)), alpha=np.full(20, 2.0))
    )
    with pytest.raises(ValueError, match=message):
        getattr(kernel, method)(value, rng)
