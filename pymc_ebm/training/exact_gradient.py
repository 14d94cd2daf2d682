"""Maximum likelihood for 1-D and 2-D energies: the model term of the gradient by quadrature.

The gradient of the mean log-likelihood of data ``d`` is

``∂/∂θ mean_i log p(x_i) = -⟨∂E/∂θ⟩_d + ⟨∂E/∂θ⟩_p``,

where ``⟨·⟩_p`` is the expectation under the model ``p(v) = exp(-E(v)) / Z``.
Contrastive divergence replaces ``⟨∂E/∂θ⟩_p`` by an average over negative
samples. In one or two dimensions it can be computed instead: on the
midpoint grid of :func:`~pymc_ebm.evaluation.quadrature.grid_density`, it is the sum of
``∂E/∂θ`` at the cell midpoints weighted by the normalised density
``w_c = exp(-E(v_c)) / Σ_c' exp(-E(v_c'))``. This is the exact gradient of the
log-likelihood whose ``log Z`` is computed on the same grid
(``log_partition(energy, "quadrature")``), so learning with it is maximum
likelihood up to the quadrature error (``O(h²)`` in the cell width ``h``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pytensor
import pytensor.tensor as pt
from pytensor.gradient import disconnected_grad

from pymc_ebm import backends
from pymc_ebm.energies.base import Energy
from pymc_ebm.evaluation.quadrature import grid_points
from pymc_ebm.training.divergence import DEFAULT_CHECK, DivergenceCheck
from pymc_ebm.training.optimizers import Optimizer
from pymc_ebm.training.trainer import Trainer, check_energy

__all__ = ["MaximumLikelihood", "log_likelihood_gradient", "model_expectation"]


def _model_terms(energy: Energy, points: np.ndarray, log_cell: float):
    """Symbolic ``⟨E⟩_p`` (its gradient is ``⟨∂E/∂θ⟩_p``) and ``log Z`` on the grid."""
    grid = pt.constant(points.astype(pytensor.config.floatX), name="grid")
    neg_energy = -energy.energy(grid)
    weights = disconnected_grad(pt.special.softmax(neg_energy))  # normalised density × cell
    e_model = -pt.sum(weights * neg_energy)
    log_z = pt.logsumexp(neg_energy) + log_cell
    return e_model, log_z


def model_expectation(
    energy: Energy,
    low: npt.ArrayLike | None = None,
    high: npt.ArrayLike | None = None,
    n_points: int | tuple[int, ...] = 128,
) -> dict[str, np.ndarray]:
    """``⟨∂E/∂θ⟩_p``: the model term of the gradient, by quadrature, at the current parameters.

    Parameters
    ----------
    energy : Energy
        An energy with ``dim`` 1 or 2.
    low, high : float or array_like of shape (dim,), optional
        The box (default: the energy's domain); as in
        :func:`~pymc_ebm.evaluation.quadrature.grid_density`.
    n_points : int or tuple of int, default 128
        Cells per dimension.

    Returns
    -------
    dict of str to ndarray
        One array per parameter (``energy.param_names``), shaped like it.

    Examples
    --------
    For one Gaussian expert ``E = (v - μ)² / (2σ²)``, ``∂E/∂μ = -(v - μ)/σ²``
    has mean 0 under the model:

    >>> import pymc_ebm
    >>> from pymc_ebm.training.exact_gradient import model_expectation
    >>> expert = pymc_ebm.Gaussian(mu=[[0.5]], sigma=[[1.0]])
    >>> grad = model_expectation(expert, low=-9.5, high=10.5, n_points=2000)
    >>> bool(abs(grad["mu"][0, 0]) < 1e-8)
    True
    """
    check_energy(energy)
    points, log_cell = grid_points(energy, low, high, n_points)
    e_model, _ = _model_terms(energy, points, log_cell)
    grads = pt.grad(e_model, energy.params)
    values = backends.function([], grads)()
    return {
        name: np.asarray(g, dtype=float)
        for name, g in zip(energy.param_names, values, strict=True)
    }


def log_likelihood_gradient(
    energy: Energy,
    X: npt.ArrayLike,
    low: npt.ArrayLike | None = None,
    high: npt.ArrayLike | None = None,
    n_points: int | tuple[int, ...] = 128,
) -> dict[str, np.ndarray]:
    """Exact gradient of the mean log-likelihood of ``X``: ``-⟨∂E/∂θ⟩_X + ⟨∂E/∂θ⟩_p``.

    ``⟨∂E/∂θ⟩_p`` is :func:`model_expectation` on the grid; the result is the
    derivative of ``log_likelihood(energy, X, log_partition(energy,
    "quadrature", low=low, high=high, n_points=n_points)).mean``.

    Parameters
    ----------
    energy : Energy
        An energy with ``dim`` 1 or 2.
    X : array_like, shape (n, dim)
        Data rows.
    low, high, n_points
        The grid, as in :func:`model_expectation`.

    Returns
    -------
    dict of str to ndarray
        One array per parameter, shaped like it.

    Examples
    --------
    A Gaussian expert's log-likelihood is flat in ``μ`` at the data mean:

    >>> import pymc_ebm
    >>> from pymc_ebm.training.exact_gradient import log_likelihood_gradient
    >>> expert = pymc_ebm.Gaussian(mu=[[1.0]], sigma=[[1.0]])
    >>> grad = log_likelihood_gradient(expert, [[0.0], [2.0]], low=-9, high=11, n_points=2000)
    >>> bool(abs(grad["mu"][0, 0]) < 1e-8)
    True
    """
    check_energy(energy)
    X = np.asarray(X, dtype=pytensor.config.floatX)
    if X.ndim != 2 or X.shape[1] != energy.dim or len(X) < 1:
        raise ValueError(f"X must have shape (n, {energy.dim}) with n >= 1, got {X.shape}")
    points, log_cell = grid_points(energy, low, high, n_points)
    e_model, _ = _model_terms(energy, points, log_cell)
    e_data = pt.mean(energy.energy(pt.constant(X)))
    grads = pt.grad(e_model - e_data, energy.params)
    values = backends.function([], grads)()
    return {
        name: np.asarray(g, dtype=float)
        for name, g in zip(energy.param_names, values, strict=True)
    }


class MaximumLikelihood(Trainer):
    """Stochastic-gradient maximum likelihood with the model term computed exactly on a grid.

    The counterpart of :class:`~pymc_ebm.ContrastiveDivergence` for 1-D and
    2-D energies: each update takes a minibatch ``d`` and moves the
    parameters down ``⟨∂E/∂θ⟩_d − ⟨∂E/∂θ⟩_p (+ weight_decay · θ)``, where
    ``⟨∂E/∂θ⟩_p`` is the expectation under the model, by quadrature on
    ``n_points`` cells per dimension of the energy's box (see
    :func:`model_expectation`) instead of over negative samples. The only
    noise left is that of the minibatch. The data checks (data clipped into
    the box), minibatches, history, ``fit`` loop, backend and non-finite
    guard are those of every :class:`~pymc_ebm.training.Trainer`, as in
    contrastive divergence.

    Parameters
    ----------
    energy : Energy
        The energy to train (``dim`` 1 or 2), updated in place.
    batch_size : int, default 100
    learning_rate : float, default 0.01
    momentum : float, default 0.9
        As in :class:`~pymc_ebm.ContrastiveDivergence`.
    weight_decay : float, default 0.0
        L2 penalty on ``energy.decayed_params``.
    optimizer : {"sgd", "adam"} or Optimizer, default "sgd"
    n_points : int or tuple of int, default 128
        Quadrature cells per dimension.
    low, high : float or array_like of shape (dim,), optional
        The quadrature box (default: the energy's domain).
    random_seed : int, optional
        Seeds the minibatch order.
    compile_kwargs : dict, optional
        Keyword arguments of ``pytensor.function`` for the compiled update
        (e.g. ``mode="JAX"``); without a ``mode``, the package-level backend's
        (:func:`pymc_ebm.set_backend`).
    divergence_check : DivergenceCheck or None, default ``DivergenceCheck()``
        Thresholds of the divergence checks run on every update
        (:mod:`~pymc_ebm.training.divergence`): an update that diverges is
        undone and raises :class:`~pymc_ebm.TrainingDivergedError`.
        ``None`` runs none (the non-finite guard stays).

    Attributes
    ----------
    history : xarray.Dataset
        One entry per update: ``energy_data``, ``energy_negative`` (the
        model's mean energy ``⟨E⟩_p``), ``energy_gap``, ``grad_norm``,
        ``log_z`` (on the grid), ``log_likelihood`` (of the minibatch, before
        the update), parameter norms and ``seconds``.

    Examples
    --------
    >>> import pymc_ebm
    >>> from pymc_ebm.training.exact_gradient import MaximumLikelihood
    >>> expert = pymc_ebm.UniGauss([[0.4, 0.4]], [[0.3, 0.3]], [0.5])
    >>> X = pymc_ebm.datasets.grid_clusters(n=100, random_seed=0)
    >>> ml = MaximumLikelihood(expert, batch_size=20, learning_rate=0.05, n_points=64,
    ...                        random_seed=0)
    >>> history = ml.fit(X, n_updates=5, progressbar=False)
    >>> history.sizes["update"]
    5
    """

    progress_label: ClassVar[str] = "ML updates"

    def __init__(
        self,
        energy: Energy,
        batch_size: int = 100,
        learning_rate: float = 0.01,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        optimizer: str | Optimizer = "sgd",
        n_points: int | tuple[int, ...] = 128,
        low: npt.ArrayLike | None = None,
        high: npt.ArrayLike | None = None,
        random_seed: int | None = None,
        compile_kwargs: dict[str, Any] | None = None,
        divergence_check: DivergenceCheck | None = DEFAULT_CHECK,
    ) -> None:
        super().__init__(
            energy,
            batch_size=batch_size,
            learning_rate=learning_rate,
            momentum=momentum,
            weight_decay=weight_decay,
            optimizer=optimizer,
            compile_kwargs=compile_kwargs,
            batch_rng=random_seed,
            divergence_check=divergence_check,
        )
        self.points, self.log_cell = grid_points(energy, low, high, n_points)
        data = pt.matrix("data", dtype=self._float_x)
        e_data = pt.mean(energy.energy(data))
        e_model, log_z = _model_terms(energy, self.points, self.log_cell)
        finite = pt.isfinite(e_data) & pt.isfinite(log_z)
        self._compile_update([data], e_data, e_model, finite, log_z)

    def _update_step(self, batch: np.ndarray) -> dict[str, float]:
        record, (e_data, _, log_z) = self._run_update(batch)
        record["log_z"] = float(log_z)
        record["log_likelihood"] = float(-e_data - log_z)
        return record

    def _history_attrs(self) -> dict[str, Any]:
        return {"sampler": "exact"}
