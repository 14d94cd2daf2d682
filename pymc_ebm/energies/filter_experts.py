"""What Student-t-style experts share: learned filters ``W`` and positive weights ``alpha``."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytensor.tensor as pt
from pytensor.tensor.variable import TensorVariable

from pymc_ebm._ops.layout import contiguous_transpose
from pymc_ebm._validation import check_shape, float_array

__all__ = ["FilterExperts"]


class FilterExperts:
    """Mixin for an :class:`~pymc_ebm.Energy` with filters ``W`` and weights ``alpha > 0``.

    ``W`` (shape ``(n_filters, dim)``) and ``log_alpha`` are learned
    parameters; weight decay shrinks ``W`` only.
    """

    def _add_filters_and_weights(
        self, W: np.ndarray, alpha: npt.ArrayLike, n_weights: int
    ) -> None:
        """Check ``alpha`` (shape ``(n_weights,)``, positive) and add both parameters."""
        alpha = float_array("alpha", alpha, ndim=1)
        check_shape("alpha", alpha, (n_weights,))
        if np.any(alpha <= 0):
            raise ValueError("alpha must be positive")
        self.W = self._add_param("W", W)  # type: ignore[attr-defined]
        self.log_alpha = self._add_param("log_alpha", np.log(alpha))  # type: ignore[attr-defined]

    @property
    def alpha(self) -> np.ndarray:
        """Current expert weights, shape ``(n_experts,)``."""
        return np.exp(self.log_alpha.get_value())

    @property
    def decayed_params(self) -> list[str]:
        """Weight decay shrinks the filters ``W`` only."""
        return ["W"]

    def filter_outputs(self, v: TensorVariable) -> TensorVariable:
        """Filter outputs ``v Wᵀ``, shape ``(n, n_filters)`` (a row-major ``Wᵀ`` for BLAS)."""
        v = self._visible(v)  # type: ignore[attr-defined]
        return pt.dot(v, contiguous_transpose(self.W))
