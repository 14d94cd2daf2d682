"""The natural-image study's pieces: basis functions, renormalised training, FastICA."""

import numpy as np

from pymc_ebm.datasets import image_patches
from pymc_ebm.evaluation.gabor import gabor
from pymc_ebm_demos import natural_images as study


def test_basis_functions_are_dual_to_pixel_filters():
    """Each pixel-space filter responds 1 to its own basis function and 0 to the others."""
    _, whitening = image_patches(size=4, n=500, random_seed=0)
    d = whitening.n_components
    for n_filters in (d, 3 * d):  # complete (ICA) and over-complete (PoT)
        W = np.random.default_rng(n_filters).normal(size=(n_filters, d))
        filters = whitening.filters_to_pixels(W)
        basis = study.basis_functions(W, whitening).reshape(n_filters, -1)
        response = filters @ basis.T  # (filter, basis)
        # W W⁺ projects onto the column space of W: the identity when W is complete
        expected = W @ np.linalg.pinv(W)
        np.testing.assert_allclose(response, expected, atol=1e-9)
        if n_filters == d:
            np.testing.assert_allclose(response, np.eye(d), atol=1e-9)


def test_renormalised_training_keeps_unit_filters_and_counts_updates():
    settings = study.StudySettings.quick(n_updates=5, n_train=500, n_test=200)
    X, X_test, _ = study.load_patches(settings)
    assert X.shape == (500, 35) and X_test.shape == (200, 35)
    energy = study.make_energy(X.shape[1], settings)
    history, seconds, per_update = study.train(energy, X, settings)
    assert history.sizes["update"] == 5 and 0 < per_update < seconds
    norms = np.linalg.norm(energy.W.get_value(), axis=1)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-5)
    assert energy.W.get_value().dtype == np.float32


def test_fast_ica_filters_are_orthonormal_on_white_data():
    settings = study.StudySettings.quick()
    X, _, _ = study.load_patches(settings)
    W, _ = study.fast_ica(X, settings)
    assert W.shape == (35, 35)
    np.testing.assert_allclose(W @ W.T, np.eye(35), atol=1e-3)


def test_colour_patches_train_and_fit_on_luminance():
    settings = study.StudySettings.quick(color=True, n_updates=3, n_train=500, n_test=200)
    X, X_test, whitening = study.load_patches(settings)
    assert X.shape == (500, 107) and whitening.patch_shape == (6, 6, 3)
    energy = study.make_energy(X.shape[1], settings)
    study.train(energy, X, settings)
    quality = study.filter_quality(energy.W.get_value(), whitening, X_test)
    assert quality.pixel_filters.shape == (64, 6, 6, 3)
    assert quality.fits.r2.shape == (64,) and np.all(quality.fits.r2 <= 1.0)
    # a grey Gabor (the same in the three channels) as a filter on whitened data: its
    # luminance fit finds it (the odd phase makes its mean, which whitening drops, ~0)
    true = [2.5, 2.5, 0.4, 0.25, np.pi / 2, 1.2, 1.5, 1.0]
    g = gabor((6, 6), true)
    pixel_filter = np.repeat((g - g.mean())[..., None], 3, axis=2).reshape(1, -1)
    W = pixel_filter @ np.linalg.pinv(whitening.matrix)
    np.testing.assert_allclose(whitening.filters_to_pixels(W), pixel_filter, atol=1e-9)
    fit = study.filter_quality(W, whitening, X_test).fits
    assert fit.r2[0] > 0.99
    assert abs(fit.theta[0] - true[2]) < 0.05 and abs(fit.frequency[0] - true[3]) < 0.01
