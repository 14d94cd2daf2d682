import numpy as np
import pytest

from pymc_ebm.datasets import (
    arm,
    four_squares,
    grid_centres,
    grid_clusters,
    link_lengths,
    square_index,
)


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


# -- the 3-D arm -----------------------------------------------------------------------
def test_complete_arms_have_the_given_link_lengths():
    lengths = (0.7, 1.3, 0.5)
    X, returned = arm(n=500, link_lengths=lengths, base_scale=2.0, random_seed=1)
    assert X.shape == (500, 12)
    np.testing.assert_array_equal(returned, lengths)
    np.testing.assert_allclose(link_lengths(X), np.tile(lengths, (500, 1)), rtol=1e-12)
    # the base joint is N(0, 2² I): its sample variance is near 4 (chi-square, z = 4)
    base = X[:, :3].ravel()
    assert abs(base.var() / 4.0 - 1) < 4 * np.sqrt(2 / base.size)
    np.testing.assert_array_equal(arm(n=5, random_seed=3)[0], arm(n=5, random_seed=3)[0])


def test_missing_entries_are_about_the_given_fraction():
    X, lengths = arm(n=2000, missing_fraction=0.1, random_seed=2)
    missing = np.isnan(X)
    # binomial z-test on 30000 entries (the rescue of all-NaN rows changes ~1e-15 of them)
    share = missing.mean()
    assert abs(share - 0.1) < 4 * np.sqrt(0.1 * 0.9 / missing.size), share
    assert not missing.all(axis=1).any()
    complete = ~missing.any(axis=1)
    assert complete.sum() > 0
    np.testing.assert_allclose(link_lengths(X[complete]), np.tile(lengths, (complete.sum(), 1)))


def test_rows_never_lose_every_entry():
    X, _ = arm(n=300, link_lengths=(1.0,), missing_fraction=0.9, random_seed=4)
    assert not np.isnan(X).all(axis=1).any()  # 0.9⁶ ≈ 0.53: about 160 rows were rescued


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, "n must be a positive integer"),
        ({"n": -3}, "n must be a positive integer"),
        ({"n": 2.5}, "n must be a positive integer"),
        ({"missing_fraction": 1.0}, r"missing_fraction must lie in \[0, 1\)"),
        ({"missing_fraction": -0.1}, r"missing_fraction must lie in \[0, 1\)"),
        ({"missing_fraction": np.nan}, r"missing_fraction must lie in \[0, 1\)"),
        ({"link_lengths": (1.0, 0.0)}, "link lengths must be positive"),
        ({"link_lengths": (1.0, -2.0)}, "link lengths must be positive"),
        ({"link_lengths": ()}, "link_lengths must be a non-empty sequence"),
        ({"link_lengths": (1.0, np.nan)}, "link_lengths must be a non-empty sequence"),
        ({"base_scale": -1.0}, "base_scale must be non-negative"),
    ],
)
def test_arm_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        arm(**kwargs)
