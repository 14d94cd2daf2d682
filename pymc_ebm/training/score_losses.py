"""Score-matching losses of an energy as pure symbolic functions (no ``pm.Model``, no state).

The model's score is ``s(v) = ∇_v log p(v) = −∇_v E(v)``: it does not depend
on the normalising constant, so these losses fit an energy without ``Z``
and without negative samples. Each function returns a scalar PyTensor
graph, the mean over the batch's rows, whose gradient in the energy's
parameters is the update direction of :class:`~pymc_ebm.ScoreMatching`.

* :func:`exact_score_loss` (Hyvärinen 2005): ``mean ½|∇E|² − tr ∇²E``, which
  equals ``½ E_data |s − s_data|²`` up to a constant that does not depend on
  the parameters; the Laplacian comes from :meth:`~pymc_ebm.Energy.laplacian`.
* :func:`sliced_score_loss` (Song et al. 2019, the variance-reduced form):
  ``tr ∇²E`` replaced by ``uᵀ ∇²E u`` for random projections ``u`` with
  ``E[u uᵀ] = I``: an unbiased estimate of the exact loss, one extra backward
  pass whatever the dimension.
* :func:`denoising_score_loss` (Vincent 2011): the score at noised data
  ``ṽ = v + σ ε`` matched to ``−ε / σ``; its optimum is the score of the
  *noised* data density (the data convolved with ``N(0, σ² I)``), not of the
  data's own.

All three assume the density lives on the whole space: on a box the
boundary terms of the integration by parts do not vanish (the exact and
sliced losses are then wrong) and noised data leave the box.

References
----------
.. [1] Hyvärinen, A. (2005). Estimation of non-normalized statistical models
   by score matching. *JMLR*, 6, 695-709.
.. [2] Song, Y., Garg, S., Shi, J. and Ermon, S. (2019). Sliced score
   matching: a scalable approach to density and score estimation. *UAI*.
.. [3] Vincent, P. (2011). A connection between score matching and
   denoising autoencoders. *Neural Computation*, 23(7), 1661-1674.
"""

from __future__ import annotations

from typing import Any

import pytensor.tensor as pt
from pytensor.tensor.variable import TensorVariable

from pymc_ebm.energies.base import Energy, energy_gradient

__all__ = ["denoising_score_loss", "exact_score_loss", "sliced_score_loss"]


def _matrix(name: str, value: Any, dim: int) -> TensorVariable:
    value = pt.as_tensor_variable(value)
    if value.ndim != 2:
        raise ValueError(f"{name} must be a matrix of shape (n, {dim}), got {value.ndim} dims")
    return value


def exact_score_loss(energy: Energy, v: TensorVariable) -> TensorVariable:
    """Hyvärinen's score-matching loss ``mean_rows[½ |∇_v E|² − tr ∇²_v E]``.

    Parameters
    ----------
    energy : Energy
        An energy on the whole space, with a Laplacian (closed form, or exact
        second derivatives up to ``LAPLACIAN_AUTODIFF_LIMIT`` dimensions: see
        :meth:`~pymc_ebm.Energy.laplacian`).
    v : TensorVariable, shape (n, dim)
        Data rows (symbolic: the derivatives are taken with respect to them).

    Returns
    -------
    TensorVariable
        Scalar.

    Examples
    --------
    For one Gaussian expert ``N(0, 1)`` at ``v = 1``: ``½ · 1 − 1 = −½``.

    >>> import numpy as np, pytensor.tensor as pt, pymc_ebm
    >>> from pymc_ebm.training.score_losses import exact_score_loss
    >>> v = pt.matrix("v")
    >>> loss = exact_score_loss(pymc_ebm.Gaussian([[0.0]], [[1.0]]), v)
    >>> float(loss.eval({v: np.array([[1.0]])}))
    -0.5
    """
    v = _matrix("v", v, energy.dim)
    grad = energy_gradient(energy, v)
    return pt.mean(0.5 * pt.sum(pt.sqr(grad), axis=1) - energy.laplacian(v))


def sliced_score_loss(
    energy: Energy, v: TensorVariable, projections: TensorVariable
) -> TensorVariable:
    """Sliced score-matching loss, variance-reduced: ``mean[½ |∇E|² − uᵀ ∇²E u]``.

    The mean runs over the rows and the projections; ``uᵀ ∇²E u`` is the
    derivative of ``uᵀ ∇E`` along ``u``, one backward pass for all
    projections at once (the rows are repeated once per projection). For
    projections with ``E[u uᵀ] = I`` (standard normal, or Rademacher) the
    loss is an unbiased estimate of :func:`exact_score_loss`.

    Parameters
    ----------
    energy : Energy
        An energy on the whole space.
    v : TensorVariable, shape (n, dim)
        Data rows.
    projections : TensorVariable, shape (n_projections, n, dim)
        Random directions, one set per row.

    Returns
    -------
    TensorVariable
        Scalar.

    Examples
    --------
    For one Gaussian expert ``N(0, 1)``, ``uᵀ ∇²E u = u²``; at ``v = 1`` and ``u = 1``
    the loss is the exact one:

    >>> import numpy as np, pytensor.tensor as pt, pymc_ebm
    >>> from pymc_ebm.training.score_losses import sliced_score_loss
    >>> v, u = pt.matrix("v"), pt.tensor3("u")
    >>> loss = sliced_score_loss(pymc_ebm.Gaussian([[0.0]], [[1.0]]), v, u)
    >>> float(loss.eval({v: np.array([[1.0]]), u: np.ones((1, 1, 1))}))
    -0.5
    """
    v = _matrix("v", v, energy.dim)
    projections = pt.as_tensor_variable(projections)
    if projections.ndim != 3:
        raise ValueError(
            f"projections must have shape (n_projections, n, {energy.dim}), "
            f"got {projections.ndim} dims"
        )
    u = projections.reshape((-1, v.shape[1]))
    repeated = pt.tile(v, (projections.shape[0], 1))
    grad = energy_gradient(energy, repeated)
    # rows are independent: ∂/∂v of Σ_rows uᵀ∇E is, row by row, ∇²E u
    hessian_u = pt.grad(pt.sum(grad * u), repeated)
    return pt.mean(0.5 * pt.sum(pt.sqr(grad), axis=1) - pt.sum(u * hessian_u, axis=1))


def denoising_score_loss(
    energy: Energy, v: TensorVariable, noise: TensorVariable, sigma: float
) -> TensorVariable:
    """Denoising score-matching loss ``mean ½ |∇E(v + σ ε) − ε / σ|²``.

    The model's score ``−∇E`` at the noised point ``ṽ = v + σ ε`` is matched
    to the score of the noise kernel, ``∇_ṽ log N(ṽ; v, σ² I) = −ε / σ``.
    The minimiser is the score of the noised data density (the data
    convolved with ``N(0, σ² I)``): a Gaussian fit learns the data's
    variance **plus** ``σ²``.

    Parameters
    ----------
    energy : Energy
        An energy on the whole space.
    v : TensorVariable, shape (n, dim)
        Data rows.
    noise : TensorVariable, shape (n, dim)
        Standard normal draws ``ε``.
    sigma : float
        The noise scale ``σ > 0``.

    Returns
    -------
    TensorVariable
        Scalar.

    Examples
    --------
    A Gaussian ``N(0, 1)`` at ``v = 0`` with ``ε = 1``, ``σ = 1``:
    ``∇E(1) = 1 = ε / σ``, a perfect match.

    >>> import numpy as np, pytensor.tensor as pt, pymc_ebm
    >>> from pymc_ebm.training.score_losses import denoising_score_loss
    >>> v, eps = pt.matrix("v"), pt.matrix("eps")
    >>> loss = denoising_score_loss(pymc_ebm.Gaussian([[0.0]], [[1.0]]), v, eps, 1.0)
    >>> float(loss.eval({v: np.zeros((1, 1)), eps: np.ones((1, 1))}))
    0.0
    """
    v = _matrix("v", v, energy.dim)
    noise = _matrix("noise", noise, energy.dim)
    noised = v + sigma * noise
    grad = energy_gradient(energy, noised)
    return pt.mean(0.5 * pt.sum(pt.sqr(grad - noise / sigma), axis=1))
