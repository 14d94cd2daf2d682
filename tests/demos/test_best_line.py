"""The best-line study: a Student-t constraint learned by CD beats the Gaussian (PCA) normal."""

import numpy as np
import pytest

from pymc_ebm_demos.best_line import (
    angle_error,
    best_line,
    gaussian_normal,
    line_data,
    plot_best_line,
)


def test_line_data_and_angle_error_have_known_answers():
    X, is_outlier, normal = line_data(n=400, outlier_fraction=0.0, noise=0.0, random_seed=0)
    assert not is_outlier.any()
    np.testing.assert_allclose(X @ normal, 0.0, atol=1e-12)  # exactly on the line
    np.testing.assert_allclose(normal, [-0.5, np.sqrt(3) / 2])  # 30°
    assert angle_error(gaussian_normal(X), normal) < 1e-6
    assert angle_error([1.0, 0.0], [0.0, 3.0]) == pytest.approx(90.0)
    assert angle_error([1.0, 1.0], [-2.0, -2.0]) == pytest.approx(0.0, abs=1e-6)
    _, is_outlier, _ = line_data(n=200, outlier_fraction=0.15, random_seed=1)
    assert is_outlier.sum() == 30


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_student_t_error_is_under_half_the_gaussian_error(seed):
    result = best_line(random_seed=seed, quick=True)
    gaussian, student_t = result["angle_error_gaussian"], result["angle_error_student_t"]
    assert 0.0 <= student_t <= 90.0 and 0.0 <= gaussian <= 90.0
    assert student_t < gaussian / 2, (seed, gaussian, student_t)
    assert result["outlier_fraction"] == 0.2
    assert result["train_seconds"] < 30.0  # about 1 s on 2 shared cores
    assert result["W"].shape == (1, 2)


def test_plot_best_line_writes_a_figure(tmp_path):
    result = best_line(random_seed=0, quick=True)
    path = plot_best_line(result, tmp_path / "best_line.png")
    assert path.exists() and path.stat().st_size > 10_000
