"""Energies whose ``exp(-E)`` provably has an infinite integral on the whole space.

:func:`pymc_ebm.log_partition` refuses such an energy for AIS, whose
estimate would be finite (and wrong: ``log Z = +∞``). Only what can be
proved is refused; an energy is taken as possibly proper otherwise. The
proofs bound ``E`` from above, so ``exp(-E)`` from below:

* An energy on a box (:attr:`~pymc_ebm.Energy.domain`) is never refused,
  nor a product with a :class:`~pymc_ebm.Gaussian` or
  :class:`~pymc_ebm.Mixture` part (a proper factor that confines it), nor
  one with a part this module does not know.
* :class:`~pymc_ebm.StudentT`, :class:`~pymc_ebm.TopographicStudentT` and
  :class:`~pymc_ebm.FASConstraints` see ``v`` only through their filters
  ``W``; a :class:`~pymc_ebm.MLPEnergy` of sigmoid or tanh units (or of
  softplus units with no positive scale) is bounded above. A product of such
  parts whose filters together span fewer than ``dim`` dimensions is flat
  along the rest: improper.
* The same parts grow at most like ``A log(1 + |v|²)`` far away, with
  ``A = Σ α`` (Student-t and topographic experts) plus ``2 Σ α`` (constraint
  units, whose violations are quadratic in ``v``); ``∫ (1 + |v|²)^(-A) dv``
  is infinite when ``2A <= dim``.
* A product of Student-t experts alone with square invertible filters
  factorises: improper when some ``α_j <= 1/2``.
"""

from __future__ import annotations

import numpy as np

from pymc_ebm.energies.base import Energy
from pymc_ebm.energies.combine import ProductOfExperts
from pymc_ebm.energies.constraints import FASConstraints
from pymc_ebm.energies.mlp import MLPEnergy
from pymc_ebm.energies.student_t import StudentT
from pymc_ebm.energies.topographic import TopographicStudentT

__all__ = ["improper_reason"]

_BOUNDED_ACTIVATIONS = ("sigmoid", "tanh")


def _filters_and_growth(part: Energy) -> tuple[np.ndarray, float] | None:
    """Filters a part sees ``v`` through (rows) and its growth ``A``; ``None`` if unknown."""
    if type(part) is StudentT:
        return part.W.get_value().astype(float), float(np.sum(part.alpha))
    if type(part) is TopographicStudentT:
        pools = part.V.sum(axis=1) > 0
        seen = part.V.sum(axis=0) > 0
        return part.W.get_value().astype(float)[seen], float(np.sum(part.alpha[pools]))
    if type(part) is FASConstraints:
        U = part.U.get_value()
        units = np.any(U != 0, axis=1)
        seen = np.any(U != 0, axis=0)
        return part.W.get_value().astype(float)[seen], 2.0 * float(np.sum(part.alpha[units]))
    if type(part) is MLPEnergy:
        bounded = part.activation in _BOUNDED_ACTIVATIONS
        if bounded or np.all(part.scale.get_value() <= 0):  # E bounded above
            return np.zeros((0, part.dim)), 0.0
    return None


def improper_reason(energy: Energy) -> str | None:
    """Why ``exp(-E)`` has an infinite integral, or ``None`` when that is not proved.

    Parameters
    ----------
    energy : Energy
        The energy, on vectors of shape ``(dim,)``.

    Returns
    -------
    str or None
        A sentence saying why ``log Z = +inf``; ``None`` for an energy that
        is proper or may be.

    Examples
    --------
    >>> import pymc_ebm
    >>> from pymc_ebm.evaluation.propriety import improper_reason
    >>> print(improper_reason(pymc_ebm.StudentT([[1.0, 0.0]], [2.0])))
    its StudentT filters span 1 of 2 dimensions: the energy is flat along the other 1
    >>> gauss = pymc_ebm.Gaussian([[0.0, 0.0]], [[10.0, 10.0]])
    >>> improper_reason(pymc_ebm.StudentT([[1.0, 0.0]], [2.0]) * gauss) is None
    True
    """
    if not isinstance(energy, Energy):
        raise TypeError(f"energy must be an Energy, got {type(energy).__name__}")
    if energy.domain is not None:
        return None
    parts = energy.experts if isinstance(energy, ProductOfExperts) else [energy]
    found = [_filters_and_growth(part) for part in parts]
    if any(f is None for f in found):
        return None
    dim = energy.dim
    filters = np.concatenate([f[0] for f in found], axis=0)
    rank = int(np.linalg.matrix_rank(filters)) if len(filters) else 0
    names = "/".join(sorted({type(p).__name__ for p in parts if type(p) is not MLPEnergy}))
    any_mlp = any(type(p) is MLPEnergy for p in parts)
    if rank < dim and not names:
        return (
            "its energy is bounded above (MLPEnergy units that saturate, or no positive "
            "scale), so exp(-E) stays above a positive constant on the whole space"
        )
    if rank < dim:
        return (
            f"its {names} filters span {rank} of {dim} dimensions: the energy is flat along "
            f"the other {dim - rank}" + (" (up to bounded MLPEnergy parts)" if any_mlp else "")
        )
    growth = sum(f[1] for f in found)
    if 2.0 * growth <= dim:
        return (
            f"far away its energy grows at most like A log(1 + |v|²) with A = {growth:g} (the "
            f"sum of its alpha, twice for constraint units), and (1 + |v|²)^(-A) is integrable "
            f"in {dim} dimensions only for A > {dim / 2:g}"
        )
    if all(type(part) is StudentT for part in parts) and len(filters) == dim:
        alpha = np.concatenate([part.alpha for part in parts])
        if np.any(alpha <= 0.5):
            return (
                "it is a complete product of Student-t experts (square invertible W) with "
                "some alpha <= 1/2, whose factor has an infinite integral"
            )
    return None
