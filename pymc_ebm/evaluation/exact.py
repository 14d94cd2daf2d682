"""Closed-form log partition functions: products of Gaussians and complete Student-t products.

* A product of axis-aligned Gaussian experts (:class:`~pymc_ebm.Gaussian`,
  or a :class:`~pymc_ebm.ProductOfExperts` of them) is, on each dimension,
  a product of normalised 1-D Gaussians: with precisions ``λ_j = 1/σ_j²``,
  ``λ = Σ_j λ_j`` and ``m = Σ_j λ_j μ_j / λ``,

  ``log ∫ Π_j N(v; μ_j, σ_j²) dv = Σ_j ½ log(λ_j/2π) + ½ log(2π/λ) - ½ (Σ_j λ_j μ_j² - λ m²)``.

* A complete :class:`~pymc_ebm.StudentT` (square, invertible ``W``) becomes,
  with ``y = W v``, a product of independent 1-D factors ``(1 + ½ y_j²)^(-α_j)``:

  ``log Z = -log|det W| + Σ_j log Z_j(α_j)``,
  ``Z_j(α) = ∫ (1 + ½ y²)^(-α) dy = √(2π) Γ(α - ½) / Γ(α)``  (finite for ``α > ½``).
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from pymc_ebm.energies.base import Energy
from pymc_ebm.energies.combine import ProductOfExperts
from pymc_ebm.energies.gaussian import Gaussian
from pymc_ebm.energies.student_t import StudentT

__all__ = ["exact_log_partition", "gaussian_product_log_z", "student_t_log_z"]

LOG_2PI = float(np.log(2.0 * np.pi))


def gaussian_product_log_z(mu: np.ndarray, sigma: np.ndarray) -> float:
    """``log ∫ Π_j N(v; μ_j, diag σ_j²) dv`` for ``mu``, ``sigma`` of shape ``(n_experts, dim)``.

    Examples
    --------
    Four standard Gaussian experts in 1-D: ``Z = (2π)^(-3/2) / 2``.

    >>> import numpy as np
    >>> from pymc_ebm.evaluation.exact import gaussian_product_log_z
    >>> log_z = gaussian_product_log_z(np.zeros((4, 1)), np.ones((4, 1)))
    >>> bool(np.isclose(log_z, -1.5 * np.log(2 * np.pi) - np.log(2.0)))
    True
    """
    lam = 1.0 / np.asarray(sigma, dtype=float) ** 2
    mu = np.asarray(mu, dtype=float)
    total = lam.sum(axis=0)
    mean = (lam * mu).sum(axis=0) / total
    per_dim = (
        0.5 * np.sum(np.log(lam) - LOG_2PI, axis=0)
        + 0.5 * (LOG_2PI - np.log(total))
        - 0.5 * ((lam * mu**2).sum(axis=0) - total * mean**2)
    )
    return float(per_dim.sum())


def student_t_log_z(W: np.ndarray, alpha: np.ndarray) -> float:
    """``log ∫ Π_j (1 + ½ (W_j · v)²)^(-α_j) dv`` for a square invertible ``W``, ``α_j > ½``.

    Examples
    --------
    One expert ``(1 + ½ v²)^(-1)``: ``Z = √2 π``.

    >>> import numpy as np
    >>> from pymc_ebm.evaluation.exact import student_t_log_z
    >>> bool(np.isclose(student_t_log_z(np.eye(1), np.array([1.0])), np.log(np.sqrt(2) * np.pi)))
    True
    """
    W = np.asarray(W, dtype=float)
    alpha = np.asarray(alpha, dtype=float)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(
            f"a closed form needs a complete StudentT (square W), got W of shape {W.shape}"
        )
    sign, log_det = np.linalg.slogdet(W)
    if sign == 0 or not np.isfinite(log_det):
        raise ValueError("a closed form needs an invertible W; this one is singular")
    if np.any(alpha <= 0.5):
        raise ValueError(
            "the StudentT density is improper: every alpha must exceed 1/2 for a finite Z"
        )
    log_zj = 0.5 * LOG_2PI + gammaln(alpha - 0.5) - gammaln(alpha)
    return float(-log_det + np.sum(log_zj))


def _gaussian_parts(energy: Energy) -> list[Gaussian] | None:
    """The Gaussian experts an energy is made of, or ``None`` if it has another part."""
    if isinstance(energy, Gaussian):
        return [energy]
    if isinstance(energy, ProductOfExperts):
        parts = [_gaussian_parts(e) for e in energy.experts]
        if all(p is not None for p in parts):
            return [g for p in parts for g in p]
    return None


def exact_log_partition(energy: Energy) -> float:
    """Closed-form ``log Z`` of a product of Gaussians or a complete StudentT.

    Parameters
    ----------
    energy : Energy
        A :class:`~pymc_ebm.Gaussian`, a :class:`~pymc_ebm.ProductOfExperts`
        of Gaussians only, or a :class:`~pymc_ebm.StudentT` with square
        invertible ``W`` and every ``α > ½``.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        For any other energy (no closed form), or an improper StudentT.
    """
    gaussians = _gaussian_parts(energy)
    if gaussians is not None:
        mu = np.concatenate([g.mu.get_value() for g in gaussians])
        return gaussian_product_log_z(mu, np.concatenate([g.sigma for g in gaussians]))
    if isinstance(energy, StudentT):
        return student_t_log_z(energy.W.get_value(), energy.alpha)
    raise ValueError(
        f"no closed-form log Z for {energy!r}: 'exact' covers products of Gaussian experts "
        "and a complete StudentT (square invertible W); use method='quadrature' (1-D/2-D) "
        "or method='ais'"
    )
