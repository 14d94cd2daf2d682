"""The natural-image study's pieces: basis functions, renormalised training, FastICA."""

import numpy as np

from pymc_ebm.datasets import image_patches
from pymc_ebm.studies import natural_images as study


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
