"""Natural image patches from scikit-image's bundled photographs and their whitening."""

import os

import numpy as np
import pytest

from pymc_ebm.datasets import image_patches
from pymc_ebm.datasets.patches import COLOUR_IMAGES, GREY_IMAGES, load_images


def test_images_are_bundled_in_the_wheel():
    import skimage.data

    bundled = set(os.listdir(skimage.data.data_dir))
    for name in (*GREY_IMAGES, *COLOUR_IMAGES):
        assert any(f.startswith(name + ".") for f in bundled), name
    grey, colour = load_images(False), load_images(True)
    assert len(grey) == len(GREY_IMAGES) + len(COLOUR_IMAGES)
    assert all(image.ndim == 2 for image in grey)
    assert all(image.ndim == 3 and image.shape[2] == 3 for image in colour)
    assert all(0.0 <= image.min() and image.max() <= 1.0 for image in grey + colour)


@pytest.mark.parametrize(("color", "n_pixels"), [(False, 64), (True, 192)])
def test_pca_whitening_round_trips_and_whitens(color, n_pixels):
    X, whitening = image_patches(size=8, n=3000, color=color, random_seed=0)
    assert X.shape == (3000, n_pixels - 1)  # the constant patch has no variance left
    assert whitening.patch_shape == ((8, 8, 3) if color else (8, 8))
    np.testing.assert_allclose(X.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(np.cov(X, rowvar=False, bias=True), np.eye(n_pixels - 1), atol=1e-8)
    pixels = whitening.unwhiten(X)
    assert pixels.shape == (3000, n_pixels)
    np.testing.assert_allclose(pixels.mean(axis=1), 0.0, atol=1e-12)  # means removed
    np.testing.assert_allclose(whitening.whiten(pixels), X, atol=1e-8)
    rng = np.random.default_rng(1)
    y = rng.normal(size=(5, n_pixels - 1))
    np.testing.assert_allclose(whitening.whiten(whitening.unwhiten(y)), y, atol=1e-8)
    # a filter's response on whitened data is its pixel-space filter's on the pixels
    # (up to the same constant for every patch)
    W = rng.normal(size=(3, n_pixels - 1))
    offset = whitening.mean @ whitening.filters_to_pixels(W).T
    responses = pixels @ whitening.filters_to_pixels(W).T - offset
    np.testing.assert_allclose(responses, X @ W.T, atol=1e-8)
    assert whitening.as_images(pixels[:2]).shape == (2, *whitening.patch_shape)


def test_zca_whitening_is_a_projection_in_pixel_space():
    X, whitening = image_patches(size=6, n=2000, whiten="zca", random_seed=2)
    assert X.shape == (2000, 36)
    ones = np.ones(36) / 6.0
    projection = np.eye(36) - np.outer(ones, ones)  # everything but the constant patch
    np.testing.assert_allclose(np.cov(X, rowvar=False, bias=True), projection, atol=1e-8)
    np.testing.assert_allclose(whitening.whiten(whitening.unwhiten(X)), X, atol=1e-8)


def test_no_whitening_removes_the_means_only_and_is_seeded():
    X, whitening = image_patches(size=5, n=50, whiten=False, random_seed=3)
    again, _ = image_patches(size=5, n=50, whiten=False, random_seed=3)
    other, _ = image_patches(size=5, n=50, whiten=False, random_seed=4)
    np.testing.assert_array_equal(X, again)
    assert not np.array_equal(X, other)
    assert whitening.method == "none" and X.shape == (50, 25)
    np.testing.assert_allclose(X.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_array_equal(whitening.unwhiten(X), X)


def test_patches_come_from_the_images():
    X, _ = image_patches(size=3, n=20, color=True, whiten=False, random_seed=5)
    images = load_images(True)
    for patch in X.reshape(20, 3, 3, 3):
        found = False
        for image in images:
            windows = np.lib.stride_tricks.sliding_window_view(image, (3, 3), axis=(0, 1))
            windows = np.moveaxis(windows, 2, -1)  # (rows, cols, 3, 3, channels)
            centred = windows - windows.mean(axis=(2, 3, 4), keepdims=True)
            if np.any(np.all(np.abs(centred - patch) < 1e-12, axis=(2, 3, 4))):
                found = True
                break
        assert found


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"size": 301}, "smallest image side, 300"),
        ({"size": 1}, "between 2"),
        ({"size": 0}, "size must be a positive integer"),
        ({"n": 0}, "n must be a positive integer"),
        ({"n": -5}, "n must be a positive integer"),
        ({"n": 2.5}, "n must be a positive integer"),
        ({"size": 8, "n": 10}, "at least 64 patches"),
        ({"whiten": "pcaa"}, "whiten must be"),
    ],
)
def test_bad_input_raises_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        image_patches(**{"n": 1000, **kwargs})
