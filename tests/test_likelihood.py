"""log_likelihood: rows outside a box energy's domain have density 0; malformed input refused."""

from __future__ import annotations

import numpy as np
import pytest

import pymc_ebm


def _box_expert() -> pymc_ebm.UniGauss:
    return pymc_ebm.UniGauss([[0.3, 0.3]], [[0.1, 0.1]], [0.5])


def test_rows_outside_the_box_have_log_density_minus_inf():
    ll = pymc_ebm.log_likelihood(_box_expert(), np.full((3, 2), 5.0), log_z=0.0)
    assert ll.mean == -np.inf and ll.n_outside == 3 and ll.n == 3
    assert np.isnan(ll.se) and np.isnan(ll.se_data)


def test_one_row_outside_the_box_makes_the_mean_minus_inf():
    X = np.array([[0.3, 0.3], [0.5, 0.5], [0.5, 1.0 + 1e-9]])
    ll = pymc_ebm.log_likelihood(_box_expert(), X, log_z=0.0)
    assert ll.mean == -np.inf and ll.n_outside == 1


def test_rows_inside_the_box_and_on_its_edge_are_scored_as_before():
    expert = _box_expert()
    X = np.array([[0.3, 0.3], [0.0, 1.0], [0.9, 0.1]])
    ll = pymc_ebm.log_likelihood(expert, X, log_z=0.25)
    expected = -expert.energy_fn()(X) - 0.25
    np.testing.assert_allclose(ll.mean, expected.mean(), rtol=1e-12)
    np.testing.assert_allclose(ll.se_data, expected.std(ddof=1) / np.sqrt(3), rtol=1e-12)
    assert ll.n_outside == 0


def test_whole_space_energies_have_no_outside():
    gauss = pymc_ebm.Gaussian([[0.0, 0.0]], [[1.0, 1.0]])
    ll = pymc_ebm.log_likelihood(gauss, np.full((2, 2), 50.0), log_z=0.0)
    assert np.isfinite(ll.mean) and ll.n_outside == 0


@pytest.mark.parametrize(
    ("X", "log_z", "error", "match"),
    [
        (np.array([[1, "a"]], dtype=object), 0.0, ValueError, "X must be an array of numbers"),
        (np.zeros(2), 0.0, ValueError, r"X must have shape \(n, 2\)"),
        (np.zeros((1, 2)), "zero", TypeError, "log_z must be a number or a LogPartition"),
        (np.zeros((1, 2)), [0.0], TypeError, "log_z must be a number or a LogPartition"),
    ],
)
def test_malformed_input_is_refused(X, log_z, error, match):
    with pytest.raises(error, match=match):
        pymc_ebm.log_likelihood(_box_expert(), X, log_z=log_z)
