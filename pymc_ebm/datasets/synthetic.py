"""Generated data sets of the case studies: clusters on a grid, four squares, a 3-D arm."""

from __future__ import annotations

import numpy as np

from pymc_ebm._validation import finite_float, positive_int

__all__ = [
    "ARM_LINK_LENGTHS",
    "FOUR_SQUARE_CENTRES",
    "arm",
    "four_squares",
    "grid_centres",
    "grid_clusters",
    "link_lengths",
    "square_index",
]


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


#: Link lengths of :func:`arm` by default (four different lengths in [0.5, 1.5]).
ARM_LINK_LENGTHS = (1.2, 0.9, 1.4, 0.6)


def arm(
    n: int = 1000,
    link_lengths: tuple[float, ...] | np.ndarray = ARM_LINK_LENGTHS,
    missing_fraction: float = 0.0,
    base_scale: float = 1.0,
    random_seed: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Joint positions of a 3-D arm: 5 joints joined by 4 links of fixed lengths.

    The base joint is ``N(0, base_scale² I)``; each link points in a direction
    drawn uniformly on the sphere, so joint ``i + 1`` lies at distance
    ``link_lengths[i]`` from joint ``i``. Every link satisfies the constraint
    ``Δx² + Δy² + Δz² − l² = 0`` of the lecture.

    Parameters
    ----------
    n : int, default 1000
        Number of arms.
    link_lengths : sequence of float, default :data:`ARM_LINK_LENGTHS`
        Positive lengths, one per link (the arm has ``len + 1`` joints).
    missing_fraction : float, default 0.0
        Probability, in ``[0, 1)``, that an entry is replaced by ``NaN``
        (independently; a row that would lose every entry keeps one).
    base_scale : float, default 1.0
        Standard deviation of the base joint's coordinates (non-negative).
    random_seed : int or Generator, optional
        Seed of the positions and of the missing entries.

    Returns
    -------
    X : ndarray, shape (n, 3 * (len(link_lengths) + 1))
        Rows ``(x_1, y_1, z_1, x_2, ...)``, with ``NaN`` where missing.
    lengths : ndarray, shape (len(link_lengths),)
        The true link lengths.

    Examples
    --------
    >>> import numpy as np
    >>> from pymc_ebm.datasets import arm
    >>> X, lengths = arm(n=4, random_seed=0)
    >>> X.shape, lengths
    ((4, 15), array([1.2, 0.9, 1.4, 0.6]))
    >>> joints = X.reshape(4, 5, 3)
    >>> np.allclose(np.linalg.norm(np.diff(joints, axis=1), axis=2), lengths)
    True
    """
    n = positive_int("n", n)
    lengths = np.asarray(link_lengths, dtype=float)
    if lengths.ndim != 1 or lengths.size < 1 or not np.all(np.isfinite(lengths)):
        raise ValueError(
            f"link_lengths must be a non-empty sequence of numbers, got {link_lengths!r}"
        )
    if np.any(lengths <= 0):
        raise ValueError(f"link lengths must be positive, got {lengths.tolist()}")
    missing_fraction = finite_float(
        "missing_fraction", missing_fraction, low=0.0, high=1.0, high_open=True
    )
    base_scale = finite_float("base_scale", base_scale, low=0.0)
    rng = np.random.default_rng(random_seed)
    directions = rng.standard_normal((n, lengths.size, 3))
    directions /= np.linalg.norm(directions, axis=2, keepdims=True)
    base = base_scale * rng.standard_normal((n, 1, 3))
    joints = np.concatenate(
        [base, base + np.cumsum(lengths[:, None] * directions, axis=1)], axis=1
    )
    X = joints.reshape(n, -1)
    if missing_fraction > 0:
        missing = rng.random(X.shape) < missing_fraction
        full = missing.all(axis=1)
        missing[full, rng.integers(X.shape[1], size=int(full.sum()))] = False
        X = np.where(missing, np.nan, X)
    return X, lengths


def link_lengths(X: np.ndarray) -> np.ndarray:
    """Lengths of the links of arms laid out as :func:`arm` returns them.

    Parameters
    ----------
    X : ndarray, shape (..., 3 * n_joints)
        Joint coordinates, joint after joint.

    Returns
    -------
    ndarray, shape (..., n_joints - 1)
    """
    X = np.asarray(X, dtype=float)
    joints = X.reshape(*X.shape[:-1], -1, 3)
    return np.linalg.norm(np.diff(joints, axis=-2), axis=-1)
