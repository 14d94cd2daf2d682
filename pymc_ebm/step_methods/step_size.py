"""Step-size adaptation: PyMC's dual averaging (Hoffman & Gelman 2014) with its NUTS settings."""

from __future__ import annotations

from pymc.step_methods.step_sizes import DualAverageAdaptation

__all__ = ["DUAL_AVERAGING_GAMMA", "DUAL_AVERAGING_KAPPA", "DUAL_AVERAGING_T0", "dual_averaging"]

DUAL_AVERAGING_GAMMA = 0.05
"""Shrinkage of the iterates towards ``10 ε₀`` (PyMC's NUTS default)."""
DUAL_AVERAGING_KAPPA = 0.75
"""Decay of the weights of the averaged step size (PyMC's NUTS default)."""
DUAL_AVERAGING_T0 = 10.0
"""Iterations that damp the first updates (PyMC's NUTS default)."""


def dual_averaging(step_size: float, target_accept: float) -> DualAverageAdaptation:
    """PyMC's dual averaging of the step size from ``step_size`` towards ``target_accept``.

    Examples
    --------
    >>> adapt = dual_averaging(0.1, 0.65)
    >>> adapt.update(1.0, True)  # every proposal accepted: the step size grows
    >>> bool(adapt.current(True) > 0.1)
    True
    """
    return DualAverageAdaptation(
        step_size, target_accept, DUAL_AVERAGING_GAMMA, DUAL_AVERAGING_KAPPA, DUAL_AVERAGING_T0
    )
