"""Mean log density of data under an energy, given its ``log Z``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pymc_ebm.energies.base import Energy
from pymc_ebm.evaluation.partition import LogPartition

__all__ = ["LogLikelihood", "log_likelihood"]


@dataclass(frozen=True)
class LogLikelihood:
    """Mean log density of data (what :func:`log_likelihood` returns).

    Attributes
    ----------
    mean : float
        ``mean_i(-E(x_i)) - log Z``, nats per row.
    se : float
        Standard error of ``mean``: ``√(se_data² + se_log_z²)``.
    se_data : float
        From the spread of the rows, ``sd(-E(x_i)) / √n`` (``ddof=1``).
    se_log_z : float
        Standard error of ``log Z`` (0 when it is exact).
    n : int
        Number of rows.
    """

    mean: float
    se: float
    se_data: float
    se_log_z: float
    n: int

    def __float__(self) -> float:
        return self.mean


def log_likelihood(energy: Energy, X: npt.ArrayLike, log_z: float | LogPartition) -> LogLikelihood:
    """Mean log density ``(1/n) Σ_i log p(x_i) = mean(-E(x_i)) - log Z``, with its standard error.

    Parameters
    ----------
    energy : Energy
        The energy ``E``.
    X : array_like, shape (n, dim)
        Data rows (finite; at least one row).
    log_z : float or LogPartition
        ``log Z``: a number (taken as exact), or the result of
        :func:`pymc_ebm.log_partition`, whose standard error is added in
        quadrature to that of the data mean (the two are independent).

    Returns
    -------
    LogLikelihood

    Raises
    ------
    ValueError
        ``X`` not of shape ``(n, dim)`` with ``n >= 1``, or not finite; ``log_z`` not finite.

    Examples
    --------
    One standard Gaussian expert is normalised (``log Z = 0``), so the mean
    log density of ``x = 0`` and ``x = 1`` is ``-log √(2π) - ¼``:

    >>> import numpy as np
    >>> import pymc_ebm
    >>> expert = pymc_ebm.Gaussian(mu=[[0.0]], sigma=[[1.0]])
    >>> ll = pymc_ebm.log_likelihood(expert, [[0.0], [1.0]], log_z=0.0)
    >>> bool(np.isclose(ll.mean, -0.5 * np.log(2 * np.pi) - 0.25)), ll.se, ll.se_log_z
    (True, 0.25, 0.0)
    """
    if not isinstance(energy, Energy):
        raise TypeError(f"energy must be an Energy, got {type(energy).__name__}")
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != energy.dim or X.shape[0] < 1:
        raise ValueError(f"X must have shape (n, {energy.dim}) with n >= 1, got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X must be finite")
    if isinstance(log_z, LogPartition):
        value, se_log_z = log_z.log_z, log_z.se
    else:
        value, se_log_z = float(log_z), 0.0
    if not np.isfinite(value):
        raise ValueError(f"log_z must be finite, got {value}")
    log_density = -np.asarray(energy.energy_fn()(X), dtype=float) - value
    n = X.shape[0]
    se_data = float(np.std(log_density, ddof=1) / np.sqrt(n)) if n > 1 else 0.0
    return LogLikelihood(
        mean=float(np.mean(log_density)),
        se=float(np.hypot(se_data, se_log_z)),
        se_data=se_data,
        se_log_z=se_log_z,
        n=n,
    )
