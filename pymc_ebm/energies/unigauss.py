"""Uni-gauss experts: a Gaussian mixed with a uniform over a box ("energy dimples")."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytensor.tensor as pt
from pytensor.tensor.math import softplus
from pytensor.tensor.variable import TensorVariable

from pymc_ebm._validation import box_bound, check_shape, float_array, visible_batch
from pymc_ebm.energies.base import Energy
from pymc_ebm.energies.gaussian import check_location_scale, gaussian_log_density

__all__ = ["UniGauss"]


class UniGauss(Energy):
    """Product of uni-gauss experts on a box.

    Expert ``j`` is ``p_j(v) = π_j N(v; μ_j, diag σ_j²) + (1 - π_j) / r`` with
    ``r`` the volume of the box ``[low, high]^dim``. Each expert has a binary
    hidden state ``h_j`` (1: it used its Gaussian), with joint energy

    ``E(v, h) = -Σ_j [h_j (log π_j + log N_j(v)) + (1 - h_j) (log(1 - π_j) - log r)]``,

    and :meth:`energy` is the free energy with ``h`` summed out,
    ``E(v) = -Σ_j log p_j(v)``. The density lives on the box (the visible
    variable is a ``pm.Uniform``), so it is always proper.

    Parameters
    ----------
    mu, sigma : array_like, shape (n_experts, dim)
        Means and (positive) standard deviations of the Gaussians.
    pi : array_like, shape (n_experts,)
        Mixing proportions of the Gaussians, in (0, 1).
    low, high : float or array_like of shape (dim,)
        The box; ``low < high`` on every dimension.

    Examples
    --------
    >>> import numpy as np
    >>> import pymc_ebm
    >>> experts = pymc_ebm.UniGauss(
    ...     mu=[[0.3, 0.5], [0.7, 0.5]], sigma=np.full((2, 2), 0.1), pi=[0.5, 0.5]
    ... )
    >>> experts.energy_fn()(np.array([[0.3, 0.5], [0.0, 0.0]])).shape
    (2,)
    """

    def __init__(
        self,
        mu: npt.ArrayLike,
        sigma: npt.ArrayLike,
        pi: npt.ArrayLike,
        low: npt.ArrayLike = 0.0,
        high: npt.ArrayLike = 1.0,
    ) -> None:
        super().__init__()
        mu, sigma = check_location_scale(mu, sigma)
        self.n_experts, self.dim = mu.shape
        pi = float_array("pi", pi, ndim=1)
        check_shape("pi", pi, (self.n_experts,))
        if np.any((pi <= 0) | (pi >= 1)):
            raise ValueError("pi must lie in the open interval (0, 1)")
        low = box_bound("low", low, self.dim)
        high = box_bound("high", high, self.dim)
        if np.any(low >= high):
            raise ValueError("low must be smaller than high on every dimension")
        self.domain = (low, high)
        self.log_volume = float(np.sum(np.log(high - low)))
        self.mu = self._add_param("mu", mu)
        self.log_sigma = self._add_param("log_sigma", np.log(sigma))
        self.logit_pi = self._add_param("logit_pi", np.log(pi) - np.log1p(-pi))

    @property
    def sigma(self) -> np.ndarray:
        """Current standard deviations, shape ``(n_experts, dim)``."""
        return np.exp(self.log_sigma.get_value())

    @property
    def pi(self) -> np.ndarray:
        """Current mixing proportions of the Gaussians, shape ``(n_experts,)``."""
        return 1.0 / (1.0 + np.exp(-self.logit_pi.get_value()))

    def _log_parts(self, v: TensorVariable) -> tuple[TensorVariable, TensorVariable]:
        """Log weight of the Gaussian (n, n_experts) and of the uniform (n_experts,)."""
        v = self._visible(v)
        log_gauss = -softplus(-self.logit_pi)[None, :] + gaussian_log_density(
            v, self.mu, self.log_sigma
        )
        log_uniform = -softplus(self.logit_pi) - self.log_volume
        return log_gauss, log_uniform

    def expert_log_density(self, v: TensorVariable) -> TensorVariable:
        """Log density of each uni-gauss expert, shape ``(n, n_experts)``."""
        log_gauss, log_uniform = self._log_parts(v)
        return pt.logaddexp(log_gauss, log_uniform[None, :])

    def energy(self, v: TensorVariable) -> TensorVariable:
        """Free energy with the hidden states summed out, shape ``(n,)``."""
        return -pt.sum(self.expert_log_density(v), axis=1)

    def joint_energy(self, v: TensorVariable, h: TensorVariable) -> TensorVariable:
        """Energy of visibles and hidden states together.

        Parameters
        ----------
        v : TensorVariable, shape (n, dim)
            Visible vectors.
        h : TensorVariable or array_like, shape (n, n_experts)
            Binary states, 1 where the expert uses its Gaussian (refused,
            ``ValueError`` naming ``h``, in another shape).

        Returns
        -------
        TensorVariable, shape (n,)
        """
        log_gauss, log_uniform = self._log_parts(v)
        h = pt.cast(visible_batch("h", h, self.n_experts), log_gauss.dtype)
        return -pt.sum(h * log_gauss + (1 - h) * log_uniform[None, :], axis=1)

    def hidden_logits(self, v: TensorVariable) -> TensorVariable:
        """Log-odds of ``h_j = 1`` given ``v`` (the exact posterior), shape ``(n, n_experts)``."""
        log_gauss, log_uniform = self._log_parts(v)
        return log_gauss - log_uniform[None, :]

    def init_kwargs(self) -> dict[str, Any]:
        """Constructor arguments with the current values."""
        low, high = self.domain
        return {
            "mu": self.mu.get_value().copy(),
            "sigma": self.sigma,
            "pi": self.pi,
            "low": low.copy(),
            "high": high.copy(),
        }

    def structure_kwargs(self) -> dict[str, Any]:
        """The box, with placeholder ``mu = low``, ``sigma = 1``, ``pi = 1/2``."""
        low, high = self.domain
        shape = (self.n_experts, self.dim)
        return {
            "mu": np.broadcast_to(low, shape).copy(),
            "sigma": np.ones(shape),
            "pi": np.full(self.n_experts, 0.5),
            "low": low.copy(),
            "high": high.copy(),
        }
