"""Topographic products of Student-t experts: squared filter outputs pooled locally."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytensor.tensor as pt
from pytensor.tensor.variable import TensorVariable

from pymc_ebm._ops.log1p import log1p
from pymc_ebm._validation import expert_matrix, positive_int
from pymc_ebm.energies.base import Energy
from pymc_ebm.energies.filter_experts import FilterExperts

__all__ = ["TopographicStudentT", "torus_pooling"]


class TopographicStudentT(FilterExperts, Energy):
    """Topographic product of Student-t experts, ``E(v) = Σ_i α_i log(1 + ½ Σ_j V_ij (w_j·v)²)``.

    Each expert ``i`` pools the squared outputs of the filters ``w_j`` it
    is connected to by the fixed, non-negative pooling matrix ``V``; filters
    pooled together are penalised jointly, so that learning places filters
    that are violated together in the same pools. With ``V`` from
    :func:`torus_pooling` the filters sit on a 2-D grid and the learned map
    is topographic. With ``V = I`` this is :class:`~pymc_ebm.StudentT`.
    The learnable parameters are ``W`` and ``log_alpha``; ``V`` is fixed.

    Parameters
    ----------
    W : array_like, shape (n_filters, dim)
        Filters.
    alpha : array_like, shape (n_experts,)
        Positive weights of the experts (pools).
    V : array_like, shape (n_experts, n_filters)
        Fixed pooling matrix, finite and non-negative.

    Attributes
    ----------
    n_filters : int
        Number of filters.
    V : ndarray, shape (n_experts, n_filters)
        The pooling matrix (float64, read-only).

    References
    ----------
    .. [1] Osindero, S., Welling, M. and Hinton, G. E. (2006). Topographic
       product models applied to natural scene statistics. *Neural
       Computation*, 18(2), 381-414.

    Examples
    --------
    >>> import numpy as np, pymc_ebm
    >>> from pymc_ebm.energies import TopographicStudentT, torus_pooling
    >>> V = torus_pooling(3, 3, size=3)
    >>> experts = TopographicStudentT(W=np.eye(9), alpha=np.ones(9), V=V)
    >>> experts.n_experts, experts.n_filters, experts.dim
    (9, 9, 9)
    >>> v = np.zeros((1, 9)); v[0, 0] = 2.0  # filter 0 (output 2) is in the 9 pools
    >>> bool(np.isclose(experts.energy_fn()(v)[0], 9 * np.log(3.0)))
    True
    """

    def __init__(self, W: npt.ArrayLike, alpha: npt.ArrayLike, V: npt.ArrayLike) -> None:
        super().__init__()
        W = expert_matrix("W", W, rows="filter")
        self.n_filters, self.dim = W.shape
        V = expert_matrix("V", V, columns="filter")
        if V.shape[1] != self.n_filters:
            raise ValueError(
                f"V must have one column per filter: shape (n_experts, {self.n_filters}), "
                f"got {V.shape}"
            )
        if np.any(V < 0):
            raise ValueError("V must be non-negative")
        self.n_experts = V.shape[0]
        self._add_filters_and_weights(W, alpha, self.n_experts)
        V.flags.writeable = False
        self.V = V

    def pooled(self, v: TensorVariable) -> TensorVariable:
        """Pooled squared outputs ``(v Wᵀ)² Vᵀ``, shape ``(n, n_experts)``."""
        v = self._visible(v)
        V = pt.constant(self.V.T.astype(self.W.dtype))
        return pt.dot(self.filter_outputs(v) ** 2, V)

    def energy(self, v: TensorVariable) -> TensorVariable:
        """Per-row energy, shape ``(n,)``."""
        return pt.dot(log1p(0.5 * self.pooled(self._visible(v))), pt.exp(self.log_alpha))

    def laplacian(self, v: TensorVariable) -> TensorVariable:
        """Per-row ``tr ∇²_v E``, shape ``(n,)``, in closed form.

        With the pooled ``p_i = Σ_j V_ij s_j²`` (``s = v Wᵀ``):
        ``tr ∇²E = Σ_i α_i [Σ_j V_ij |w_j|² / (1 + ½ p_i) − |Σ_j V_ij s_j w_j|² / (1 + ½ p_i)²]``.
        Costs ``n · n_experts · n_filters · dim`` operations (the pooled gradients).
        """
        v = self._visible(v)
        s = self.filter_outputs(v)
        V = pt.constant(self.V.astype(self.W.dtype))
        scale = 1.0 + 0.5 * pt.dot(pt.sqr(s), V.T)  # (n, n_experts)
        pooled_grad = pt.dot(s[:, None, :] * V[None, :, :], self.W)  # (n, n_experts, dim)
        trace = pt.dot(V, pt.sum(pt.sqr(self.W), axis=1))  # (n_experts,)
        per_expert = trace / scale - pt.sum(pt.sqr(pooled_grad), axis=2) / pt.sqr(scale)
        return pt.dot(per_expert, pt.exp(self.log_alpha))

    def init_kwargs(self) -> dict[str, Any]:
        """Constructor arguments with the current values."""
        return {"W": self.W.get_value().copy(), "alpha": self.alpha, "V": np.array(self.V)}

    def structure_kwargs(self) -> dict[str, Any]:
        """Placeholder ``W = 0``, ``alpha = 1`` of the right shapes, and ``V`` itself."""
        return {
            "W": np.zeros((self.n_filters, self.dim)),
            "alpha": np.ones(self.n_experts),
            "V": np.array(self.V),
        }

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(dim={self.dim}, n_filters={self.n_filters}, "
            f"n_experts={self.n_experts})"
        )


def torus_pooling(rows: int, cols: int, size: int = 3) -> np.ndarray:
    """Local pooling over filters laid out on a ``rows × cols`` torus.

    Filter ``j`` sits at grid position ``(j // cols, j % cols)``; expert ``i``
    (one per grid position) pools the ``size × size`` window of filters
    around its own position, wrapping around the edges (offsets
    ``-(size - 1) // 2 … size // 2`` in each direction, centred for odd
    ``size``).

    Parameters
    ----------
    rows, cols : int
        Grid shape; ``rows * cols`` filters and experts.
    size : int, default 3
        Side of the neighbourhood window, ``1 <= size <= min(rows, cols)``
        (``1`` gives the identity: a plain product of Student-t experts).

    Returns
    -------
    ndarray, shape (rows * cols, rows * cols)
        0/1 pooling matrix ``V``, each row with ``size²`` ones.

    Raises
    ------
    ValueError
        For a non-positive grid side or ``size`` outside ``[1, min(rows, cols)]``.

    Examples
    --------
    >>> from pymc_ebm.energies import torus_pooling
    >>> V = torus_pooling(4, 4, size=3)
    >>> V.shape, V.sum(axis=1).tolist() == [9.0] * 16, V[0, 3], V[0, 2]
    ((16, 16), True, np.float64(1.0), np.float64(0.0))
    """
    rows = positive_int("rows", rows)
    cols = positive_int("cols", cols)
    size = positive_int("size", size)
    if size > min(rows, cols):
        raise ValueError(
            f"size must be at most min(rows, cols) = {min(rows, cols)} (a window larger than "
            f"the torus would pool a filter twice), got {size}"
        )
    offsets = np.arange(-((size - 1) // 2), size // 2 + 1)
    r, c = np.divmod(np.arange(rows * cols), cols)
    V = np.zeros((rows * cols, rows * cols))
    for dr in offsets:
        for dc in offsets:
            V[np.arange(rows * cols), ((r + dr) % rows) * cols + (c + dc) % cols] = 1.0
    return V
