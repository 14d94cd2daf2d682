"""Step-size adaptation: PyMC's dual averaging (Hoffman & Gelman 2014) with its NUTS settings.

:func:`search_step_size` finds a starting step size by doubling or halving
(as Stan's ``find_reasonable_epsilon``), and ``dual_averaging(..., warm=True)``
starts the adaptation from it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from pymc.step_methods.step_sizes import DualAverageAdaptation

__all__ = [
    "DUAL_AVERAGING_GAMMA",
    "DUAL_AVERAGING_KAPPA",
    "DUAL_AVERAGING_T0",
    "SEARCH_LIMIT",
    "WarmDualAverageAdaptation",
    "dual_averaging",
    "search_step_size",
]

DUAL_AVERAGING_GAMMA = 0.05
"""Shrinkage of the iterates towards ``10 ε₀`` (PyMC's NUTS default)."""
DUAL_AVERAGING_KAPPA = 0.75
"""Decay of the weights of the averaged step size (PyMC's NUTS default)."""
DUAL_AVERAGING_T0 = 10.0
"""Iterations that damp the first updates (PyMC's NUTS default)."""
SEARCH_LIMIT = 20
"""Most doublings or halvings of :func:`search_step_size` (within ``2^±20`` of its start)."""


class WarmDualAverageAdaptation(DualAverageAdaptation):
    """PyMC's dual averaging shrunk towards its initial step size ``ε₀`` instead of ``10 ε₀``.

    For an ``ε₀`` found by :func:`search_step_size`, whose acceptance is
    already measured near the target: the first iterates then stay near
    ``ε₀`` instead of jumping towards ``10 ε₀`` (where most proposals are
    rejected). Only the shrinkage point ``μ = log ε₀`` differs; the update
    rule is PyMC's.
    """

    def reset(self) -> None:
        """Restart from the initial step size, with ``μ = log ε₀``."""
        super().reset()
        self._mu = np.log(self._initial_step)


def dual_averaging(
    step_size: float, target_accept: float, warm: bool = False
) -> DualAverageAdaptation:
    """PyMC's dual averaging of the step size from ``step_size`` towards ``target_accept``.

    ``warm=False`` is PyMC's own, shrunk towards ``10 step_size``;
    ``warm=True`` is :class:`WarmDualAverageAdaptation`, shrunk towards
    ``step_size`` itself (for a step size from :func:`search_step_size`).

    Examples
    --------
    >>> adapt = dual_averaging(0.1, 0.65)
    >>> adapt.update(1.0, True)  # every proposal accepted: the step size grows
    >>> bool(adapt.current(True) > 0.1)
    True
    >>> warm = dual_averaging(0.1, 0.65, warm=True)
    >>> warm.update(0.78, True)  # a little above the target: a small rise
    >>> round(float(warm.current(True)), 3), round(float(adapt.current(True)) > 1.0)
    (0.127, 1)
    """
    if not isinstance(warm, bool | np.bool_):
        raise TypeError(f"warm must be True or False, got {warm!r}")
    cls = WarmDualAverageAdaptation if warm else DualAverageAdaptation
    return cls(
        step_size, target_accept, DUAL_AVERAGING_GAMMA, DUAL_AVERAGING_KAPPA, DUAL_AVERAGING_T0
    )


def search_step_size(
    accept_rate: Callable[[float], float],
    step_size: float,
    target_accept: float,
    limit: int = SEARCH_LIMIT,
) -> float:
    """A starting step size: double or halve ``step_size`` until the acceptance crosses the target.

    As Stan's ``find_reasonable_epsilon`` (Hoffman & Gelman 2014, Algorithm
    4), but the threshold is ``target_accept`` rather than Stan's fixed one,
    because ``accept_rate`` measures the whole trajectory that dual
    averaging then tunes (Stan's search takes a single leapfrog step). From
    an acceptance above the target the step size doubles, else it halves,
    until the acceptance is on the other side. The result is the largest
    step size tried whose acceptance is above the target, so (for a
    decreasing ``accept_rate``) the crossing lies between it and twice it.
    After ``limit`` doublings (halvings) without a crossing the search stops
    there: the result is never beyond ``2^±limit`` times ``step_size``.

    Parameters
    ----------
    accept_rate : callable
        Mean acceptance probability at a step size, in ``[0, 1]``; NaN
        counts as 0 (nothing accepted).
    step_size : float
        Start of the search (positive, finite).
    target_accept : float
        Acceptance to cross, in ``(0, 1)``.
    limit : int, default :data:`SEARCH_LIMIT`
        Most doublings or halvings (a non-negative integer).

    Returns
    -------
    float
        The step size found.

    References
    ----------
    .. [1] Hoffman, M. D. and Gelman, A. (2014). The No-U-Turn sampler.
       *Journal of Machine Learning Research* 15, 1593-1623.

    Examples
    --------
    >>> import math
    >>> eps = search_step_size(lambda e: math.exp(-e * e), 0.1, 0.65)
    >>> math.exp(-eps**2) > 0.65 >= math.exp(-(2 * eps) ** 2)
    True
    """
    step_size = float(step_size)
    if not (math.isfinite(step_size) and step_size > 0):
        raise ValueError(f"step_size must be positive and finite, got {step_size!r}")
    if not 0 < target_accept < 1:
        raise ValueError(f"target_accept must be in (0, 1), got {target_accept!r}")
    if isinstance(limit, bool) or not isinstance(limit, int | np.integer) or limit < 0:
        raise ValueError(f"limit must be a non-negative integer, got {limit!r}")

    def above(eps: float) -> bool:
        rate = float(accept_rate(eps))
        return not math.isnan(rate) and rate > target_accept

    factor = 2.0 if above(step_size) else 0.5
    for _ in range(int(limit)):
        candidate = step_size * factor
        if above(candidate) != (factor > 1):  # the acceptance crossed the target
            return step_size if factor > 1 else candidate
        step_size = candidate
    return step_size
