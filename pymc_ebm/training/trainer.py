"""What every trainer of an energy shares: checks, minibatches, the guarded update, the fit loop.

A learning rule (contrastive divergence, maximum likelihood on a grid, ...)
moves the energy's parameters down ``⟨∂E/∂θ⟩_d − ⟨∂E/∂θ⟩_m`` for a
minibatch ``d`` and a model term ``m`` (negative samples, a quadrature
grid); a rule without a model term (score matching) moves them down the
gradient of its own per-minibatch loss instead. :class:`Trainer` holds all
that does not depend on how ``m`` (or the loss) is computed:

* the settings: ``batch_size``, the optimiser and weight decay
  (:func:`~pymc_ebm.training.optimizers.make_optimizer`), the compile
  keyword arguments of the package-level backend
  (:func:`pymc_ebm.backends.compile_kwargs`);
* the data check (shape, finite, inside the energy's box, clipped ``1e-6`` of
  the box's width away from its faces, cast to the ``floatX`` the update was
  compiled in);
* the compiled update (:func:`~pymc_ebm.training.optimizers.guarded_step`)
  and its call: an update whose energies or new parameters are not finite
  writes nothing and raises :class:`NonFiniteUpdateError`; one that diverges
  (:mod:`~pymc_ebm.training.divergence`) writes nothing either (the compiled
  update runs the checks and switches itself off) and raises
  :class:`TrainingDivergedError`;
* shuffled epochs of ``batch_size`` rows (:meth:`Trainer.minibatches`), one
  record per finished update and :attr:`Trainer.history`; an update and its
  record are one step that Ctrl-C does not split;
* :meth:`Trainer.fit`: the progress bar, a ``callback`` after each update,
  and Ctrl-C, which keeps the finished updates.

A trainer builds its graph in :meth:`Trainer._compile_update` and says how
one update runs in :meth:`Trainer._update_step`; everything else comes from
here.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pytensor
import pytensor.tensor as pt
import xarray as xr
from pytensor.tensor.variable import TensorVariable

from pymc_ebm import backends
from pymc_ebm._validation import finite_float, positive_int
from pymc_ebm.energies.base import Energy
from pymc_ebm.progress import ProgressBar
from pymc_ebm.training.divergence import (
    DEFAULT_CHECK,
    DivergenceCheck,
    DivergenceMonitor,
    summary_graph,
)
from pymc_ebm.training.optimizers import Optimizer, guarded_step, make_optimizer

# signal.getsignal/signal.signal wrap these C functions to turn numbers into enums,
# about 15 µs a pair: a tenth of a small CD update, paid by every partial_fit.
try:
    from _signal import SIGINT, getsignal
    from _signal import signal as set_signal_handler
except ImportError:  # another implementation of Python
    from signal import SIGINT, getsignal
    from signal import signal as set_signal_handler

__all__ = ["NonFiniteUpdateError", "Trainer", "TrainingDivergedError", "check_energy"]

Callback = Callable[[dict[str, float]], Any]


class NonFiniteUpdateError(FloatingPointError):
    """An update was refused: it gave non-finite energies or parameters; nothing was written."""


class TrainingDivergedError(NonFiniteUpdateError):
    """Training diverged: an update left the recent history of a checked quantity.

    The update was not written: the parameters and the optimiser state are those
    of the last update that passed the checks (see
    :mod:`~pymc_ebm.training.divergence`). A subclass of
    :class:`NonFiniteUpdateError`, which the same runs raised later, at
    degenerate parameters, before divergence was detected: code that
    catches it catches both.

    Attributes
    ----------
    update : int
        Index of the update that diverged (nothing of it was kept).
    quantity : str
        What diverged: ``norm_<parameter>``, a log-scale parameter's name,
        ``energy_gap`` (``loss`` for a trainer without a model term),
        ``negatives`` or ``stat_accept``.
    """

    def __init__(self, message: str, update: int, quantity: str) -> None:
        super().__init__(message)
        self.update = update
        self.quantity = quantity


def _number(value: float) -> str:
    """``value`` for a message: 6 significant digits, no negative zero."""
    return f"{float(value) + 0.0:.6g}"


class _DeferredInterrupt:
    """Hold Ctrl-C (SIGINT) back while an update is written and recorded.

    Inside ``with``, on the main thread, SIGINT goes to the previous handler
    at once until :meth:`hold`; from then on it waits for the end of the
    block and is handed to the previous handler there, unless the block
    raised. Blocks nest: the handler is installed by the outermost one
    (``fit`` around its loop, so an update does not pay for two system
    calls) and every block ends a hold. Elsewhere, or under a handler that
    is not a Python function, nothing changes.
    """

    def __init__(self) -> None:
        self._previous: Callable[..., Any] | None = None
        self._depth = 0
        self._holding = False
        self._pending = False

    def __enter__(self) -> _DeferredInterrupt:
        self._depth += 1
        self._holding = False
        if self._depth == 1:
            self._pending = False
            if threading.current_thread() is threading.main_thread():
                previous = getsignal(SIGINT)
                if callable(previous):
                    self._previous = previous  # before the handler can be called
                    set_signal_handler(SIGINT, self._handle)
        return self

    def hold(self) -> None:
        """From now on until the end of the block, hold SIGINT back."""
        self._holding = True

    def _handle(self, signum: int, frame: Any) -> None:
        if self._holding:
            self._pending = True
        else:
            self._previous(signum, frame)

    def __exit__(self, exc_type: Any, *exc: object) -> None:
        self._depth -= 1
        previous = self._previous
        if previous is None:
            self._holding = False
            return
        self._holding = True  # a signal during the clean-up waits too
        pending, self._pending = self._pending, False
        if self._depth == 0:
            set_signal_handler(SIGINT, previous)
            self._previous = None
        self._holding = False
        if pending and exc_type is None:
            previous(SIGINT, None)


def check_energy(energy: Energy) -> Energy:
    """``energy`` if it is an :class:`~pymc_ebm.Energy`; ``TypeError`` otherwise."""
    if not isinstance(energy, Energy):
        raise TypeError(f"energy must be an Energy, got {type(energy).__name__}")
    return energy


class Trainer:
    """Base class of the trainers: settings, data checks, minibatches, records, ``fit``.

    Subclasses compile their update with :meth:`_compile_update` at the end
    of their constructor and implement :meth:`_update_step`; a
    ``partial_fit`` with more arguments than a minibatch overrides
    :meth:`partial_fit`.

    Parameters
    ----------
    energy : Energy
        The energy to train, updated in place.
    batch_size : int
        Rows per minibatch.
    learning_rate, momentum : float
        Passed to :func:`~pymc_ebm.training.optimizers.make_optimizer`.
    weight_decay : float
        L2 penalty ``½ weight_decay |θ|²`` on ``energy.decayed_params``.
    optimizer : {"sgd", "adam"} or Optimizer
    compile_kwargs : dict, optional
        Keyword arguments of ``pytensor.function`` for the update; without a
        ``mode``, the package-level backend's (:func:`pymc_ebm.set_backend`).
    batch_rng : int, numpy.random.Generator or None
        Seed, or generator, of the minibatch order.
    divergence_check : DivergenceCheck or None, default ``DivergenceCheck()``
        Thresholds of the divergence checks run on every update
        (:mod:`~pymc_ebm.training.divergence`); ``None`` runs none (the
        non-finite guard stays).

    Attributes
    ----------
    progress_label : str
        Label of the progress bar of :meth:`fit`.

    Examples
    --------
    A trainer whose model term is the mean energy under the model by
    self-normalised importance sampling from fixed uniform points of the box:

    >>> import numpy as np, pytensor.tensor as pt, pymc_ebm
    >>> from pytensor.gradient import disconnected_grad
    >>> from pymc_ebm.training import Trainer
    >>> class UniformPoints(Trainer):
    ...     progress_label = "IS updates"
    ...
    ...     def __init__(self, energy, points, batch_size=20, learning_rate=0.05):
    ...         super().__init__(energy, batch_size=batch_size, learning_rate=learning_rate,
    ...                          momentum=0.0, weight_decay=0.0, optimizer="sgd",
    ...                          compile_kwargs=None, batch_rng=0)
    ...         data = pt.matrix("data", dtype=self._float_x)
    ...         e_data = pt.mean(energy.energy(data))
    ...         neg_energy = -energy.energy(pt.constant(points.astype(self._float_x)))
    ...         weights = disconnected_grad(pt.special.softmax(neg_energy))
    ...         e_model = -pt.sum(weights * neg_energy)
    ...         finite = pt.isfinite(e_data) & pt.isfinite(e_model)
    ...         self._compile_update([data], e_data, e_model, finite)
    ...
    ...     def _update_step(self, batch):
    ...         record, _ = self._run_update(batch)
    ...         return record
    >>> expert = pymc_ebm.UniGauss([[0.4, 0.4]], [[0.3, 0.3]], [0.5])
    >>> trainer = UniformPoints(expert, np.random.default_rng(0).uniform(size=(500, 2)))
    >>> X = pymc_ebm.datasets.grid_clusters(n=100, random_seed=0)
    >>> history = trainer.fit(X, n_updates=3, progressbar=False)
    >>> history.sizes["update"], history.attrs["trainer"]
    (3, 'UniformPoints')
    """

    progress_label: ClassVar[str] = "updates"
    #: The record's entry the progress bar shows, its short name and format.
    progress_field: ClassVar[tuple[str, str, str]] = ("energy_gap", "gap", "+.3f")
    _non_finite_advice: ClassVar[str] = "Lower the learning rate."
    _divergence_advice: ClassVar[str] = (
        "Lower the learning rate (a new trainer of this energy) and fit again."
    )

    def __init__(
        self,
        energy: Energy,
        *,
        batch_size: int,
        learning_rate: float,
        momentum: float,
        weight_decay: float,
        optimizer: str | Optimizer,
        compile_kwargs: Mapping[str, Any] | None,
        batch_rng: int | np.random.Generator | None,
        divergence_check: DivergenceCheck | None = DEFAULT_CHECK,
    ) -> None:
        self.energy = check_energy(energy)
        if divergence_check is not None and not isinstance(divergence_check, DivergenceCheck):
            raise TypeError(
                f"divergence_check must be a DivergenceCheck or None, "
                f"got {type(divergence_check).__name__}"
            )
        self.batch_size = positive_int("batch_size", batch_size)
        self.weight_decay = finite_float("weight_decay", weight_decay, low=0.0)
        self.optimizer = make_optimizer(optimizer, learning_rate, momentum)
        if compile_kwargs is not None and not isinstance(compile_kwargs, Mapping):
            raise TypeError(
                f"compile_kwargs must be a dict or None, got {type(compile_kwargs).__name__}"
            )
        self.compile_kwargs = backends.compile_kwargs(compile_kwargs)
        # the dtype everything is compiled in; data are cast to it whatever floatX is later
        self._float_x = pytensor.config.floatX
        self._batch_rng = np.random.default_rng(batch_rng)
        self._records: list[dict[str, float]] = []
        self._order: np.ndarray = np.empty(0, dtype=int)
        self.divergence_check = divergence_check
        self._monitor = None if divergence_check is None else DivergenceMonitor(divergence_check)
        self._interrupt = _DeferredInterrupt()
        self._n_checked = 0
        self._has_loss = False

    # -- the compiled update ---------------------------------------------
    def _compile_update(
        self,
        inputs: list[TensorVariable],
        e_data: TensorVariable,
        e_model: TensorVariable | None,
        finite: TensorVariable,
        *extra: TensorVariable,
        spread_of: tuple[TensorVariable, TensorVariable] | None = None,
        loss: TensorVariable | None = None,
    ) -> None:
        """Compile the step down ``e_data - e_model`` (or down ``loss``) into ``self._update``.

        Parameters
        ----------
        inputs : list of TensorVariable
            The function's inputs, each with one row per minibatch row.
        e_data, e_model : TensorVariable
            Scalars: the mean energy of the data and the model term;
            ``e_model`` is ``None`` for a rule that gives ``loss`` instead.
        finite : TensorVariable
            Scalar bool: the step is taken only where this (and every new
            parameter) is finite.
        *extra : TensorVariable
            More outputs, handed back by :meth:`_run_update`.
        spread_of : (TensorVariable, TensorVariable), optional
            ``(negatives, minibatch)``, for the check that the negatives did not run off.
        loss : TensorVariable, optional
            Scalar whose gradient is the update direction, for a rule without
            a model term (``e_model`` then ``None``): the step goes down it,
            the record holds it as ``loss`` (instead of ``energy_negative``
            and ``energy_gap``) and the energy-gap divergence check watches
            ``|loss|``.
        """
        if (loss is None) == (e_model is None):
            raise TypeError("give exactly one of e_model and loss")
        monitor, outputs = self._monitor, []
        objective = e_data - e_model if loss is None else loss
        second = e_model if loss is None else loss  # the compiled function's second output

        def passes(new_values: list[TensorVariable]) -> TensorVariable:
            """The divergence checks on the raw new values (``limits``: their history)."""
            summary = summary_graph(self.energy.params, new_values)
            gap = pt.cast(pt.abs(objective), "float64")
            spread = pt.constant(0.0, dtype="float64")
            if spread_of is not None:
                negatives, data = spread_of
                centred = negatives - pt.mean(data, axis=0)
                spread = pt.cast(pt.sqrt(pt.mean(pt.sqr(centred))), "float64")
            flags = monitor.flags_graph(summary, gap, spread, limits)
            # one output array (each output of a compiled function costs a few µs)
            packed = [pt.cast(flags, "float64"), summary.flatten(), [spread]]
            outputs.append(pt.concatenate(packed))
            return ~pt.any(flags)

        limits = pt.vector("divergence_limits", dtype="float64")
        if monitor is not None:
            monitor.start(self.energy.param_names)
            monitor.gap_name = "energy_gap" if loss is None else "loss"
        guarded, finite, grad_norm = guarded_step(
            self.energy,
            objective,
            self.optimizer,
            self.weight_decay,
            finite,
            passes=None if monitor is None else passes,
        )
        self._n_checked = len(outputs)
        self._has_spread = spread_of is not None
        self._has_loss = loss is not None
        self._update = backends.function(
            [*inputs, limits] if monitor is not None else inputs,
            [e_data, second, *extra, *outputs, finite, grad_norm],
            updates=guarded,
            trust_input=True,
            **self.compile_kwargs,
        )

    def _run_update(
        self, *inputs: np.ndarray, stats: Mapping[str, float] | None = None
    ) -> tuple[dict[str, float], list[np.ndarray]]:
        """Call the compiled update on checked ``inputs`` (in ``floatX``), and check it.

        From the call on, Ctrl-C waits for the end of :meth:`_step` (the
        update and its record are one step). An update that would diverge
        (:attr:`divergence_check`) is not written: the compiled update runs
        the checks against the history it is given and switches itself off.

        Parameters
        ----------
        *inputs : ndarray
            The compiled function's inputs; the first is the minibatch.
        stats : mapping, optional
            The negative phase's statistics, for the acceptance check.

        Returns
        -------
        record : dict of str to float
            ``energy_data``, ``energy_negative`` (the model term),
            ``energy_gap`` and ``grad_norm``; ``energy_data``, ``loss`` and
            ``grad_norm`` for an update compiled with a ``loss``.
        outputs : list of ndarray
            ``e_data``, ``e_model`` (or ``loss``) and the extra outputs, as computed.

        Raises
        ------
        NonFiniteUpdateError
            When the update was not taken (nothing was written).
        TrainingDivergedError
            When it diverged (nothing was written).
        """
        update = len(self._records)
        monitor = self._monitor
        if monitor is not None:
            diverged = monitor.check_accept(stats)
            if diverged is not None:
                self._diverged(update, *diverged)
        # Under JAX with several devices (or processes), the rows are split across them.
        if backends.uses_jax(self.compile_kwargs):
            inputs = tuple(backends.shard_rows(x) for x in inputs)
        if monitor is not None:
            inputs = (*inputs, monitor.limits)
        self._interrupt.hold()
        e_data, second, *extra, finite, grad_norm = self._update(*inputs)
        checked = extra[len(extra) - self._n_checked :]
        extra = extra[: len(extra) - self._n_checked]
        backends.as_numpy_values(self.energy.params)
        if not finite:
            raise NonFiniteUpdateError(
                f"update {update} gave {self._non_finite_part(e_data, second, extra)}; "
                f"parameters were left at the last good update. {self._non_finite_advice}"
            )
        if self._has_loss:
            record = {"energy_data": float(e_data), "loss": float(second)}
            gap = abs(record["loss"])
        else:
            record = {
                "energy_data": float(e_data),
                "energy_negative": float(second),
                "energy_gap": float(second - e_data),
            }
            gap = abs(record["energy_gap"])
        record["grad_norm"] = float(grad_norm)
        if monitor is not None:
            (packed,) = checked
            n = len(self.energy.params)
            flags, summary = packed[: 3 * n + 2] != 0, packed[3 * n + 2 : -1].reshape(n, 5)
            spread = float(packed[-1]) if self._has_spread else None
            diverged = monitor.explain(flags, summary, gap, spread)
            if diverged is not None:
                self._diverged(update, *diverged)
            monitor.commit()
        return record, [e_data, second, *extra]

    def _diverged(self, update: int, quantity: str, reason: str) -> None:
        """Raise :class:`TrainingDivergedError` for ``update`` (which wrote nothing)."""
        kept = "from before update 0" if update == 0 else f"after update {update - 1}"
        raise TrainingDivergedError(
            f"training diverged at update {update}: {reason}. Kept the parameters "
            f"and optimiser state {kept}, the last that passed the divergence "
            f"checks. {self._divergence_advice}",
            update=update,
            quantity=quantity,
        )

    def _non_finite_part(self, e_data: Any, second: Any, extra: list[Any]) -> str:
        """What was not finite in a refused update, for its message."""
        second_name = "loss" if self._has_loss else "negative energy"
        energies = {"data energy": e_data, second_name: second}
        bad = [f"{name} {_number(v)}" for name, v in energies.items() if not np.isfinite(v)]
        if bad:
            return "a non-finite " + " and ".join(bad)
        if not all(np.all(np.isfinite(x)) for x in extra):
            return "non-finite values of its other outputs"
        return (
            f"non-finite new parameter values (from a finite data energy {_number(e_data)} "
            f"and {second_name} {_number(second)})"
        )

    def _update_step(self, batch: Any, **kwargs: Any) -> dict[str, float]:
        """One update on a checked minibatch; the record's entries before the parameter norms."""
        raise NotImplementedError

    def _step(self, batch: Any, **kwargs: Any) -> dict[str, float]:
        """Time :meth:`_update_step`, add the parameter norms, keep and return the record.

        Once :meth:`_run_update` has called the compiled update, Ctrl-C
        waits until the record is kept, then raises ``KeyboardInterrupt``.
        """
        started = time.perf_counter()
        with self._interrupt:
            record = self._update_step(batch, **kwargs)
            for name, p in zip(self.energy.param_names, self.energy.params, strict=True):
                flat = np.ravel(p.get_value(borrow=True))  # as np.linalg.norm, faster
                record[f"norm_{name}"] = float(np.sqrt(flat.dot(flat)))
            record["seconds"] = time.perf_counter() - started
            self._records.append(record)
        return record

    # -- validation --------------------------------------------------------
    def _check_data(
        self, X: npt.ArrayLike, name: str = "X", allow_nan: bool = False
    ) -> np.ndarray:
        """``X``, shape ``(n, dim)``, checked: finite (or NaN), clipped into the box, in floatX."""
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
            hint = self._nan_hint() if np.any(np.isnan(X)) else ""
            raise ValueError(f"{name} contains NaN or inf{hint}")
        if self.energy.domain is not None:
            low, high = self.energy.domain
            if np.any(X < low) or np.any(X > high):
                raise ValueError(f"{name} has values outside the energy's box [{low}, {high}]")
            margin = 1e-6 * (high - low)
            X = np.clip(X, low + margin, high - margin)
        return X.astype(self._float_x)

    def _nan_hint(self) -> str:
        """What the ``NaN`` error adds (e.g. how to learn with missing entries)."""
        return ""

    def _check_rows(self, array: np.ndarray, name: str) -> np.ndarray:
        if array.shape[0] != self.batch_size:
            raise ValueError(f"{name} must have {self.batch_size} rows, got {array.shape[0]}")
        return array

    def _check_fit(
        self, X: npt.ArrayLike, n_updates: int, allow_nan: bool = False
    ) -> tuple[np.ndarray, int]:
        """The checked training set and number of updates of :meth:`minibatches`."""
        X = self._check_data(X, allow_nan=allow_nan)
        n_updates = positive_int("n_updates", n_updates)
        if len(X) < self.batch_size:
            raise ValueError(f"X has {len(X)} rows, fewer than batch_size={self.batch_size}")
        return X, n_updates

    # -- training ----------------------------------------------------------
    def partial_fit(self, batch: npt.ArrayLike) -> dict[str, float]:
        """One update on one minibatch; returns its record (one entry of :attr:`history`).

        Parameters
        ----------
        batch : array_like, shape (batch_size, dim)
            The data of this update (checked and clipped into the box as in :meth:`fit`).
        """
        return self._step(self._check_rows(self._check_data(batch, "batch"), "batch"))

    def _minibatch(self, X: np.ndarray, rows: np.ndarray) -> Any:
        """What :meth:`minibatches` yields for these rows of the training set."""
        return X[rows]

    def _next_rows(self, n: int) -> np.ndarray:
        if self._order.size < self.batch_size:
            self._order = np.concatenate([self._order, self._batch_rng.permutation(n)])
        rows, self._order = self._order[: self.batch_size], self._order[self.batch_size :]
        return rows

    def minibatches(self, X: npt.ArrayLike, n_updates: int) -> Iterator[Any]:
        """Yield ``n_updates`` minibatches of ``X``: shuffled epochs, ``batch_size`` rows each.

        ``fit(X, n)`` is ``partial_fit(b) for b in minibatches(X, n)`` (plus the
        progress bar, the callback and the interruption handling). The epochs
        continue across calls: a call starts with the rows the last one left.

        Parameters
        ----------
        X : array_like, shape (n, dim)
            The training set, ``n >= batch_size``; checked once, here.
        n_updates : int
            Minibatches to yield.
        """
        X, n_updates = self._check_fit(X, n_updates)
        return (self._minibatch(X, self._next_rows(len(X))) for _ in range(n_updates))

    def fit(
        self,
        X: npt.ArrayLike,
        n_updates: int = 1000,
        progressbar: bool = True,
        callback: Callback | None = None,
        *,
        on_divergence: str = "raise",
        progress: bool | None = None,
    ) -> xr.Dataset:
        """Run ``n_updates`` updates on shuffled minibatches of ``X`` (shape ``(n, dim)``).

        Interrupting with Ctrl-C (``KeyboardInterrupt``, also from the
        callback) stops after the last finished update and keeps its
        parameters and history; a ``RuntimeWarning`` says how many updates
        were kept. An update and its record are one step: Ctrl-C once the
        update has begun writing its parameter step waits until it is
        recorded, and Ctrl-C before (while its negatives are drawn) drops
        it, with nothing of it written; its minibatch's rows then come first
        in the next ``fit``. An update that is not finite raises
        :class:`NonFiniteUpdateError` and leaves the last good update; one
        that diverges (:attr:`divergence_check`) is not kept and raises
        :class:`TrainingDivergedError`.

        Parameters
        ----------
        X : array_like, shape (n, dim)
            The training set (see :meth:`minibatches`).
        n_updates : int, default 1000
            Updates to run.
        progressbar : bool, default True
            Show a progress bar with the energy gap (the loss, for a trainer
            without a model term) of the last update.
        callback : callable, optional
            ``callback(record)`` after each finished update, with its record
            (the entry just added to :attr:`history`). A return value that is
            true stops training after this update; ``None`` goes on.
        on_divergence : {"raise", "warn"}, default "raise"
            What a diverged or non-finite update does: raise its error, or
            stop with a ``RuntimeWarning`` carrying its message (the
            parameters are those of the last good update either way).
        progress : bool, optional
            Deprecated spelling of ``progressbar``.

        Returns
        -------
        xarray.Dataset
            :attr:`history`, one entry per update so far.
        """
        if progress is not None:
            warnings.warn(
                "fit(progress=...) is deprecated; use fit(progressbar=...)",
                DeprecationWarning,
                stacklevel=2,
            )
            progressbar = progress
        if not isinstance(progressbar, bool | np.bool_):
            raise TypeError(f"progressbar must be True or False, got {progressbar!r}")
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable or None, got {type(callback).__name__}")
        if on_divergence not in ("raise", "warn"):
            raise ValueError(f"on_divergence must be 'raise' or 'warn', got {on_divergence!r}")
        X, n_updates = self._check_fit(X, n_updates)
        label = self.progress_label
        key, field, field_format = self.progress_field
        with ProgressBar(n_updates, label, field, field_format, enabled=bool(progressbar)) as bar:
            done, rows = len(self._records), None
            try:
                with self._interrupt:  # installed once; each update holds it (_step)
                    for _ in range(n_updates):
                        rows = None
                        done = len(self._records)
                        rows = self._next_rows(len(X))
                        record = self._step(self._minibatch(X, rows))  # X checked: _check_fit
                        bar.advance(record[key])
                        if callback is not None and callback(record):
                            break
            except KeyboardInterrupt:
                if rows is not None and len(self._records) == done:  # dropped: rows go next
                    self._order = np.concatenate([rows, self._order])
                warnings.warn(
                    f"training interrupted; kept the parameters and history of "
                    f"{len(self._records)} updates",
                    RuntimeWarning,
                    stacklevel=2,
                )
            except NonFiniteUpdateError as err:
                if on_divergence == "raise":
                    raise
                warnings.warn(str(err), RuntimeWarning, stacklevel=2)
        return self.history

    # -- history -----------------------------------------------------------
    def _history_attrs(self) -> dict[str, Any]:
        """The trainer's own attributes of :attr:`history`."""
        return {}

    @property
    def history(self) -> xr.Dataset:
        """Training history: one entry per finished update along dimension ``update``.

        Every trainer records ``energy_data``, ``energy_negative`` (the model
        term), ``energy_gap``, ``grad_norm``, ``norm_<parameter>`` and
        ``seconds`` (a trainer without a model term, such as score matching,
        ``loss`` in place of ``energy_negative`` and ``energy_gap``); a key
        missing from some updates is ``NaN`` there. The
        attributes name the trainer, its settings and optimiser.
        """
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
                "trainer": type(self).__name__,
                **self._history_attrs(),
                "batch_size": self.batch_size,
                "optimizer": type(self.optimizer).__name__,
                "learning_rate": self.optimizer.learning_rate,
                "weight_decay": self.weight_decay,
            },
        )
