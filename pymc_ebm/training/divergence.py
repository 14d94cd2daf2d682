"""Divergence detection for the trainers: stop before the parameters run away.

A learning rate that is too large rarely gives non-finite numbers at once:
the parameters jump to absurd values (a scale of ``e^800``, a mixing
proportion of 0, weights of ``1e4``) where the energies no longer depend on
them, the gradient vanishes and training goes on quietly at a useless fixed
point. :class:`DivergenceMonitor` looks at every update of a trainer, after
it was computed and before it is kept, and names the first quantity that
left its recent history:

* ``<parameter>``: the size of its step in one update, against its norm
  before the update (at least the norm ``√size`` of a parameter whose
  entries are all 1);
* ``norm_<parameter>``: its norm after the update, against its smallest
  norm over the last ``window`` updates (at least ``√size``): a steady
  growth that the single steps do not show;
* ``<parameter>`` on a log scale (a name whose last part starts with
  ``log_`` or ``logit_``: ``log_sigma``, ``logit_pi``, ``log_alpha``): an
  entry beyond ``±log_limit``;
* ``energy_gap``: its size against its largest size over the window (a
  trainer without a model term: its ``loss``);
* ``negatives``: their root-mean-square distance from the minibatch mean
  against its largest value over the window (trainers with negative samples);
* ``stat_accept``: the negative phase's acceptance rate (where its sampler
  reports one) below ``min_accept`` for ``accept_patience`` updates in a row.

The thresholds are the fields of :class:`DivergenceCheck`, with defaults
from the module constants below; they are loose, so that a healthy run at
a usual learning rate never trips them.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytensor.tensor as pt

from pymc_ebm._validation import finite_float, positive_int

__all__ = [
    "parameter_summary",
    "summary_graph",
    "ACCEPT_PATIENCE",
    "GAP_FLOOR",
    "GAP_GROWTH",
    "LOG_LIMIT",
    "MIN_ACCEPT",
    "MIN_HISTORY",
    "NORM_GROWTH",
    "RUNOFF_GROWTH",
    "STEP_LIMIT",
    "WINDOW",
    "DEFAULT_CHECK",
    "DivergenceCheck",
    "DivergenceMonitor",
]

#: Updates of recent history that the checks compare with.
WINDOW = 50
#: A parameter may move by this many times its norm (at least √size) in one update.
STEP_LIMIT = 2.0
#: A parameter's norm may grow to this many times its smallest recent norm.
NORM_GROWTH = 10.0
#: Largest size of an entry of a log-scale parameter (``e^50`` ≈ 5e21).
LOG_LIMIT = 50.0
#: ``|energy_gap|`` may grow to this many times its largest recent size ...
GAP_GROWTH = 100.0
#: ... and is never a divergence below this (nats per row).
GAP_FLOOR = 1.0
#: The negatives' spread about the minibatch mean may grow this many times.
RUNOFF_GROWTH = 10.0
#: Updates recorded before the energy-gap and negatives checks start.
MIN_HISTORY = 10
#: An acceptance rate below this ...
MIN_ACCEPT = 0.01
#: ... for this many updates in a row is a loss of acceptance.
ACCEPT_PATIENCE = 10

#: Statistics of the negative phase read as its acceptance rate (ShortRunHMC, NUTS).
ACCEPT_STATS = ("accept", "mean_tree_accept")
LOG_PREFIXES = ("log_", "logit_")


@dataclass(frozen=True)
class DivergenceCheck:
    """Thresholds of the divergence checks of a trainer (see :mod:`~pymc_ebm.training.divergence`).

    Parameters
    ----------
    window : int, default 50
        Updates of recent history the norms, gaps and negatives are compared with.
    step_limit : float, default 2
        A parameter that moves by more than ``step_limit`` times
        ``max(its norm before the update, √size)`` in one update diverged.
    norm_growth : float, default 10
        A parameter whose norm after an update exceeds ``norm_growth`` times
        ``max(its smallest norm over the window, √size)`` diverged.
    log_limit : float, default 50
        A log-scale parameter (``log_*``, ``logit_*``) with an entry beyond
        ``±log_limit`` diverged.
    gap_growth, gap_floor : float, default 100 and 1
        ``|energy_gap|`` above both ``gap_growth`` times its largest value
        over the window and ``gap_floor`` is a divergence.
    runoff_growth : float, default 10
        Negatives whose root-mean-square distance from the minibatch mean
        exceeds ``runoff_growth`` times its largest value over the window ran off.
    min_history : int, default 10
        Updates passed before the energy-gap and negatives checks start.
    min_accept : float, default 0.01
    accept_patience : int, default 10
        An acceptance rate below ``min_accept`` for ``accept_patience``
        updates in a row is a loss of acceptance.

    Examples
    --------
    >>> from pymc_ebm.training import DivergenceCheck
    >>> DivergenceCheck(norm_growth=100.0).norm_growth
    100.0
    """

    window: int = WINDOW
    step_limit: float = STEP_LIMIT
    norm_growth: float = NORM_GROWTH
    log_limit: float = LOG_LIMIT
    gap_growth: float = GAP_GROWTH
    gap_floor: float = GAP_FLOOR
    runoff_growth: float = RUNOFF_GROWTH
    min_history: int = MIN_HISTORY
    min_accept: float = MIN_ACCEPT
    accept_patience: int = ACCEPT_PATIENCE

    def __post_init__(self) -> None:
        for name in ("window", "min_history", "accept_patience"):
            object.__setattr__(self, name, positive_int(name, getattr(self, name)))
        for name in ("norm_growth", "gap_growth", "runoff_growth"):
            value = finite_float(name, getattr(self, name), low=1.0, low_open=True)
            object.__setattr__(self, name, value)
        for name in ("step_limit", "log_limit", "gap_floor"):
            value = finite_float(name, getattr(self, name), low=0.0, low_open=True)
            object.__setattr__(self, name, value)
        min_accept = finite_float("min_accept", self.min_accept, low=0.0, high=1.0)
        object.__setattr__(self, "min_accept", min_accept)


DEFAULT_CHECK = DivergenceCheck()
"""The thresholds a trainer uses unless told otherwise."""


def _is_log_scale(name: str) -> bool:
    return name.rsplit(".", 1)[-1].startswith(LOG_PREFIXES)


def _norm(x: np.ndarray) -> float:
    """The Euclidean norm of all entries (``np.linalg.norm`` of the flat array, faster)."""
    flat = np.ravel(x)
    return math.sqrt(float(np.dot(flat, flat)))


def parameter_summary(
    before: np.ndarray, after: np.ndarray
) -> tuple[float, float, float, float, int]:
    """What the checks read of one parameter's update.

    Returns ``(norm before, norm of the step, norm after, largest absolute
    entry after, size)``; a trainer's compiled update returns the same numbers
    (:func:`summary_graph`).
    """
    after = np.asarray(after)
    largest = float(np.max(np.abs(after))) if after.size else 0.0
    return _norm(before), _norm(after - before), _norm(after), largest, after.size


def summary_graph(before: Sequence[Any], after: Sequence[Any]) -> Any:
    """The numbers of :func:`parameter_summary` for every parameter, as one PyTensor graph.

    ``before`` are the shared parameters, ``after`` their new values; the
    result has shape ``(n_parameters, 5)``, one row of :func:`parameter_summary`
    per parameter.
    """

    def norm(x: Any) -> Any:
        return pt.sqrt(pt.sum(pt.sqr(x)))

    rows = []
    for old, new in zip(before, after, strict=True):
        largest = pt.max(pt.abs(new)) if new.ndim else pt.abs(new)
        size = pt.constant(float(old.get_value(borrow=True).size))
        rows.append(pt.stack([norm(old), norm(new - old), norm(new), largest, size]))
    return pt.cast(pt.stack(rows), "float64")


def _spread(negatives: np.ndarray, data: np.ndarray) -> float:
    """Root-mean-square distance of the negatives from the minibatch mean."""
    return _norm(negatives - data.mean(axis=0)) / math.sqrt(negatives.size)


def _flags(
    xp: Any, summary: Any, gap: Any, spread: Any, limits: Any, log_scale: Any, s: Any
) -> Any:
    """Which checks an update fails, in NumPy (``xp=np``) or in a PyTensor graph (``xp=pt``).

    ``summary`` has one row of :func:`parameter_summary` per parameter,
    ``limits`` is :attr:`DivergenceMonitor.limits`. Returns booleans, shape
    ``(3 n_parameters + 2,)``: per parameter its step, its norm and its
    log-scale entries, then the energy gap and the negatives' spread.
    """
    n = summary.shape[0]
    before, step, norm, largest, size = (summary[:, k] for k in range(5))
    floor = xp.sqrt(size)
    step_bad = step > s.step_limit * xp.maximum(before, floor)
    norm_bad = norm > s.norm_growth * xp.maximum(xp.minimum(before, limits[:n]), floor)
    log_bad = (largest > s.log_limit) & (size > 0) & log_scale
    per_parameter = xp.stack([step_bad, norm_bad, log_bad], axis=1).flatten()
    return xp.concatenate([per_parameter, xp.stack([gap > limits[n], spread > limits[n + 1]])])


class DivergenceMonitor:
    """The checks of :class:`DivergenceCheck` with the recent history they compare with.

    A trainer calls :meth:`check` (or :meth:`check_summary`) on every update
    that gave finite values, and :meth:`commit` once the update is kept. A
    compiled update can run the same comparisons itself (:meth:`flags_graph`,
    with :attr:`limits` as an input) and leave its parameters unchanged when
    one fails; :meth:`explain` then says which.

    Parameters
    ----------
    check : DivergenceCheck
        The thresholds.

    Attributes
    ----------
    limits : ndarray, shape (n_parameters + 2,)
        The history the next update is compared with: per parameter its
        smallest norm over the window (``inf`` before the first update), then
        the largest allowed ``|energy_gap|`` and negatives' spread (``inf``
        until ``min_history`` updates have passed).

    Examples
    --------
    >>> import numpy as np
    >>> from pymc_ebm.training.divergence import DivergenceCheck, DivergenceMonitor
    >>> monitor = DivergenceMonitor(DivergenceCheck())
    >>> before, after = {"mu": np.zeros(2)}, {"mu": np.array([300.0, 400.0])}
    >>> quantity, reason = monitor.check({"energy_gap": 0.1}, before, after)
    >>> quantity, reason[:29]
    ('mu', 'mu moved by 500 in one update')
    """

    def __init__(self, check: DivergenceCheck) -> None:
        self.settings = check
        self._gaps: deque[float] = deque(maxlen=check.window)
        self._spreads: deque[float] = deque(maxlen=check.window)
        self._low_accept = 0
        self._pending_low = False
        self._pending: tuple[np.ndarray, float, float | None] | None = None
        self.limits: np.ndarray | None = None
        #: What the gap check is called in its message (``loss`` for score matching).
        self.gap_name = "energy_gap"
        self.start(())

    def start(self, names: Sequence[str]) -> None:
        """Check the parameters ``names`` from now on, with a fresh history of their norms."""
        self._names = tuple(names)
        self._log_scale = np.array([_is_log_scale(name) for name in self._names], dtype=bool)
        self._norms = np.full((self.settings.window, len(self._names)), np.inf)
        self._n_norms = 0  # how many rows of the ring _norms hold a norm ...
        self._next_norm = 0  # ... and the row the next one goes to
        self._update_limits()

    def _update_limits(self) -> None:
        s, n = self.settings, len(self._names)
        if self.limits is None or len(self.limits) != n + 2:
            self.limits = np.empty(n + 2)
        self._norms.min(axis=0, out=self.limits[:n])
        gaps, spreads = self._gaps, self._spreads
        history = len(gaps) >= s.min_history
        self.limits[n] = max(s.gap_floor, s.gap_growth * max(gaps)) if history else np.inf
        history = len(spreads) >= s.min_history
        self.limits[n + 1] = s.runoff_growth * max(spreads) if history else np.inf

    def flags_graph(self, summary: Any, gap: Any, spread: Any, limits: Any) -> Any:
        """The comparisons of :meth:`check_summary` as a PyTensor graph.

        Parameters
        ----------
        summary : TensorVariable, shape (n_parameters, 5)
            :func:`summary_graph` of the update (the parameters of :meth:`start`).
        gap, spread : TensorVariable
            float64 scalars: ``|energy_gap|`` and the negatives' spread (``0``
            where there are no negatives).
        limits : TensorVariable, shape (n_parameters + 2,)
            An input that is given :attr:`limits` on every call.

        Returns
        -------
        TensorVariable
            Booleans, shape ``(3 n_parameters + 2,)``, for :meth:`explain`.
        """
        return _flags(pt, summary, gap, spread, limits, self._log_scale, self.settings)

    def check_accept(self, stats: Mapping[str, float] | None) -> tuple[str, str] | None:
        """The acceptance check, on the negative phase's statistics (before an update)."""
        s = self.settings
        accept = next((stats[k] for k in ACCEPT_STATS if stats and k in stats), None)
        low = accept is not None and math.isfinite(accept) and accept < s.min_accept
        self._pending_low = bool(low)
        if low and self._low_accept + 1 >= s.accept_patience:
            return "stat_accept", (
                f"the negative phase's acceptance rate stayed below {s.min_accept:g} for "
                f"{s.accept_patience} updates in a row ({accept:.3g} in this one)"
            )
        return None

    def check(
        self,
        record: Mapping[str, float],
        before: Mapping[str, np.ndarray],
        after: Mapping[str, np.ndarray],
        negatives: np.ndarray | None = None,
        data: np.ndarray | None = None,
        stats: Mapping[str, float] | None = None,
    ) -> tuple[str, str] | None:
        """The first quantity that diverged in this update, or ``None``.

        Parameters
        ----------
        record : mapping
            The update's record so far (``energy_gap`` is read).
        before, after : mapping of str to ndarray
            The parameters (by name) before and after the update.
        negatives, data : ndarray, shape (batch_size, dim), optional
            The negative samples and the minibatch they were compared with.
        stats : mapping, optional
            The negative phase's statistics (an acceptance rate is read).

        Returns
        -------
        tuple of str or None
            ``(quantity, what happened)``.
        """
        summary = {name: parameter_summary(before[name], value) for name, value in after.items()}
        spread = None if negatives is None or data is None else _spread(negatives, data)
        return self.check_summary(record, summary, spread=spread, stats=stats)

    def check_summary(
        self,
        record: Mapping[str, float],
        summary: Mapping[str, Sequence[float]],
        spread: float | None = None,
        stats: Mapping[str, float] | None = None,
    ) -> tuple[str, str] | None:
        """:meth:`check` on the update's numbers alone (what a compiled update returns).

        Parameters
        ----------
        record : mapping
            The update's record so far (``energy_gap`` is read).
        summary : mapping of str to (float, float, float, float, int) or array of 5
            Per parameter: its norm before, the norm of its step, its norm
            after, its largest absolute entry after and its size
            (:func:`parameter_summary`).
        spread : float, optional
            Root-mean-square distance of the negatives from the minibatch mean.
        stats : mapping, optional
            The negative phase's statistics (an acceptance rate is read).
        """
        if tuple(summary) != self._names:  # other parameters: a fresh history of norms
            self.start(tuple(summary))
        tripped = self.check_accept(stats)
        if tripped is not None:
            return tripped
        rows = np.array([summary[name] for name in self._names], dtype=float).reshape(-1, 5)
        gap = abs(float(record.get("energy_gap", 0.0)))
        spread_value = 0.0 if spread is None else spread
        flags = _flags(np, rows, gap, spread_value, self.limits, self._log_scale, self.settings)
        return self.explain(flags, rows, gap, spread)

    def explain(
        self, flags: np.ndarray, summary: np.ndarray, gap: float, spread: float | None
    ) -> tuple[str, str] | None:
        """``(quantity, what happened)`` for the first check in ``flags`` that failed.

        ``None`` (and the update is the one :meth:`commit` keeps) where none failed.

        Parameters
        ----------
        flags : ndarray of bool, shape (3 n_parameters + 2,)
            What :meth:`flags_graph` gave.
        summary : ndarray, shape (n_parameters, 5)
            The update's :func:`summary_graph`.
        gap, spread : float
            ``|energy_gap|`` and the negatives' spread (``None``: no negatives).
        """
        if not flags.any():
            self._pending = (summary[:, 0].copy(), gap, spread)
            return None
        s = self.settings
        first = int(np.argmax(flags))
        n = len(self._names)
        if first == 3 * n:
            largest = max(self._gaps)
            name = self.gap_name
            return name, (
                f"|{name}| is {gap:.4g}, more than {s.gap_growth:g} times its largest "
                f"value over the last {len(self._gaps)} updates ({largest:.4g})"
            )
        if first == 3 * n + 1:
            reference = max(self._spreads)
            return "negatives", (
                f"the negatives ran off: their root-mean-square distance from the "
                f"minibatch mean is {spread:.4g}, more than {s.runoff_growth:g} times "
                f"its largest value over the last {len(self._spreads)} updates "
                f"({reference:.4g})"
            )
        i, kind = divmod(first, 3)
        name = self._names[i]
        norm_before, step, norm, largest, size = (float(x) for x in summary[i])
        floor = math.sqrt(size)
        if kind == 0:
            scale = max(norm_before, floor)
            return name, (
                f"{name} moved by {step:.4g} in one update (its norm went from "
                f"{norm_before:.4g} to {norm:.4g}), more than {s.step_limit:g} × "
                f"{scale:.4g} (its norm before, at least √size)"
            )
        if kind == 1:
            reference = max(min(norm_before, float(self.limits[i])), floor)
            return f"norm_{name}", (
                f"norm_{name} went from {norm_before:.4g} to {norm:.4g} in one "
                f"update, more than {s.norm_growth:g} × {reference:.4g} (its smallest "
                f"norm over the last {self._n_norms + 1} updates, at least √size)"
            )
        return name, (
            f"{name} has an entry of absolute value {largest:.4g}, beyond "
            f"±{s.log_limit:g} (a scale or proportion of e^±{largest:.0f})"
        )

    def commit(self) -> None:
        """Add the update that last passed the checks to the recent history."""
        if self._pending is None:
            return
        norms_before, gap, spread = self._pending
        self._pending = None
        self._norms[self._next_norm] = norms_before
        self._next_norm = (self._next_norm + 1) % self.settings.window
        self._n_norms = min(self._n_norms + 1, self.settings.window)
        self._gaps.append(gap)
        if spread is not None:
            self._spreads.append(spread)
        self._low_accept = self._low_accept + 1 if self._pending_low else 0
        self._update_limits()
