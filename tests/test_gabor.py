"""Gabor fitter, output kurtosis and topographic neighbour ratios: known answers."""

import numpy as np
import pytest

from pymc_ebm.evaluation.gabor import (
    GaborFit,
    fit_gabor,
    fit_gabors,
    gabor,
    neighbour_ratios,
    output_kurtosis,
)

CASES = [
    # x0, y0, theta, frequency, phase, sigma_x, sigma_y, amplitude
    [6.0, 9.0, 0.7, 0.2, 1.0, 2.0, 3.0, 1.0],
    [10.3, 4.6, 2.5, 0.12, 4.0, 3.0, 1.5, 0.3],
    [8.0, 7.0, 1.6, 0.33, 0.0, 1.5, 2.5, 2.0],
]


def _angle_error(a, b, period):
    d = abs(a - b) % period
    return min(d, period - d)


@pytest.mark.parametrize("true", CASES)
def test_fit_recovers_synthetic_gabor(true):
    params, r2 = fit_gabor(gabor((16, 16), true))
    assert r2 > 0.9999
    np.testing.assert_allclose(
        params[[0, 1, 3, 5, 6, 7]], np.array(true)[[0, 1, 3, 5, 6, 7]], rtol=1e-3, atol=1e-3
    )
    assert _angle_error(params[2], true[2], np.pi) < 1e-3
    assert _angle_error(params[4], true[4], 2 * np.pi) < 1e-3


def test_fit_in_noise_recovers_parameters_and_r2():
    rng = np.random.default_rng(0)
    true = np.array(CASES[0])
    clean = gabor((16, 16), true)
    noise_sd = 0.05
    fits = fit_gabors(clean + noise_sd * rng.normal(size=(20, 16, 16)))
    # R² about 1 - noise variance / image variance
    expected_r2 = 1 - noise_sd**2 / (clean.var() + noise_sd**2)
    assert abs(np.median(fits.r2) - expected_r2) < 0.02
    assert np.all(np.abs(fits.x0 - true[0]) < 0.3) and np.all(np.abs(fits.y0 - true[1]) < 0.3)
    assert np.all(np.abs(fits.frequency - true[3]) < 0.02)
    assert np.all([_angle_error(t, true[2], np.pi) < 0.05 for t in fits.theta])


def test_noise_is_not_a_gabor():
    fits = fit_gabors(np.random.default_rng(1).normal(size=(10, 16, 16)))
    assert fits.share(0.8) == 0.0 and np.all(fits.r2 < 0.5)


def test_fit_rejects_bad_shapes():
    with pytest.raises(ValueError, match="2-D"):
        fit_gabor(np.zeros(16))
    with pytest.raises(ValueError, match="height, width"):
        fit_gabors(np.zeros((16, 16)))


def test_output_kurtosis_known_values():
    rng = np.random.default_rng(2)
    n = 200_000
    X = np.column_stack([rng.normal(size=n), rng.laplace(size=n)])
    k = output_kurtosis(np.eye(2), X)
    # Gaussian 0, Laplace 3; SE of sample kurtosis ~ sqrt(24/n) and ~ sqrt(~400/n) for Laplace
    assert abs(k[0]) < 4 * np.sqrt(24 / n)
    assert abs(k[1] - 3.0) < 0.3


def _fits(theta, x0, y0):
    n = len(theta)
    ones = np.ones(n)
    return GaborFit(x0, y0, theta, ones, 0 * ones, ones, ones, ones, r2=ones)


def test_neighbour_ratios_smooth_and_shuffled_maps():
    rows = cols = 8
    r, c = np.divmod(np.arange(rows * cols), cols)
    # orientation and position vary smoothly (periodically) over the torus
    theta = (r + c) % 8 * np.pi / 8
    x0 = 8 + 4 * np.cos(2 * np.pi * c / cols)
    y0 = 8 + 4 * np.sin(2 * np.pi * r / rows)
    smooth = neighbour_ratios(_fits(theta, x0, y0), rows, cols)
    assert smooth["orientation"] < 0.5 and smooth["position"] < 0.5
    assert smooth["n_neighbour_pairs"] == 2 * rows * cols
    perm = np.random.default_rng(3).permutation(rows * cols)
    shuffled = neighbour_ratios(_fits(theta[perm], x0[perm], y0[perm]), rows, cols)
    assert 0.7 < shuffled["orientation"] < 1.3 and 0.7 < shuffled["position"] < 1.3


def test_neighbour_ratios_exact_value():
    # orientation k·π/8 along each row: neighbours differ by π/8 (one wrap pair by π/8 too);
    # down-neighbours by 0
    rows = cols = 8
    theta = (np.arange(64) % 8) * np.pi / 8
    fits = _fits(theta, np.zeros(64), np.zeros(64))
    ia, ib = np.triu_indices(64, k=1)
    d = np.abs(theta[ia] - theta[ib]) % np.pi
    expected = (np.pi / 16) / np.minimum(d, np.pi - d).mean()
    assert neighbour_ratios(fits, rows, cols)["orientation"] == pytest.approx(expected)


def test_neighbour_ratios_bad_size():
    with pytest.raises(ValueError, match="grid"):
        neighbour_ratios(_fits(np.zeros(10), np.zeros(10), np.zeros(10)), 3, 3)
