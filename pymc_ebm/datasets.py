"""Built-in data sets of the case studies (generated, never downloaded)."""

from __future__ import annotations

import numpy as np

from pymc_ebm._validation import finite_float, positive_int

__all__ = ["four_squares", "grid_centres", "grid_clusters", "square_index"]


def grid_clusters(
    n: int = 300,
    missing: tuple[float, float] | None = (2 / 6, 3 / 6),
    noise: float = 0.04 / 6,
    random_seed: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Clusters at the centres ``(i/6, j/6)``, ``i, j = 1..5``, of a 5×5 grid, one left out.

    Each point picks one of the present centres uniformly and adds isotropic
    Gaussian noise of standard deviation ``noise``.

    Parameters
    ----------
    n : int, default 300
        Number of points.
    missing : tuple of float or None, default (2/6, 3/6)
        Centre left out of the grid, or ``None`` to keep all 25.
    noise : float, default 0.04/6
        Standard deviation of the noise.
    random_seed : int or Generator, optional
        Seed of the cluster choice and the noise.

    Returns
    -------
    ndarray, shape (n, 2)

    Examples
    --------
    >>> from pymc_ebm.datasets import grid_clusters
    >>> grid_clusters(n=10, random_seed=0).shape
    (10, 2)
    """
    n = positive_int("n", n)
    noise = finite_float("noise", noise, low=0.0)
    centres = grid_centres()
    if missing is not None:
        distance = np.linalg.norm(centres - np.asarray(missing, dtype=float), axis=1)
        if distance.min() > 1e-9:
            raise ValueError(f"missing={missing!r} is not a grid centre")
        centres = centres[distance > 1e-9]
    rng = np.random.default_rng(random_seed)
    picks = rng.integers(len(centres), size=n)
    return centres[picks] + noise * rng.standard_normal((n, 2))


def grid_centres() -> np.ndarray:
    """The 25 centres ``(i/6, j/6)`` of the grid, shape ``(25, 2)``."""
    i, j = np.meshgrid(np.arange(1, 6), np.arange(1, 6), indexing="ij")
    return np.stack([i.ravel(), j.ravel()], axis=1) / 6.0


#: Centres of the four squares of :func:`four_squares`.
FOUR_SQUARE_CENTRES = np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]])


def four_squares(
    n: int = 1000,
    side: float = 0.8,
    random_seed: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Points uniform inside four separate squares at the corners of a larger square.

    The squares have side ``side`` and centres ``(±1, ±1)``; each point picks
    a square uniformly, then a position uniformly inside it.

    Parameters
    ----------
    n : int, default 1000
        Number of points.
    side : float, default 0.8
        Side of each square, in (0, 2) so that the squares stay apart.
    random_seed : int or Generator, optional
        Seed of the square choice and the positions.

    Returns
    -------
    ndarray, shape (n, 2)

    Examples
    --------
    >>> from pymc_ebm.datasets import four_squares
    >>> X = four_squares(n=100, random_seed=0)
    >>> X.shape, bool((abs(abs(X) - 1) <= 0.4).all())
    ((100, 2), True)
    """
    n = positive_int("n", n)
    side = finite_float("side", side, low=0.0, high=2.0, low_open=True, high_open=True)
    rng = np.random.default_rng(random_seed)
    picks = rng.integers(4, size=n)
    return FOUR_SQUARE_CENTRES[picks] + side * (rng.random((n, 2)) - 0.5)


def square_index(points: np.ndarray, side: float = 0.8) -> np.ndarray:
    """Index (0-3) of the square of :func:`four_squares` holding each point, -1 outside all."""
    points = np.asarray(points).reshape(-1, 2)
    inside = np.all(np.abs(points[:, None, :] - FOUR_SQUARE_CENTRES[None]) <= side / 2, axis=-1)
    return np.where(inside.any(axis=1), inside.argmax(axis=1), -1)
