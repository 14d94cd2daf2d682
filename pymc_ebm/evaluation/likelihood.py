"""Mean log density of data under an energy, given its ``log Z``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pymc_ebm._validation import real_array
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
    n_outside : int
        Rows outside the energy's box, where the density is 0: their log
        density is ``-inf``, so ``mean`` is ``-inf`` when there is one, and
        ``se`` and ``se_data`` are then ``nan``.
    """

    mean: float
    se: float
    se_data: float
    se_log_z: float
    n: int
    n_outside: int = 0

    def __float__(self) -> float:
        return self.mean


def log_likelihood(energy: Energy, X: npt.ArrayLike, log_z: float | LogPartition) -> LogLikelihood:
    """Mean log density ``(1/n) Σ_i log p(x_i) = mean(-E(x_i)) - log Z``, with its standard error.

    Parameters
    ----------
    energy : Energy
        The energy ``E``.
    X : array_like, shape (n, dim)
        Data rows (finite; at least one row). A row outside the energy's box
        (:attr:`~pymc_ebm.Energy.domain`) has density 0, log density ``-inf``.
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
    TypeError
        ``energy`` not an :class:`~pymc_ebm.Energy`; ``log_z`` not a number.

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
    X = real_array("X", X)
    if X.ndim != 2 or X.shape[1] != energy.dim or X.shape[0] < 1:
        raise ValueError(f"X must have shape (n, {energy.dim}) with n >= 1, got {X.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError("X must be finite")
    if isinstance(log_z, LogPartition):
        value, se_log_z = log_z.log_z, log_z.se
    else:
        if isinstance(log_z, bool | str | bytes) or np.ndim(log_z) != 0:
            raise TypeError(f"log_z must be a number or a LogPartition, got {log_z!r}")
        try:
            value, se_log_z = float(log_z), 0.0
        except (TypeError, ValueError) as err:
            raise TypeError(f"log_z must be a number or a LogPartition, got {log_z!r}") from err
    if not np.isfinite(value):
        raise ValueError(f"log_z must be finite, got {value}")
    log_density = -np.asarray(energy.energy_fn()(X), dtype=float) - value
    n = X.shape[0]
    outside = np.zeros(n, dtype=bool)
    if energy.domain is not None:
        low, high = energy.domain
        outside = np.any((X < low) | (X > high), axis=1)
    if np.any(outside):  # density 0 there: the truth is -inf, and no spread to speak of
        log_density[outside] = -np.inf
        mean, se_data = -np.inf, np.nan
    else:
        mean = float(np.mean(log_density))
        se_data = float(np.std(log_density, ddof=1) / np.sqrt(n)) if n > 1 else 0.0
    return LogLikelihood(
        mean=mean,
        se=float(np.hypot(se_data, se_log_z)),
        se_data=se_data,
        se_log_z=se_log_z,
        n=n,
        n_outside=int(np.sum(outside)),
    )
