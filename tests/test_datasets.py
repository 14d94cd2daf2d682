import numpy as np
import pytest

from pymc_ebm.datasets import four_squares, grid_centres, grid_clusters, square_index


def test_grid_clusters_leave_the_missing_centre_empty():
    X = grid_clusters(n=3000, random_seed=0)
    nearest = np.argmin(((X[:, None] - grid_centres()[None]) ** 2).sum(-1), axis=1)
    counts = np.bincount(nearest, minlength=25)
    missing = np.argmin(((grid_centres() - [2 / 6, 3 / 6]) ** 2).sum(-1))
    assert counts[missing] == 0
    assert np.all(np.delete(counts, missing) > 0)
    assert np.all((X > 0) & (X < 1))


def test_grid_clusters_are_seeded():
    np.testing.assert_array_equal(grid_clusters(random_seed=5), grid_clusters(random_seed=5))


def test_four_squares_points_lie_in_the_squares_evenly():
    X = four_squares(n=4000, random_seed=0)
    index = square_index(X)
    assert np.all(index >= 0)
    shares = np.bincount(index, minlength=4) / len(X)
    # each square holds 1/4: binomial standard error sqrt(0.25 * 0.75 / 4000) ~ 0.007
    assert np.all(np.abs(shares - 0.25) < 4 * np.sqrt(0.25 * 0.75 / 4000))
    assert np.all(square_index(np.zeros((3, 2))) == -1)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: grid_clusters(n=0), "n must be a positive integer"),
        (lambda: grid_clusters(missing=(0.1, 0.1)), "not a grid centre"),
        (lambda: grid_clusters(noise=-1.0), "noise must be non-negative"),
        (lambda: four_squares(n=-1), "n must be a positive integer"),
        (lambda: four_squares(side=2.5), "side must lie in"),
    ],
)
def test_bad_arguments_raise(call, message):
    with pytest.raises(ValueError, match=message):
        call()
