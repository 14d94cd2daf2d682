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

import time

import numpy as np
import numpy.typing as npt
import pytensor
import pytensor.tensor as pt
import xarray as xr
from pytensor.gradient import disconnected_grad

from pymc_ebm._validation import finite_float, positive_int
from pymc_ebm.energies.base import Energy
from pymc_ebm.evaluation.quadrature import grid_points
from pymc_ebm.training.optimizers import Optimizer, guarded_step, make_optimizer
from pymc_ebm.training.progress import UpdateProgress

__all__ = ["MaximumLikelihood", "log_likelihood_gradient", "model_expectation"]


def _model_terms(energy: Energy, points: np.ndarray, log_cell: float):
    """Symbolic ``⟨E⟩_p`` (its gradient is ``⟨∂E/∂θ⟩_p``) and ``log Z`` on the grid."""
    grid = pt.constant(points.astype(pytensor.config.floatX), name="grid")
    neg_energy = -energy.energy(grid)
    weights = disconnected_grad(pt.special.softmax(neg_energy))  # normalised density × cell
    e_model = -pt.sum(weights * neg_energy)
    log_z = pt.logsumexp(neg_energy) + log_cell
    return e_model, log_z


def _check_energy(energy: Energy) -> None:
    if not isinstance(energy, Energy):
        raise TypeError(f"energy must be an Energy, got {type(energy).__name__}")


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
    _check_energy(energy)
    points, log_cell = grid_points(energy, low, high, n_points)
    e_model, _ = _model_terms(energy, points, log_cell)
    grads = pt.grad(e_model, energy.params)
    values = pytensor.function([], grads)()
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
    _check_energy(energy)
    X = np.asarray(X, dtype=pytensor.config.floatX)
    if X.ndim != 2 or X.shape[1] != energy.dim or len(X) < 1:
        raise ValueError(f"X must have shape (n, {energy.dim}) with n >= 1, got {X.shape}")
    points, log_cell = grid_points(energy, low, high, n_points)
    e_model, _ = _model_terms(energy, points, log_cell)
    e_data = pt.mean(energy.energy(pt.constant(X)))
    grads = pt.grad(e_model - e_data, energy.params)
    values = pytensor.function([], grads)()
    return {
        name: np.asarray(g, dtype=float)
        for name, g in zip(energy.param_names, values, strict=True)
    }


class MaximumLikelihood:
    """Stochastic-gradient maximum likelihood with the model term computed exactly on a grid.

    The counterpart of :class:`~pymc_ebm.ContrastiveDivergence` for 1-D and
    2-D energies: each update takes a minibatch ``d`` and moves the
    parameters down ``⟨∂E/∂θ⟩_d − ⟨∂E/∂θ⟩_p (+ weight_decay · θ)``, where
    ``⟨∂E/∂θ⟩_p`` is the expectation under the model, by quadrature on
    ``n_points`` cells per dimension of the energy's box (see
    :func:`model_expectation`) instead of over negative samples. The only
    noise left is that of the minibatch. Same optimisers, weight decay,
    minibatch order and non-finite guard as contrastive divergence.

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
    >>> history = ml.fit(X, n_updates=5, progress=False)
    >>> history.sizes["update"]
    5
    """

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
    ) -> None:
        _check_energy(energy)
        self.energy = energy
        self.batch_size = positive_int("batch_size", batch_size)
        self.weight_decay = finite_float("weight_decay", weight_decay, low=0.0)
        self.optimizer = make_optimizer(optimizer, learning_rate, momentum)
        self.points, self.log_cell = grid_points(energy, low, high, n_points)
        self._rng = np.random.default_rng(random_seed)
        # the dtype the update is compiled in; data are cast to it whatever floatX is later
        self._float_x = pytensor.config.floatX
        self._update = self._compile_update()
        self._records: list[dict[str, float]] = []
        self._order: np.ndarray = np.empty(0, dtype=int)

    def _compile_update(self):
        energy = self.energy
        data = pt.matrix("data", dtype=pytensor.config.floatX)
        e_data = pt.mean(energy.energy(data))
        e_model, log_z = _model_terms(energy, self.points, self.log_cell)
        guarded, finite, grad_norm = guarded_step(
            energy,
            e_data - e_model,
            self.optimizer,
            self.weight_decay,
            pt.isfinite(e_data) & pt.isfinite(log_z),
        )
        return pytensor.function(
            [data],
            [e_data, e_model, log_z, finite, grad_norm],
            updates=guarded,
            trust_input=True,
        )

    def _check_data(self, X: npt.ArrayLike, name: str) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.energy.dim:
            raise ValueError(
                f"{name} must have shape (n, {self.energy.dim}) for this energy, got {X.shape}"
            )
        if not np.all(np.isfinite(X)):
            raise ValueError(f"{name} contains NaN or inf")
        if self.energy.domain is not None:
            low, high = self.energy.domain
            if np.any(X < low) or np.any(X > high):
                raise ValueError(f"{name} has values outside the energy's box [{low}, {high}]")
        return X.astype(self._float_x)

    def partial_fit(self, batch: npt.ArrayLike) -> dict[str, float]:
        """One update on one minibatch, shape ``(batch_size, dim)``; returns its record."""
        batch = self._check_data(batch, "batch")
        if batch.shape[0] != self.batch_size:
            raise ValueError(f"batch must have {self.batch_size} rows, got {batch.shape[0]}")
        return self._step(batch)

    def _step(self, batch: np.ndarray) -> dict[str, float]:
        from pymc_ebm.training.contrastive_divergence import NonFiniteUpdateError

        started = time.perf_counter()
        e_data, e_model, log_z, finite, grad_norm = self._update(batch)
        if not finite:
            raise NonFiniteUpdateError(
                f"update {len(self._records)} gave non-finite energies or parameters; "
                "parameters were left at the last good update. Lower the learning rate."
            )
        record = {
            "energy_data": float(e_data),
            "energy_negative": float(e_model),
            "energy_gap": float(e_model - e_data),
            "grad_norm": float(grad_norm),
            "log_z": float(log_z),
            "log_likelihood": float(-e_data - log_z),
            **{
                f"norm_{name}": float(np.linalg.norm(p.get_value(borrow=True)))
                for name, p in zip(self.energy.param_names, self.energy.params, strict=True)
            },
            "seconds": time.perf_counter() - started,
        }
        self._records.append(record)
        return record

    def fit(self, X: npt.ArrayLike, n_updates: int = 1000, progress: bool = True) -> xr.Dataset:
        """Run ``n_updates`` updates on shuffled minibatches of ``X`` (shape ``(n, dim)``).

        Returns :attr:`history`. Ctrl-C stops after the last finished update.
        """
        X = self._check_data(X, "X")
        n_updates = positive_int("n_updates", n_updates)
        if len(X) < self.batch_size:
            raise ValueError(f"X has {len(X)} rows, fewer than batch_size={self.batch_size}")
        with UpdateProgress(n_updates, enabled=progress) as bar:
            try:
                for _ in range(n_updates):
                    if self._order.size < self.batch_size:
                        self._order = np.concatenate([self._order, self._rng.permutation(len(X))])
                    rows, self._order = (
                        self._order[: self.batch_size],
                        self._order[self.batch_size :],
                    )
                    bar.advance(self._step(X[rows]))
            except KeyboardInterrupt:
                bar.interrupted(len(self._records))
        return self.history

    @property
    def history(self) -> xr.Dataset:
        """Training history, one entry per update (see the class docstring)."""
        keys = list(self._records[0]) if self._records else []
        data = {
            key: ("update", np.array([r[key] for r in self._records], dtype=float)) for key in keys
        }
        return xr.Dataset(
            data,
            coords={"update": np.arange(len(self._records))},
            attrs={"sampler": "exact", "batch_size": self.batch_size},
        )
