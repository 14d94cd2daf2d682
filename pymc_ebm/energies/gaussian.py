"""Axis-aligned Gaussian experts."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytensor.tensor as pt
from pytensor.tensor.variable import TensorVariable

from pymc_ebm._validation import check_shape, expert_matrix, float_array
from pymc_ebm.energies.base import Energy

__all__ = ["Gaussian", "check_location_scale", "gaussian_log_density"]

LOG_2PI = float(np.log(2.0 * np.pi))


def check_location_scale(mu: npt.ArrayLike, sigma: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Expert means and standard deviations as float arrays of one shape ``(n_experts, dim)``.

    Raises ``ValueError`` unless both are 2-D of the same shape, with at least
    one expert and one dimension, and ``sigma > 0``.
    """
    mu = expert_matrix("mu", mu)
    sigma = float_array("sigma", sigma, ndim=2)
    check_shape("sigma", sigma, mu.shape)
    if np.any(sigma <= 0):
        raise ValueError("sigma must be positive")
    return mu, sigma


def gaussian_log_density(v: TensorVariable, mu, log_sigma) -> TensorVariable:
    """Log density of diagonal Gaussians, one column per expert.

    Parameters
    ----------
    v : TensorVariable, shape (n, dim)
        Visible vectors.
    mu : TensorVariable, shape (n_experts, dim)
        Means.
    log_sigma : TensorVariable, shape (n_experts, dim)
        Log standard deviations.

    Returns
    -------
    TensorVariable, shape (n, n_experts)
    """
    z = (v[:, None, :] - mu[None, :, :]) * pt.exp(-log_sigma)[None, :, :]
    # cast the (int64) dimension, or it would upcast float32 graphs to float64
    dim = pt.cast(mu.shape[-1], z.dtype)
    return (
        -0.5 * pt.sum(z**2, axis=-1) - pt.sum(log_sigma, axis=-1)[None, :] - (0.5 * LOG_2PI * dim)
    )


class Gaussian(Energy):
    """Product of axis-aligned Gaussian experts, ``E(v) = -Σ_j log N(v; μ_j, diag σ_j²)``.

    Each expert is a normalised density, so a product of ``M`` equal experts
    is a Gaussian with variance ``σ²/M`` on each dimension. Proper on the whole
    space; the parameters are ``mu`` and ``log_sigma``.

    Parameters
    ----------
    mu : array_like, shape (n_experts, dim)
        Means.
    sigma : array_like, shape (n_experts, dim)
        Standard deviations, positive.

    Examples
    --------
    >>> import numpy as np
    >>> import pymc_ebm
    >>> experts = pymc_ebm.Gaussian(mu=np.zeros((4, 2)), sigma=np.ones((4, 2)))
    >>> experts.energy_fn()(np.zeros((1, 2))).shape
    (1,)
    """

    def __init__(self, mu: npt.ArrayLike, sigma: npt.ArrayLike) -> None:
        super().__init__()
        mu, sigma = check_location_scale(mu, sigma)
        self.n_experts, self.dim = mu.shape
        self.mu = self._add_param("mu", mu)
        self.log_sigma = self._add_param("log_sigma", np.log(sigma))

    @property
    def sigma(self) -> np.ndarray:
        """Current standard deviations, shape ``(n_experts, dim)``."""
        return np.exp(self.log_sigma.get_value())

    def expert_log_density(self, v: TensorVariable) -> TensorVariable:
        """Log density of each Gaussian expert, shape ``(n, n_experts)``."""
        v = self._visible(v)
        return gaussian_log_density(v, self.mu, self.log_sigma)

    def energy(self, v: TensorVariable) -> TensorVariable:
        """Per-row energy ``-Σ_j log N(v; μ_j, σ_j)``, shape ``(n,)``."""
        v = self._visible(v)
        return -pt.sum(self.expert_log_density(v), axis=1)

    def laplacian(self, v: TensorVariable) -> TensorVariable:
        """Per-row ``tr ∇²_v E = Σ_j Σ_i 1/σ_ji²`` (the same for every row), shape ``(n,)``."""
        v = self._visible(v)
        return pt.zeros_like(v[:, 0]) + pt.sum(pt.exp(-2.0 * self.log_sigma))

    def init_kwargs(self) -> dict[str, Any]:
        """Constructor arguments with the current values."""
        return {"mu": self.mu.get_value().copy(), "sigma": self.sigma}

    def structure_kwargs(self) -> dict[str, Any]:
        """Placeholder ``mu = 0``, ``sigma = 1`` of the right shape."""
        shape = (self.n_experts, self.dim)
        return {"mu": np.zeros(shape), "sigma": np.ones(shape)}
