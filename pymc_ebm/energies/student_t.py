"""Student-t experts: heavy-tailed penalties on frequently approximately satisfied constraints."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytensor.tensor as pt
from pytensor.tensor.variable import TensorVariable

from pymc_ebm._ops.log1p import log1p
from pymc_ebm._validation import expert_matrix
from pymc_ebm.energies.base import Energy
from pymc_ebm.energies.filter_experts import FilterExperts

__all__ = ["StudentT"]


class StudentT(FilterExperts, Energy):
    """Product of Student-t experts, ``E(v) = Σ_j α_j log(1 + ½ (W_j · v)²)``.

    Each row ``W_j`` is a linear constraint; its violation ``W_j · v`` costs
    energy that grows only logarithmically, so a constraint that is already
    badly violated does not make things much worse. In one dimension a single
    expert is a Student-t with ``ν = 2α - 1`` degrees of freedom and scale
    ``√(2/ν) / |W|``. The product is proper on the whole space when the rows
    of ``W`` span it and every direction gets total ``α`` above ``1/2``; add a
    broad :class:`~pymc_ebm.Gaussian` expert to confine it otherwise.
    The parameters are ``W`` and ``log_alpha``.

    Parameters
    ----------
    W : array_like, shape (n_experts, dim)
        Filters.
    alpha : array_like, shape (n_experts,)
        Positive weights of the experts.

    Examples
    --------
    >>> import pymc_ebm
    >>> expert = pymc_ebm.StudentT(W=[[1.0]], alpha=[3.5])
    >>> float(expert.energy_fn()([[0.0]])[0])
    0.0
    """

    def __init__(self, W: npt.ArrayLike, alpha: npt.ArrayLike) -> None:
        super().__init__()
        W = expert_matrix("W", W)
        self.n_experts, self.dim = W.shape
        self._add_filters_and_weights(W, alpha, self.n_experts)

    def energy(self, v: TensorVariable) -> TensorVariable:
        """Per-row energy, shape ``(n,)``."""
        s = self.filter_outputs(self._visible(v))
        return pt.dot(log1p(0.5 * s**2), pt.exp(self.log_alpha))

    def laplacian(self, v: TensorVariable) -> TensorVariable:
        """Per-row ``tr ∇²_v E = Σ_j α_j |W_j|² (1 − ½ s_j²) / (1 + ½ s_j²)²``, shape ``(n,)``.

        ``s_j = W_j · v``; costs one product ``v Wᵀ`` (as the energy).
        """
        s = self.filter_outputs(self._visible(v))
        half = 0.5 * pt.sqr(s)
        curvature = (1.0 - half) / pt.sqr(1.0 + half)
        weights = pt.exp(self.log_alpha) * pt.sum(pt.sqr(self.W), axis=1)
        return pt.dot(curvature, weights)

    def init_kwargs(self) -> dict[str, Any]:
        """Constructor arguments with the current values."""
        return {"W": self.W.get_value().copy(), "alpha": self.alpha}

    def structure_kwargs(self) -> dict[str, Any]:
        """Placeholder ``W = 0``, ``alpha = 1`` of the right shapes."""
        return {"W": np.zeros((self.n_experts, self.dim)), "alpha": np.ones(self.n_experts)}
