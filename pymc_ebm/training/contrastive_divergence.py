"""Learning an energy by contrastive divergence (CD-k, persistent CD, HMC shortcut)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import numpy.typing as npt
import pytensor
import pytensor.tensor as pt
import xarray as xr

from pymc_ebm import backends
from pymc_ebm._validation import finite_float, non_negative_int, positive_int
from pymc_ebm.energies.base import Energy
from pymc_ebm.training.missing_inputs import Minibatch, MissingInputs, check_missing_kwargs
from pymc_ebm.training.negative_phase import SAMPLERS, NegativePhase, StepFactory
from pymc_ebm.training.optimizers import Optimizer, guarded_step, make_optimizer
from pymc_ebm.training.progress import UpdateProgress

__all__ = ["ContrastiveDivergence", "Minibatch", "NonFiniteUpdateError"]


class NonFiniteUpdateError(FloatingPointError):
    """An update produced non-finite energies or parameters; nothing was written."""


class ContrastiveDivergence:
    """Contrastive-divergence learning of an energy's parameters.

    Each update takes a minibatch ``d``, gets negative samples ``c`` by
    running a PyMC step method ``k`` times on a batch model (from the data:
    CD-k, the lecture's "shortcut"; or from persistent chains: PCD), and
    moves the shared parameters down

    ``⟨∂E/∂θ⟩_d − ⟨∂E/∂θ⟩_c  (+ weight_decay · θ)``

    with SGD-momentum or Adam, in one compiled PyTensor function. The
    parameters live on an unconstrained scale (``log_sigma``, ``logit_pi``...),
    so they always stay valid. An update whose energies or new parameters
    are not finite is not applied: :class:`NonFiniteUpdateError` is raised
    and the parameters and history of the last good update remain.

    Parameters
    ----------
    energy : Energy
        The energy to train, updated in place.
    sampler : {"gibbs", "hmc", "nuts"} or callable, default "gibbs"
        Negative-phase step method: :class:`~pymc_ebm.UniGaussGibbs` (uni-gauss
        energies), :class:`~pymc_ebm.ShortRunHMC`, PyMC's ``NUTS``, or a
        callable ``f(model, **step_kwargs)`` returning a step method.
    k : int, default 1
        Step-method calls per update.
    batch_size : int, default 100
        Rows per minibatch (and rows of the batch model).
    learning_rate : float, default 0.01
    momentum : float, default 0.9
        In ``[0, 1)``. SGD's momentum, or Adam's ``beta1`` (the decay rate of
        its first moment): ``momentum=0.0`` with ``optimizer="adam"`` means
        ``beta1 = 0``, not Adam's usual 0.9.
    weight_decay : float, default 0.0
        L2 penalty ``½ weight_decay |θ|²`` on the parameters listed in
        ``energy.decayed_params``: weights such as ``StudentT.W`` or the layer
        matrices of ``MLPEnergy``, never locations, scales or mixing
        proportions (``Gaussian``, ``UniGauss`` and ``Mixture`` decay nothing).
    optimizer : {"sgd", "adam"} or Optimizer, default "sgd"
        ``"sgd"``: PyMC's ``pm.momentum`` (``pm.sgd`` when ``momentum=0``);
        ``"adam"``: ``pm.adam``; or an
        :class:`~pymc_ebm.training.optimizers.Optimizer` (its own settings).
    persistent : bool, default False
        Keep the negative chains between updates (PCD).
    step_kwargs : dict, optional
        Passed to the step method (e.g. ``n_steps``, ``step_size``).
    random_seed : int, optional
        Seeds minibatch order and the step method.
    fast_path : bool, default True
        Passed to :class:`~pymc_ebm.training.negative_phase.NegativePhase`:
        with the plain ``"gibbs"`` sampler, draw the negatives with the
        uni-gauss kernel directly (the same draws as through
        ``UniGaussGibbs.step``, faster). ``False`` always goes through the
        step method's ``step`` (for comparisons).
    missing : {None, "fill", "hmc"}, default None
        Learning with missing inputs (``NaN`` entries of the data; without
        it, ``NaN`` is a ``ValueError``). The missing entries of the training
        set are filled in at random once (uniformly on the energy's box, or
        between the observed minimum and maximum of their column) and kept
        in :attr:`filled`; each time a row is used in a minibatch, its
        filled-in entries move at the current parameters before the update
        uses the row, and are written back when the update succeeds.
        ``"fill"``: ``n_fill_steps`` steps of size ``fill_step_size`` down
        ``∂E/∂v`` (the lecture's procedure; the filled-in values head for the
        conditional mode, so a learned spread is biased low). ``"hmc"``:
        ``n_draws`` Hamiltonian Monte Carlo draws (masked leapfrog, a
        Metropolis test per row) from the conditional of the missing entries
        given the observed ones (exact); see
        :mod:`pymc_ebm.training.missing_inputs`. The observed
        entries never change. Because the filled-in values belong to rows
        of the training set, ``fit``/``minibatches`` must get the same ``X``
        at every call (checked), and :meth:`minibatches` yields
        :class:`~pymc_ebm.training.Minibatch` ``(values, rows)``.
    missing_kwargs : dict, optional
        ``"fill"``: ``n_fill_steps`` (default 5), ``fill_step_size``
        (default 0.01). ``"hmc"``: ``n_draws`` (default 1) and, as in
        ShortRunHMC, ``n_steps`` (default 10), ``step_size`` (initial,
        default 0.1), ``target_accept`` (0.65), ``step_jitter`` (0.15).
    average_from : int, optional
        Polyak–Ruppert averaging: from the update with this index on
        (0-based, counting every update of this trainer), keep the running
        mean of the parameters after each update in :attr:`averaged_params`;
        :meth:`use_average` writes it into the energy. The mean damps the
        noise that a constant learning rate leaves in the parameters (in the
        arm study, seeds 0-2, it brought the fitted constraint units whose
        biases match their links within 10 % from 3 of 5, 4 of 8 and 5 of 6
        to 5 of 6, 8 of 8 and 5 of 6, most within 2 %). Start it once the
        fit has settled: parameters that are still free to trade places or
        signs (two experts swapping, a squared filter flipping) average to
        neither. Training itself, the negative phase and the missing inputs
        always use the current parameters. ``None`` (default): no averaging.
    compile_kwargs : dict, optional
        Keyword arguments of ``pytensor.function`` for the compiled update
        (e.g. ``mode="JAX"``); without a ``mode``, the package-level backend's
        (:func:`pymc_ebm.set_backend`). The step method takes its own in
        ``step_kwargs``.

    Attributes
    ----------
    history : xarray.Dataset
        One entry per finished update along dimension ``update``. With
        ``missing``, also ``fill_n_missing`` (missing entries in the
        minibatch), ``fill_move_rms`` (root mean square change of their
        filled-in values in that update; NaN when there are none) and, with
        ``"hmc"``, ``fill_accept``.
    missing_inputs : MissingInputs or None
        The filled-in training set and the functions that move it.
    averaged_params : dict or None
        With ``average_from``: the running mean of each parameter (by name,
        unconstrained scale, float64) over the updates averaged so far;
        ``None`` before the first of them.
    n_averaged : int
        How many updates :attr:`averaged_params` is the mean of.

    Examples
    --------
    >>> import numpy as np, pymc_ebm
    >>> expert = pymc_ebm.UniGauss([[0.4, 0.4]], [[0.3, 0.3]], [0.5])
    >>> cd = pymc_ebm.ContrastiveDivergence(expert, batch_size=20, learning_rate=0.05,
    ...                                      random_seed=0)
    >>> X = pymc_ebm.datasets.grid_clusters(n=100, random_seed=0)
    >>> history = cd.fit(X, n_updates=5, progress=False)
    >>> history.sizes["update"]
    5

    With 10% of the entries missing:

    >>> X[np.random.default_rng(1).random(X.shape) < 0.1] = np.nan
    >>> cd = pymc_ebm.ContrastiveDivergence(expert, batch_size=20, learning_rate=0.05,
    ...                                      missing="fill", random_seed=0)
    >>> history = cd.fit(X, n_updates=5, progress=False)
    >>> observed = ~np.isnan(X)
    >>> bool(np.isfinite(cd.filled).all()), bool((cd.filled[observed] == X[observed]).all())
    (True, True)
    """

    def __init__(
        self,
        energy: Energy,
        sampler: str | StepFactory = "gibbs",
        k: int = 1,
        batch_size: int = 100,
        learning_rate: float = 0.01,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        optimizer: str | Optimizer = "sgd",
        persistent: bool = False,
        step_kwargs: dict[str, Any] | None = None,
        random_seed: int | None = None,
        fast_path: bool = True,
        missing: str | None = None,
        missing_kwargs: dict[str, Any] | None = None,
        average_from: int | None = None,
        compile_kwargs: dict[str, Any] | None = None,
    ) -> None:
        if not isinstance(energy, Energy):
            raise TypeError(f"energy must be an Energy, got {type(energy).__name__}")
        if not callable(sampler) and sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS} or a callable, got {sampler!r}")
        if missing is None and missing_kwargs is not None:
            raise ValueError("missing_kwargs needs missing='fill' or 'hmc'")
        if missing is not None:  # checked before anything is compiled
            missing_kwargs = check_missing_kwargs(missing, missing_kwargs)
        self.k = positive_int("k", k)
        self.batch_size = positive_int("batch_size", batch_size)
        self.energy = energy
        self.sampler = sampler
        self.weight_decay = finite_float("weight_decay", weight_decay, low=0.0)
        self.persistent = bool(persistent)
        self.average_from = (
            None if average_from is None else non_negative_int("average_from", average_from)
        )
        self.averaged_params: dict[str, np.ndarray] | None = None
        self.n_averaged = 0
        self.optimizer = make_optimizer(optimizer, learning_rate, momentum)
        self.compile_kwargs = backends.compile_kwargs(compile_kwargs)
        # the dtype everything is compiled in; data are cast to it whatever floatX is later
        self._float_x = pytensor.config.floatX
        self._rng = np.random.default_rng(random_seed)
        step_rng, self._batch_rng = self._rng.spawn(2)
        self.negative_phase = NegativePhase(
            energy, self.batch_size, sampler, step_kwargs, step_rng, fast_path=fast_path
        )
        self.missing = missing
        self.missing_inputs = (
            None
            if missing is None
            else MissingInputs(
                energy, self.batch_size, missing, missing_kwargs, self._rng.spawn(1)[0]
            )
        )
        self._update = self._compile_update()
        self._records: list[dict[str, float]] = []
        self._chains: np.ndarray | None = None
        self._order: np.ndarray = np.empty(0, dtype=int)

    # -- the compiled update ---------------------------------------------
    def _compile_update(self):
        energy = self.energy
        data = pt.matrix("data", dtype=pytensor.config.floatX)
        negatives = pt.matrix("negatives", dtype=pytensor.config.floatX)
        e_data = pt.mean(energy.energy(data))
        e_negative = pt.mean(energy.energy(negatives))
        guarded, finite, grad_norm = guarded_step(
            energy,
            e_data - e_negative,
            self.optimizer,
            self.weight_decay,
            pt.isfinite(e_data) & pt.isfinite(e_negative),
        )
        return pytensor.function(
            [data, negatives],
            [e_data, e_negative, finite, grad_norm],
            updates=guarded,
            trust_input=True,
            **self.compile_kwargs,
        )

    # -- validation --------------------------------------------------------
    def _check_data(
        self, X: npt.ArrayLike, name: str = "X", allow_nan: bool = False
    ) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != self.energy.dim:
            raise ValueError(
                f"{name} must have shape (n, {self.energy.dim}) for this energy, got {X.shape}"
            )
        if allow_nan:
            if np.any(np.isinf(X)):
                raise ValueError(f"{name} contains inf")
            empty = np.isnan(X).all(axis=1)
            if np.any(empty):
                raise ValueError(
                    f"{name} has rows with every entry missing (NaN): "
                    f"{np.flatnonzero(empty)[:10].tolist()}"
                )
        elif not np.all(np.isfinite(X)):
            hint = (
                " (for data with missing entries, pass missing='fill' or 'hmc' "
                "to ContrastiveDivergence)"
                if self.missing is None and np.any(np.isnan(X))
                else ""
            )
            raise ValueError(f"{name} contains NaN or inf{hint}")
        if self.energy.domain is not None:
            low, high = self.energy.domain
            if np.any(X < low) or np.any(X > high):
                raise ValueError(f"{name} has values outside the energy's box [{low}, {high}]")
            margin = 1e-6 * (high - low)
            X = np.clip(X, low + margin, high - margin)
        return X.astype(self._float_x)

    # -- training ----------------------------------------------------------
    def partial_fit(
        self,
        batch: npt.ArrayLike | Minibatch,
        negatives: npt.ArrayLike | None = None,
        *,
        rows: npt.ArrayLike | None = None,
    ) -> dict[str, float]:
        """One update on one minibatch; returns its record (one entry of :attr:`history`).

        Parameters
        ----------
        batch : array_like, shape (batch_size, dim), or Minibatch
            The data of this update. With ``missing``, a
            :class:`~pymc_ebm.training.Minibatch` from :meth:`minibatches`
            (or rows of the training set with ``rows``); an array without
            ``rows`` must then have no missing entry.
        negatives : array_like, shape (batch_size, dim), optional
            Negative samples to use instead of running the negative phase
            (e.g. drawn by another sampler); with ``persistent=True`` they
            become the chains of the next update. The record then has no
            step statistics.
        rows : array_like of int, shape (batch_size,), optional
            With ``missing``: the indices of ``batch`` in the training set
            passed to :meth:`fit`/:meth:`minibatches`, whose filled-in values
            are used, moved and kept.
        """
        if isinstance(batch, Minibatch):
            if rows is not None:
                raise ValueError("rows given twice: in the Minibatch and as rows")
            batch, rows = batch
        if rows is not None and self.missing_inputs is None:
            raise ValueError("rows is only used with missing='fill' or 'hmc'")
        if rows is None:
            batch = self._check_rows(self._check_data(batch, "batch"), "batch")
        else:
            batch = self._check_data(batch, "batch", allow_nan=True)
            rows = self.missing_inputs.check_rows(batch, rows)
        if negatives is not None:
            negatives = self._check_rows(self._check_data(negatives, "negatives"), "negatives")
        return self._step(batch, negatives, rows)

    def _check_rows(self, array: np.ndarray, name: str) -> np.ndarray:
        if array.shape[0] != self.batch_size:
            raise ValueError(f"{name} must have {self.batch_size} rows, got {array.shape[0]}")
        return array

    def _step(
        self,
        batch: np.ndarray,
        negatives: np.ndarray | None = None,
        rows: np.ndarray | None = None,
    ) -> dict[str, float]:
        started = time.perf_counter()
        stats: dict[str, float] = {}
        fill_record: dict[str, float] = {}
        if rows is not None:
            batch, fill_record = self.missing_inputs.fill(rows)
        if negatives is None:
            start = self._chains if (self.persistent and self._chains is not None) else batch
            negatives, stats = self.negative_phase.run(start, self.k)
            negatives = negatives.astype(batch.dtype, copy=False)
        # Under JAX with several devices (or processes), the rows are split across them.
        if backends.uses_jax(self.compile_kwargs):
            batch_in, negatives_in = backends.shard_rows(batch), backends.shard_rows(negatives)
        else:
            batch_in, negatives_in = batch, negatives
        e_data, e_negative, finite, grad_norm = self._update(batch_in, negatives_in)
        backends.as_numpy_values(self.energy.params)
        if not finite:
            raise NonFiniteUpdateError(
                f"update {len(self._records)} gave non-finite energies or parameters "
                f"(data energy {float(e_data)}, negative energy {float(e_negative)}); "
                "parameters were left at the last good update. Lower the learning rate or "
                "the sampler's step size."
            )
        if self.persistent:
            self._chains = negatives
        if rows is not None:
            self.missing_inputs.commit(rows, batch)
        if self.average_from is not None and len(self._records) >= self.average_from:
            self._accumulate_average()
        record = {
            "energy_data": float(e_data),
            "energy_negative": float(e_negative),
            "energy_gap": float(e_negative - e_data),
            "grad_norm": float(grad_norm),
            **{f"stat_{key}": value for key, value in stats.items()},
            **fill_record,
            **{
                f"norm_{name}": float(np.linalg.norm(p.get_value(borrow=True)))
                for name, p in zip(self.energy.param_names, self.energy.params, strict=True)
            },
            "seconds": time.perf_counter() - started,
        }
        self._records.append(record)
        return record

    def _accumulate_average(self) -> None:
        """Fold the current parameters into the running mean (float64)."""
        self.n_averaged += 1
        current = self.energy.get_params()
        if self.averaged_params is None:
            self.averaged_params = {name: np.zeros(v.shape) for name, v in current.items()}
        for name, value in current.items():
            mean = self.averaged_params[name]
            mean += (value - mean) / self.n_averaged

    def use_average(self) -> None:
        """Write :attr:`averaged_params` into the energy (cast to its parameters' dtype).

        Raises
        ------
        ValueError
            Without ``average_from``, or before an update has been averaged.
        """
        if self.averaged_params is None:
            reason = (
                "this trainer has no average_from"
                if self.average_from is None
                else f"no update has been averaged yet (averaging starts at update "
                f"{self.average_from}, {len(self._records)} done)"
            )
            raise ValueError(f"no averaged parameters: {reason}")
        self.energy.set_params(self.averaged_params)

    def _next_batch(self, X: np.ndarray) -> np.ndarray | Minibatch:
        if self._order.size < self.batch_size:
            self._order = np.concatenate([self._order, self._batch_rng.permutation(len(X))])
        rows, self._order = self._order[: self.batch_size], self._order[self.batch_size :]
        if self.missing_inputs is not None:
            return Minibatch(X[rows], rows)
        return X[rows]

    def minibatches(self, X: npt.ArrayLike, n_updates: int):
        """Yield ``n_updates`` minibatches of ``X``: shuffled epochs, ``batch_size`` rows each.

        ``fit(X, n)`` is ``partial_fit(b) for b in minibatches(X, n)`` (plus the
        progress bar and the interruption handling). With ``missing``, the
        first call registers ``X`` as the training set and fills in its
        missing entries at random; later calls must pass the same ``X``
        (``ValueError`` otherwise), and the minibatches are
        :class:`~pymc_ebm.training.Minibatch` ``(values, rows)``.
        """
        X = self._check_data(X, allow_nan=self.missing_inputs is not None)
        n_updates = positive_int("n_updates", n_updates)
        if len(X) < self.batch_size:
            raise ValueError(f"X has {len(X)} rows, fewer than batch_size={self.batch_size}")
        if self.missing_inputs is not None:
            self.missing_inputs.attach(X)
        return (self._next_batch(X) for _ in range(n_updates))

    def fit(self, X: npt.ArrayLike, n_updates: int = 1000, progress: bool = True) -> xr.Dataset:
        """Run ``n_updates`` updates on random minibatches of ``X`` (shape ``(n, dim)``).

        With ``missing``, ``X`` may hold ``NaN`` and must be the same
        training set at every call (its filled-in values are kept per row).
        Interrupting with Ctrl-C stops after the last finished update and
        keeps its parameters and history (a ``RuntimeWarning`` says so).

        Returns
        -------
        xarray.Dataset
            :attr:`history`, one entry per update so far.
        """
        batches = self.minibatches(X, n_updates)
        with UpdateProgress(n_updates, enabled=progress) as bar:
            try:
                for batch in batches:
                    if isinstance(batch, Minibatch):  # already checked by minibatches
                        bar.advance(self._step(batch.values, rows=batch.rows))
                    else:
                        bar.advance(self._step(batch))
            except KeyboardInterrupt:
                bar.interrupted(len(self._records))
        return self.history

    @property
    def filled(self) -> np.ndarray | None:
        """Read-only view of the filled-in training set, shape ``(n, dim)``.

        The observed entries of ``X`` and the current filled-in values of its
        missing ones; ``None`` without ``missing`` or before the first
        :meth:`fit`/:meth:`minibatches`.
        """
        return None if self.missing_inputs is None else self.missing_inputs.filled

    @property
    def history(self) -> xr.Dataset:
        """Training history: energies, their gap, step statistics, parameter norms."""
        keys: list[str] = []
        for record in self._records:
            keys += [key for key in record if key not in keys]
        data = {
            key: ("update", np.array([r.get(key, np.nan) for r in self._records], dtype=float))
            for key in keys
        }
        return xr.Dataset(
            data,
            coords={"update": np.arange(len(self._records))},
            attrs={
                "sampler": str(self.sampler),
                "k": self.k,
                "batch_size": self.batch_size,
                "missing": str(self.missing),
            },
        )
