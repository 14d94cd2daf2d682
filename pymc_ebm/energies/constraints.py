"""Frequently approximately satisfied constraints: the arm network of the lecture.

Squared linear filters feed constraint units; each unit's violation costs a
heavy-tailed energy, so a constraint that is already badly violated costs
little more ("don't learn when things don't make sense").
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytensor.tensor as pt
from pytensor.tensor.variable import TensorVariable

from pymc_ebm._ops.log1p import log1p
from pymc_ebm._validation import check_shape, expert_matrix, float_array, positive_int
from pymc_ebm.energies.base import Energy

__all__ = ["FASConstraints"]


class FASConstraints(Energy):
    r"""Constraint units on squared linear filters (the arm network, contrastive backpropagation).

    ``E(v) = Σ_k α_k log(1 + ½ c_k(v)²)`` with the constraint outputs
    ``c_k(v) = Σ_j U_kj (w_j · v)² + b_k``: linear filters ``w_j`` of the
    visibles are squared, each constraint unit takes a learned weighted sum of
    the squares plus a learned bias, and its violation ``c_k`` contributes a
    Student-t (heavy-tailed) energy. A link of the lecture's arm,
    ``Δx² + Δy² + Δz² − l² = 0``, is one such constraint: three filters take
    the coordinate differences of its two joints, ``U`` adds their squares
    and ``b = −l²``. A unit can also learn a combination of several
    constraints ("superimposing constraints").

    **Normalisability.** The energy only grows logarithmically with the
    violations, and it is flat along every direction that no filter sees
    (for the arm: moving the whole arm), so ``exp(-E)`` is in general *not*
    normalisable on its own. Multiply it by a broad
    :class:`~pymc_ebm.Gaussian` expert (``constraints * Gaussian(...)``),
    which confines every direction, before sampling from it or learning it.

    The parameters are ``W``, ``U``, ``b`` and (unless ``learn_alpha=False``)
    ``log_alpha``; weight decay shrinks ``W`` and ``U``.

    Parameters
    ----------
    W : array_like, shape (n_filters, dim)
        Linear filters.
    U : array_like, shape (n_units, n_filters)
        Weights of the squared filter outputs in each constraint unit.
    b : array_like, shape (n_units,)
        Biases of the constraint units.
    alpha : array_like, shape (n_units,)
        Positive weights of the units' violation energies.
    learn_alpha : bool, default True
        Whether ``alpha`` is a learned parameter (``log_alpha``) or fixed.

    References
    ----------
    .. [1] Hinton, G. E., Welling, M., Teh, Y. W. and Osindero, S. (2001). A new
       view of ICA. *Proc. ICA 2001*.
    .. [2] Hinton, G. E., Welling, M. and Mnih, A. (2004). Wormholes improve
       contrastive divergence. *NIPS 16*.

    Examples
    --------
    One link of length 1 between two joints on a line (``v = (x_1, x_2)``):

    >>> import numpy as np, pymc_ebm
    >>> link = pymc_ebm.FASConstraints(W=[[1.0, -1.0]], U=[[1.0]], b=[-1.0], alpha=[1.0])
    >>> np.round(link.energy_fn()([[0.0, 1.0], [0.0, 3.0]]), 3)
    array([0.   , 3.497])
    """

    def __init__(
        self,
        W: npt.ArrayLike,
        U: npt.ArrayLike,
        b: npt.ArrayLike,
        alpha: npt.ArrayLike,
        learn_alpha: bool = True,
    ) -> None:
        super().__init__()
        W = expert_matrix("W", W, rows="filter")
        n_filters, self.dim = W.shape
        U = expert_matrix("U", U, rows="constraint unit", columns="filter")
        if U.shape[1] != n_filters:
            raise ValueError(f"U must have shape (n_units, {n_filters}), got {U.shape}")
        self.n_units = self.n_experts = U.shape[0]
        self.n_filters = n_filters
        b = float_array("b", b, ndim=1)
        check_shape("b", b, (self.n_units,))
        alpha = float_array("alpha", alpha, ndim=1)
        check_shape("alpha", alpha, (self.n_units,))
        if np.any(alpha <= 0):
            raise ValueError("alpha must be positive")
        self.learn_alpha = bool(learn_alpha)
        self.W = self._add_param("W", W)
        self.U = self._add_param("U", U)
        self.b = self._add_param("b", b)
        if self.learn_alpha:
            self.log_alpha = self._add_param("log_alpha", np.log(alpha))
        else:
            self._fixed_alpha = alpha.astype(self.W.dtype)

    @classmethod
    def random(
        cls,
        dim: int,
        n_filters: int,
        n_units: int,
        *,
        alpha: float = 1.0,
        learn_alpha: bool = True,
        scale: float = 1.0,
        random_seed: int | np.random.Generator | None = None,
    ) -> FASConstraints:
        """Small random filters and unit weights, zero biases.

        Parameters
        ----------
        dim, n_filters, n_units : int
            Visible units, filters and constraint units.
        alpha : float, default 1.0
            Initial weight of every unit.
        learn_alpha : bool, default True
            See the class.
        scale : float, default 1.0
            Typical size of the data: filters are drawn with norm about
            ``1 / scale``, so that filter outputs start of order one.
        random_seed : int or Generator, optional
            Seed of the initial weights.

        Returns
        -------
        FASConstraints

        Examples
        --------
        >>> import pymc_ebm
        >>> net = pymc_ebm.FASConstraints.random(15, 12, 4, random_seed=0)
        >>> net.get_params()["W"].shape, net.get_params()["U"].shape
        ((12, 15), (4, 12))
        """
        dim = positive_int("dim", dim)
        n_filters = positive_int("n_filters", n_filters)
        n_units = positive_int("n_units", n_units)
        rng = np.random.default_rng(random_seed)
        W = rng.standard_normal((n_filters, dim)) / (np.sqrt(dim) * scale)
        U = rng.standard_normal((n_units, n_filters)) / np.sqrt(n_filters)
        return cls(W, U, np.zeros(n_units), np.full(n_units, alpha), learn_alpha=learn_alpha)

    @property
    def alpha(self) -> np.ndarray:
        """Current unit weights, shape ``(n_units,)``."""
        if self.learn_alpha:
            return np.exp(self.log_alpha.get_value())
        return self._fixed_alpha.copy()

    @property
    def decayed_params(self) -> list[str]:
        """Weight decay shrinks the filters ``W`` and the unit weights ``U``."""
        return ["W", "U"]

    def constraint_outputs(self, v: TensorVariable) -> TensorVariable:
        """Constraint violations ``c_k(v)``, shape ``(n, n_units)``."""
        squares = pt.sqr(pt.dot(self._visible(v), self.W.T))
        return pt.dot(squares, self.U.T) + self.b

    def energy(self, v: TensorVariable) -> TensorVariable:
        """Per-row energy, shape ``(n,)``."""
        c = self.constraint_outputs(self._visible(v))
        alpha = pt.exp(self.log_alpha) if self.learn_alpha else pt.as_tensor(self._fixed_alpha)
        return pt.dot(log1p(0.5 * pt.sqr(c)), alpha)

    def laplacian(self, v: TensorVariable) -> TensorVariable:
        """Per-row ``tr ∇²_v E``, shape ``(n,)``, in closed form.

        With ``f(c) = log(1 + ½ c²)``, ``∇c_k = 2 Σ_j U_kj s_j w_j`` and
        ``tr ∇²c_k = 2 Σ_j U_kj |w_j|²`` (``s = v Wᵀ``):
        ``tr ∇²E = Σ_k α_k [f''(c_k) |∇c_k|² + f'(c_k) tr ∇²c_k]``. Costs
        ``n · n_units · n_filters · dim`` operations (the ``∇c_k``).
        """
        v = self._visible(v)
        s = pt.dot(v, self.W.T)
        c = pt.dot(pt.sqr(s), self.U.T) + self.b
        half = 0.5 * pt.sqr(c)
        first = c / (1.0 + half)
        second = (1.0 - half) / pt.sqr(1.0 + half)
        grad_c = 2.0 * pt.dot(s[:, None, :] * self.U[None, :, :], self.W)  # (n, units, dim)
        trace_c = 2.0 * pt.dot(self.U, pt.sum(pt.sqr(self.W), axis=1))  # (units,)
        alpha = pt.exp(self.log_alpha) if self.learn_alpha else pt.as_tensor(self._fixed_alpha)
        per_unit = second * pt.sum(pt.sqr(grad_c), axis=2) + first * trace_c
        return pt.dot(per_unit, alpha)

    def quadratic_forms(self) -> np.ndarray:
        """``M_k = Σ_j U_kj w_j w_jᵀ`` of every unit, shape ``(n_units, dim, dim)``.

        ``c_k(v) = vᵀ M_k v + b_k``; used to read which constraints a unit learned.
        """
        W = self.W.get_value()
        U = self.U.get_value()
        return np.einsum("kj,ja,jb->kab", U, W, W)

    def init_kwargs(self) -> dict[str, Any]:
        """Constructor arguments with the current values."""
        return {
            "W": self.W.get_value().copy(),
            "U": self.U.get_value().copy(),
            "b": self.b.get_value().copy(),
            "alpha": self.alpha,
            "learn_alpha": self.learn_alpha,
        }

    def structure_kwargs(self) -> dict[str, Any]:
        """Placeholder parameter values of the right shapes (fixed ``alpha`` kept)."""
        return {
            "W": np.zeros((self.n_filters, self.dim)),
            "U": np.zeros((self.n_units, self.n_filters)),
            "b": np.zeros(self.n_units),
            "alpha": self.alpha if not self.learn_alpha else np.ones(self.n_units),
            "learn_alpha": self.learn_alpha,
        }
