"""Exact normalisation of an energy on a grid, in one or two dimensions.

The density ``p(v) = exp(-E(v)) / Z`` of a low-dimensional energy can be
normalised by quadrature: evaluate the energy at the midpoints of a fine
grid of cells over a box, and sum. This gives ``log Z``, the normalised
density on the grid, and the marginal densities and CDFs of each dimension,
the oracles against which samplers and partition-function estimators are
tested.

For an energy that lives on a box (:class:`~pymc_ebm.UniGauss`) the box is
its domain; for an energy on the whole space the caller gives a box wide
enough to hold all but a negligible part of the mass (the mass outside it is
dropped, so the results are those of the density truncated to the box).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy.special import logsumexp

from pymc_ebm._validation import real_array
from pymc_ebm.energies.base import Energy

__all__ = ["GridDensity", "grid_density", "grid_points", "log_partition_quadrature"]

_MAX_DIM = 2
_CHUNK = 65_536
MAX_PEAK_DROP = 2.0
"""Largest fall of a marginal's log density from its peak cells to the next (nats).

Beyond it the peak is narrower than a cell and the midpoint rule cannot resolve it: a
Gaussian of standard deviation ``σ`` falls by ``h²/(2σ²)`` to ``h²/σ²`` (cell width ``h``),
2 nats at ``σ = h/2`` to ``h/√2``, where the rule's relative error in ``Z`` is at most about
1 %."""


class GridDensity(NamedTuple):
    """An energy normalised on a grid of cells (the result of :func:`grid_density`).

    Attributes
    ----------
    points : tuple of ndarray, one per dimension, each of shape (n_points_d,)
        Cell midpoints along each dimension, where the energy was evaluated.
    edges : tuple of ndarray, one per dimension, each of shape (n_points_d + 1,)
        Cell boundaries along each dimension (``edges[d][0] = low[d]``,
        ``edges[d][-1] = high[d]``).
    density : ndarray, shape (n_points_0,) or (n_points_0, n_points_1)
        Normalised density ``exp(-E) / Z`` at the midpoints (``indexing="ij"``).
    log_z : float
        Log partition function ``log ∫ exp(-E(v)) dv`` over the box.
    marginals : tuple of ndarray, one per dimension, each of shape (n_points_d,)
        Marginal density of each dimension at its midpoints.
    cdfs : tuple of ndarray, one per dimension, each of shape (n_points_d + 1,)
        Marginal CDF of each dimension at its cell edges (from 0 to 1).
    """

    points: tuple[np.ndarray, ...]
    edges: tuple[np.ndarray, ...]
    density: np.ndarray
    log_z: float
    marginals: tuple[np.ndarray, ...]
    cdfs: tuple[np.ndarray, ...]

    def marginal_cdf(self, axis: int, x: npt.ArrayLike) -> np.ndarray:
        """Marginal CDF of dimension ``axis`` at ``x``.

        The density is constant on each cell (midpoint rule), so the CDF is
        linear between cell edges; it is 0 below the box and 1 above it. For a
        smooth density, the error is ``O(h²)`` in the cell width ``h``.

        Parameters
        ----------
        axis : int
            The dimension, ``0 <= axis < dim``.
        x : array_like, any shape
            Where to evaluate the CDF.

        Returns
        -------
        ndarray, same shape as ``x``
        """
        if not 0 <= axis < len(self.edges):
            raise ValueError(f"axis must be in [0, {len(self.edges)}), got {axis}")
        return np.interp(np.asarray(x, dtype=float), self.edges[axis], self.cdfs[axis])


def _box(
    energy: Energy, low: npt.ArrayLike | None, high: npt.ArrayLike | None
) -> tuple[np.ndarray, np.ndarray]:
    """The integration box: the given one, or the energy's domain."""
    if low is None or high is None:
        if energy.domain is None:
            raise ValueError(
                f"{type(energy).__name__} lives on the whole space: give low and high, "
                "a box wide enough to hold its mass"
            )
        domain_low, domain_high = energy.domain
        low = domain_low if low is None else low
        high = domain_high if high is None else high
    low, high = real_array("low", low), real_array("high", high)
    try:
        low = np.broadcast_to(low, (energy.dim,)).copy()
        high = np.broadcast_to(high, (energy.dim,)).copy()
    except ValueError as err:
        raise ValueError(f"low and high must be scalars or have shape ({energy.dim},)") from err
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
        raise ValueError("low and high must be finite")
    if np.any(low >= high):
        raise ValueError("low must be smaller than high on every dimension")
    with np.errstate(over="ignore"):
        width = high - low
    if not np.all(np.isfinite(width)):
        raise ValueError(
            "low and high are too far apart: the box's width high - low overflows to inf; "
            "give a box that holds the mass and is finite in width"
        )
    return low, high


def _cells(
    energy: Energy, low, high, n_points: int | tuple[int, ...]
) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...], np.ndarray]:
    """Checked grid of equal cells: edges and midpoints per dimension, cell widths."""
    if not isinstance(energy, Energy):
        raise TypeError(f"energy must be an Energy, got {type(energy).__name__}")
    if energy.dim > _MAX_DIM:
        raise ValueError(f"quadrature works in 1 or 2 dimensions, got dim={energy.dim}")
    low, high = _box(energy, low, high)
    counts = _n_points(n_points, energy.dim)
    edges = tuple(np.linspace(lo, hi, n + 1) for lo, hi, n in zip(low, high, counts, strict=True))
    points = tuple(0.5 * (e[:-1] + e[1:]) for e in edges)
    for axis, e in enumerate(edges):
        if not np.all(np.diff(e) > 0):
            raise ValueError(
                f"the box is too narrow along dimension {axis} to be cut into {len(e) - 1} "
                "cells in floating point; widen it or use fewer points"
            )
    return edges, points, (high - low) / np.asarray(counts)


def _n_points(n_points: int | tuple[int, ...], dim: int) -> tuple[int, ...]:
    message = f"n_points must be an integer >= 2 (or one per dimension), got {n_points!r}"
    try:
        counts = np.broadcast_to(np.asarray(n_points), (dim,))
    except ValueError as err:
        raise ValueError(message) from err
    if counts.dtype.kind not in "iu" or np.any(counts < 2):
        raise ValueError(message)
    return tuple(int(c) for c in counts)


def grid_points(
    energy: Energy,
    low: npt.ArrayLike | None = None,
    high: npt.ArrayLike | None = None,
    n_points: int | tuple[int, ...] = 512,
) -> tuple[np.ndarray, float]:
    """The cell midpoints of :func:`grid_density`'s grid, flattened, and the log cell volume.

    Parameters
    ----------
    energy : Energy
        An energy with ``dim`` 1 or 2 (only its ``dim`` and domain are used).
    low, high, n_points
        As in :func:`grid_density`.

    Returns
    -------
    points : ndarray, shape (n_cells, dim)
        Midpoints in the order of ``grid_density(...).density.ravel()``.
    log_cell : float
        ``log`` of the volume of one cell.

    Examples
    --------
    >>> import pymc_ebm
    >>> from pymc_ebm.evaluation.quadrature import grid_points
    >>> expert = pymc_ebm.UniGauss(mu=[[0.5, 0.5]], sigma=[[0.1, 0.1]], pi=[0.5])
    >>> points, log_cell = grid_points(expert, n_points=4)
    >>> points.shape, points[1].tolist(), round(log_cell, 4)
    ((16, 2), [0.125, 0.375], -2.7726)
    """
    _, points, widths = _cells(energy, low, high, n_points)
    mesh = np.meshgrid(*points, indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1), float(np.sum(np.log(widths)))


def grid_density(
    energy: Energy,
    low: npt.ArrayLike | None = None,
    high: npt.ArrayLike | None = None,
    n_points: int | tuple[int, ...] = 512,
) -> GridDensity:
    """Normalise ``exp(-E(v))`` on a grid over a box (midpoint rule), in 1 or 2 dimensions.

    The box is cut into ``n_points`` equal cells per dimension, the energy is
    evaluated at the cell midpoints with the energy's compiled function
    (:meth:`~pymc_ebm.Energy.energy_fn`), and ``Z`` is the sum of
    ``exp(-E) × cell volume`` (computed in log space). The error is
    ``O(h²)`` in the cell width ``h`` for smooth energies.

    Parameters
    ----------
    energy : Energy
        An energy with ``dim`` 1 or 2.
    low, high : float or array_like of shape (dim,), optional
        The box. Default: the energy's domain; required for energies on the
        whole space (mass outside the box is ignored).
    n_points : int or tuple of int, default 512
        Number of cells per dimension (at least 2).

    Returns
    -------
    GridDensity
        Midpoints, edges, normalised density of shape ``(n_points,)`` or
        ``(n_points_0, n_points_1)``, ``log_z``, and per-dimension marginal
        densities and CDFs.

    Raises
    ------
    ValueError
        For ``dim > 2``, an empty or non-finite box, a missing box for an
        energy on the whole space, or fewer than 2 points; a box whose width
        overflows or whose cells cannot be told apart in floating point; a
        grid that cannot resolve the density (``exp(-E)`` is 0 at every
        midpoint, or one cell holds more than half of a marginal's mass).

    Examples
    --------
    A product of 4 standard Gaussian experts is ``N(0, 1/4)``, whose
    normaliser relative to the experts' product is ``Z = (2π)^(-3/2) / 2``:

    >>> import numpy as np
    >>> import pymc_ebm
    >>> from pymc_ebm.evaluation.quadrature import grid_density
    >>> experts = pymc_ebm.Gaussian(mu=np.zeros((4, 1)), sigma=np.ones((4, 1)))
    >>> grid = grid_density(experts, low=-6.0, high=6.0, n_points=2000)
    >>> bool(np.isclose(grid.log_z, -1.5 * np.log(2 * np.pi) - np.log(2.0)))
    True
    >>> grid.density.shape, grid.cdfs[0][0], round(float(grid.marginal_cdf(0, 0.0)), 6)
    ((2000,), np.float64(0.0), 0.5)
    """
    edges, points, widths = _cells(energy, low, high, n_points)
    counts = tuple(len(p) for p in points)

    mesh = np.meshgrid(*points, indexing="ij")
    flat = np.stack([m.ravel() for m in mesh], axis=1)
    evaluate = energy.energy_fn()
    neg_energy = np.concatenate(
        [
            -np.asarray(evaluate(flat[i : i + _CHUNK]), dtype=float)
            for i in range(0, len(flat), _CHUNK)
        ]
    ).reshape(counts)
    if np.any(np.isnan(neg_energy)) or np.any(neg_energy == np.inf):
        raise ValueError("the energy is NaN or -inf somewhere on the grid")
    if np.all(neg_energy == -np.inf):
        raise ValueError(
            "the grid cannot resolve the density: exp(-E) is 0 at every cell midpoint "
            f"(cells of width {widths.tolist()}); give a narrower box around the mass or "
            "more points"
        )

    log_cell = float(np.sum(np.log(widths)))
    log_z = float(logsumexp(neg_energy) + log_cell)
    density = np.exp(neg_energy - (log_z))

    marginals = []
    cdfs = []
    for axis in range(energy.dim):
        others = tuple(a for a in range(energy.dim) if a != axis)
        other_volume = float(np.prod(np.delete(widths, axis)))
        marginal = density.sum(axis=others) * other_volume if others else density.copy()
        cdf = np.concatenate([[0.0], np.cumsum(marginal * widths[axis])])
        cdf /= cdf[-1]  # exact 1 at the top, up to rounding already
        drop = _peak_drop(marginal)
        if drop > MAX_PEAK_DROP:
            raise ValueError(
                f"the grid cannot resolve the density: along dimension {axis} its marginal "
                f"falls by {drop:.3g} nats from the peak cell (width {widths[axis]:.3g}) to the "
                "next, so the density is narrower than a cell and the midpoint rule is "
                "unreliable; give a narrower box around the mass or more points (n_points)"
            )
        marginals.append(marginal)
        cdfs.append(cdf)
    return GridDensity(
        points=points,
        edges=edges,
        density=density,
        log_z=log_z,
        marginals=tuple(marginals),
        cdfs=tuple(cdfs),
    )


def _peak_drop(marginal: np.ndarray) -> float:
    """How far the log density falls from the peak cell past its larger neighbour (nats).

    The peak and its larger neighbour are a pair (a peak between two midpoints
    gives two equal cells); the fall is to the larger cell flanking the pair:
    ``h²/(2σ²)`` to ``h²/σ²`` for a Gaussian, depending on where it sits.
    """
    n = len(marginal)
    peak = int(np.argmax(marginal))
    partner = max((i for i in (peak - 1, peak + 1) if 0 <= i < n), key=lambda i: marginal[i])
    flank = [marginal[i] for i in (min(peak, partner) - 1, max(peak, partner) + 1) if 0 <= i < n]
    if not flank:  # two cells: nothing to compare
        return 0.0
    with np.errstate(divide="ignore"):
        return float(np.log(marginal[peak]) - np.log(max(flank)))


def log_partition_quadrature(
    energy: Energy,
    low: npt.ArrayLike | None = None,
    high: npt.ArrayLike | None = None,
    n_points: int | tuple[int, ...] = 512,
) -> float:
    """Log partition function ``log ∫_box exp(-E(v)) dv`` by midpoint quadrature.

    A shortcut for ``grid_density(energy, low, high, n_points).log_z``; see
    :func:`grid_density` for the arguments.

    Parameters
    ----------
    energy : Energy
        An energy with ``dim`` 1 or 2.
    low, high : float or array_like of shape (dim,), optional
        The box (default: the energy's domain).
    n_points : int or tuple of int, default 512
        Number of cells per dimension.

    Returns
    -------
    float

    Examples
    --------
    One uni-gauss expert is a normalised density on its box, so ``Z = 1``:

    >>> import pymc_ebm
    >>> expert = pymc_ebm.UniGauss(mu=[[0.5, 0.5]], sigma=[[0.1, 0.1]], pi=[0.5])
    >>> log_z = pymc_ebm.log_partition_quadrature(expert, n_points=400)
    >>> abs(log_z) < 1e-4
    True
    """
    return grid_density(energy, low, high, n_points).log_z
