"""Quadrature refuses a box it cannot use: widths that overflow, cells that cannot be told
apart, or a grid too coarse to resolve the density; a resolved density is normalised as before."""

from __future__ import annotations

import numpy as np
import pytest

import pymc_ebm
from pymc_ebm.evaluation.quadrature import grid_density

GAUSS = pymc_ebm.Gaussian([[0.0, 0.0]], [[1.0, 1.0]])


@pytest.mark.parametrize(
    ("box", "match"),
    [
        ((-1e300, 1e300), r"cannot resolve the density: exp\(-E\) is 0 at every cell midpoint"),
        ((-1e308, 1e308), r"too far apart: the box's width high - low overflows"),
        ((-1e6, 1e6), r"cannot resolve the density: along dimension 0 .* narrower than a cell"),
        ((1.0, 1.0 + 1e-15), r"too narrow along dimension 0 to be cut into 512 cells"),
    ],
)
def test_a_box_that_cannot_hold_the_density_is_refused(box, match):
    with pytest.raises(ValueError, match=match):
        pymc_ebm.log_partition(GAUSS, "quadrature", low=box[0], high=box[1])


def test_a_peak_narrower_than_a_cell_is_refused_along_its_dimension():
    narrow = pymc_ebm.Gaussian([[0.0, 0.0]], [[1.0, 0.01]])
    with pytest.raises(ValueError, match="along dimension 1"):
        grid_density(narrow, low=-8.0, high=8.0, n_points=100)


@pytest.mark.parametrize("n_points", [16, 17])
def test_a_gaussian_one_cell_wide_is_resolved(n_points):
    """sigma = cell width, centred on a midpoint (17) or between two (16): Z = 1 closely."""
    one = pymc_ebm.Gaussian([[0.0]], [[16.0 / n_points]])
    log_z = pymc_ebm.log_partition(one, "quadrature", low=-8, high=8, n_points=n_points).log_z
    assert abs(log_z) < 1e-3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"low": np.array(["a", "b"]), "high": 1.0}, "low must be an array of numbers"),
        ({"low": -1.0, "high": [1.0, 2.0, 3.0]}, r"low and high must be scalars or have shape"),
        ({"low": -1.0, "high": 1.0, "n_points": (3, 4, 5)}, "n_points must be an integer >= 2"),
    ],
)
def test_malformed_boxes_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        grid_density(GAUSS, **kwargs)
