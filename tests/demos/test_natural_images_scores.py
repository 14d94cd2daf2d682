"""Held-out log-likelihoods of the natural-image study's patch models, against known answers."""

import numpy as np
import pytest
from scipy import stats

import pymc_ebm
from pymc_ebm.datasets import image_patches
from pymc_ebm_demos import natural_images as study


def _ica_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Laplace sources with different scales mixed by ``inv(W)``: rows, ``W``, sources."""
    rng = np.random.default_rng(seed)
    S = rng.laplace(scale=[0.5, 1.0, 1.5], size=(n, 3))
    W = np.array([[1.0, 0.3, -0.2], [0.1, 0.8, 0.4], [-0.3, 0.2, 1.2]])
    return S @ np.linalg.inv(W).T, W, S


def _student_t_logpdf(s: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``log`` of ``(1 + ½ s²)^(-α) / Z(α)``: a Student-t with ``ν = 2α - 1``, scale ``√(2/ν)``."""
    nu = 2.0 * alpha - 1.0
    return stats.t.logpdf(s, df=nu, scale=np.sqrt(2.0 / nu))


def test_gaussian_log_likelihood_is_the_fitted_normal_density():
    rng = np.random.default_rng(0)
    A = np.array([[1.0, 0.0, 0.0], [0.5, 2.0, 0.0], [-0.3, 0.4, 0.7]])
    X = rng.normal(size=(3000, 3)) @ A.T + [1.0, -2.0, 0.5]
    train, test = X[:2000], X[2000:]
    mean, cov = train.mean(axis=0), np.cov(train, rowvar=False, bias=True)
    L = np.linalg.cholesky(cov)
    z = np.linalg.solve(L, (test - mean).T)
    by_hand = -0.5 * (z**2).sum(axis=0) - np.log(np.diag(L)).sum() - 1.5 * np.log(2 * np.pi)
    ll, se = study.gaussian_log_likelihood(train, test)
    assert ll == pytest.approx(by_hand.mean(), rel=1e-10)
    assert se == pytest.approx(by_hand.std(ddof=1) / np.sqrt(1000), rel=1e-10)


def test_complete_pot_alphas_maximise_the_likelihood():
    X, W, S = _ica_data(20_000, seed=1)
    energy = study.complete_pot(W, X)
    np.testing.assert_allclose(energy.W.get_value(), W)
    alpha = energy.alpha
    assert np.all(alpha > 0.5)
    # each expert's α maximises the mean Student-t log density of its outputs: the fitted
    # value beats its neighbours, and the finite-difference slope there is ~ 0
    for j in range(3):
        ll = [_student_t_logpdf(S[:, j], a).mean() for a in alpha[j] * np.array([0.99, 1, 1.01])]
        assert ll[1] > ll[0] and ll[1] > ll[2]
        h = 1e-4
        slope = (
            _student_t_logpdf(S[:, j], alpha[j] + h).mean()
            - _student_t_logpdf(S[:, j], alpha[j] - h).mean()
        ) / (2 * h)
        assert abs(slope) < 1e-6


def test_scores_of_a_complete_product_agree_with_closed_forms():
    """ICA: Student-t densities by hand; PoT: a complete StudentT, whose log Z is exact."""
    X, W, _ = _ica_data(6000, seed=2)
    train, test = X[:4000], X[4000:]
    # the "learned" product: complete, so AIS must find the closed-form log Z
    pot = pymc_ebm.StudentT(W @ np.diag([2.0, 1.0, 0.5]), alpha=[1.2, 2.0, 3.0])
    settings = study.StudySettings.quick(ais_chains=128, ais_temperatures=200, seed=3)
    scores = study.score_models(pot, W, train, test, settings)

    ica = study.complete_pot(W, train)
    by_hand = np.linalg.slogdet(W)[1] + _student_t_logpdf(test @ W.T, ica.alpha).sum(axis=1)
    assert scores["log_likelihood_ica"] == pytest.approx(by_hand.mean(), rel=1e-9)
    exact = pymc_ebm.log_likelihood(ica, test, pymc_ebm.log_partition(ica, "exact"))
    assert scores["log_likelihood_ica"] == pytest.approx(exact.mean, rel=1e-12)
    assert scores["ica_alpha_median"] == pytest.approx(np.median(ica.alpha))

    log_z = pymc_ebm.log_partition(pot, "exact").log_z
    se = scores["log_z_pot_se"]
    assert 0 < se < 0.2 and 1.0 < scores["ais_weight_ess"] <= 128
    # two assertions at z = 4 each
    assert abs(scores["log_z_pot"] - log_z) < 4 * se
    exact_pot = pymc_ebm.log_likelihood(pot, test, log_z)
    assert abs(scores["log_likelihood_pot"] - exact_pot.mean) < 4 * se
    assert scores["log_likelihood_pot_se"] == pytest.approx(np.hypot(exact_pot.se, se))
    assert 0.0 < scores["ais_acceptance"] <= 1.0 and scores["ais_seconds"] > 0


def test_whitening_jacobian_turns_whitened_densities_into_pixel_densities():
    """A Gaussian fitted in orthonormal pixel coordinates ``Uᵀx`` scores the held-out patches
    at the whitened Gaussian's log density plus ``log|det|`` of the whitening."""
    X, whitening = image_patches(size=4, n=3000, random_seed=0)
    U = whitening.inverse / np.sqrt(whitening.variances)  # orthonormal kept directions
    np.testing.assert_allclose(U.T @ U, np.eye(whitening.n_components), atol=1e-9)
    pixels = whitening.unwhiten(X) - whitening.mean
    coords = pixels @ U
    whitened, _ = study.gaussian_log_likelihood(X[:2000], X[2000:])
    in_pixels, _ = study.gaussian_log_likelihood(coords[:2000], coords[2000:])
    jacobian = study.whitening_log_jacobian(whitening)
    assert jacobian > 0  # grey levels in [0, 1]: pixel variances below 1
    assert in_pixels == pytest.approx(whitened + jacobian, rel=1e-9)
    _, zca = image_patches(size=4, n=300, whiten="zca", random_seed=0)
    with pytest.raises(ValueError, match="PCA"):
        study.whitening_log_jacobian(zca)
