"""Learning with missing inputs: filled-in values kept per row of the training set.

The lecture's procedure: "First fill in the missing inputs randomly. Then use
the back-propagated energy derivatives to slowly change the filled-in values
until they fit in with the learned constraints." :class:`MissingInputs` owns
one filled-in copy of the training set. Its missing entries are drawn once,
at random, when the training set is attached; each time a row is used in a
minibatch, its filled-in entries move (observed entries never do), and the
trainer writes the moved values back once the update has succeeded:

* ``"fill"``: ``n_fill_steps`` steps down the energy's gradient,
  ``v ← v − fill_step_size · ∂E/∂v`` on the missing entries only (on a box
  energy, clipped back into the box). Deterministic; the filled-in values
  head for the conditional *mode* given the observed entries, so they carry
  no spread of their own (a variance learned from them is biased low).
* ``"hmc"``: ``n_draws`` Hamiltonian Monte Carlo draws from the conditional
  ``p(v_missing | v_observed) ∝ exp(-E(v))``, each row its own chain with its
  own Metropolis test, as in :class:`~pymc_ebm.ShortRunHMC` (same defaults,
  step-size jitter and dual averaging). The transition is the package's
  HMC kernel (:func:`~pymc_ebm.step_methods.hmc_kernel.build_kernel`) with
  the observed entries masked: their momenta and gradients are zero, so the
  dynamics never move them and the per-row test is exact for the
  conditional of the missing entries.
  ShortRunHMC itself is not used because its step size adapts to the mean
  acceptance over *all* rows: rows with nothing missing always accept, and
  would drive the step size up until every row with missing entries rejects.
"""

from __future__ import annotations

import inspect
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pytensor
import pytensor.tensor as pt

from pymc_ebm import backends
from pymc_ebm._validation import finite_float, positive_int
from pymc_ebm.energies.base import Energy
from pymc_ebm.step_methods.hmc_kernel import (
    build_kernel,
    check_settings,
    init,
    potential_from_fn,
)
from pymc_ebm.step_methods.short_run_hmc import ShortRunHMC
from pymc_ebm.step_methods.step_size import dual_averaging

__all__ = ["MISSING_MODES", "Minibatch", "MissingInputs", "check_missing_kwargs"]

MISSING_MODES = ("fill", "hmc")

FILL_DEFAULTS: dict[str, Any] = {"n_fill_steps": 5, "fill_step_size": 0.01}
"""Defaults of ``missing_kwargs`` for ``missing="fill"``."""

HMC_DEFAULTS: dict[str, Any] = {
    "n_draws": 1,
    **{
        name: inspect.signature(ShortRunHMC).parameters[name].default
        for name in ("n_steps", "step_size", "target_accept", "step_jitter")
    },
}
"""Defaults of ``missing_kwargs`` for ``missing="hmc"``: one draw, and ShortRunHMC's own."""


class Minibatch(NamedTuple):
    """A minibatch of a training set with missing entries, and where its rows come from.

    What :meth:`ContrastiveDivergence.minibatches
    <pymc_ebm.ContrastiveDivergence.minibatches>` yields when the trainer has
    ``missing`` set; pass it to ``partial_fit`` as it is.

    Attributes
    ----------
    values : ndarray, shape (batch_size, dim)
        The rows, ``NaN`` where missing.
    rows : ndarray of int, shape (batch_size,)
        Their indices in the training set.
    """

    values: np.ndarray
    rows: np.ndarray


def check_missing_kwargs(mode: str, missing_kwargs: dict[str, Any] | None) -> dict[str, Any]:
    """Validate ``missing_kwargs`` for ``mode`` and fill in the defaults.

    Parameters
    ----------
    mode : {"fill", "hmc"}
        How the missing entries move.
    missing_kwargs : dict, optional
        ``"fill"``: ``n_fill_steps`` (positive int, default 5) and
        ``fill_step_size`` (positive, default 0.01). ``"hmc"``: ``n_draws``
        (positive int, default 1), ``n_steps`` (leapfrog steps, default 10),
        ``step_size`` (initial, default 0.1), ``target_accept`` (default
        0.65) and ``step_jitter`` (default 0.15), as in ShortRunHMC.

    Returns
    -------
    dict
        The settings, defaults included.

    Examples
    --------
    >>> check_missing_kwargs("fill", {"n_fill_steps": 2})
    {'n_fill_steps': 2, 'fill_step_size': 0.01}
    """
    if mode not in MISSING_MODES:
        raise ValueError(f"missing must be None or one of {MISSING_MODES}, got {mode!r}")
    if missing_kwargs is not None and not isinstance(missing_kwargs, dict):
        raise ValueError(f"missing_kwargs must be a dict, got {type(missing_kwargs).__name__}")
    given = dict(missing_kwargs or {})
    if mode == "fill":
        allowed = tuple(FILL_DEFAULTS)
    else:
        allowed = tuple(HMC_DEFAULTS)
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown missing_kwargs {unknown} for missing={mode!r}; expected some of {allowed}"
        )
    if mode == "fill":
        settings = {**FILL_DEFAULTS, **given}
        settings["n_fill_steps"] = positive_int("n_fill_steps", settings["n_fill_steps"])
        settings["fill_step_size"] = finite_float(
            "fill_step_size", settings["fill_step_size"], low=0.0, low_open=True
        )
        return settings
    settings = {**HMC_DEFAULTS, **given}
    settings["n_draws"] = positive_int("n_draws", settings["n_draws"])
    names = ("n_steps", "step_size", "target_accept", "step_jitter")
    checked = check_settings(*(settings[name] for name in names))
    settings.update(zip(names, checked, strict=True))
    return settings


class MissingInputs:
    """The filled-in training set of a trainer that learns with missing inputs.

    Parameters
    ----------
    energy : Energy
        The energy being learned (its shared parameters are read, never written).
    batch_size : int
        Rows per minibatch (the compiled functions have this many rows).
    mode : {"fill", "hmc"}
        How the missing entries of a used row move (see the module docstring).
    missing_kwargs : dict, optional
        Settings, see :func:`check_missing_kwargs`.
    rng : numpy.random.Generator
        Source of the initial random fill and of the HMC draws.

    Attributes
    ----------
    settings : dict
        The validated ``missing_kwargs``, defaults included.
    step_adapt : DualAverageAdaptation
        With ``"hmc"``: PyMC's dual averaging of the step size towards
        ``target_accept``, fed with the mean acceptance probability of the
        rows that have missing entries (the others do not move).
    tune : bool
        With ``"hmc"``: whether the step size is adapted (until :meth:`stop_tuning`).
    """

    def __init__(
        self,
        energy: Energy,
        batch_size: int,
        mode: str,
        missing_kwargs: dict[str, Any] | None,
        rng: np.random.Generator,
    ) -> None:
        self.settings = check_missing_kwargs(mode, missing_kwargs)
        self.energy = energy
        self.batch_size = batch_size
        self.mode = mode
        self._rng = rng
        self._data: np.ndarray | None = None
        self._mask: np.ndarray | None = None
        self._filled: np.ndarray | None = None
        self._box = self._inner_box()
        if mode == "fill":
            self._grad = self._compile_grad()
        else:
            self._build_hmc()

    # -- compiled functions -----------------------------------------------------
    def _inner_box(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The energy's box shrunk by the margin the trainer clips data to, or None."""
        if self.energy.domain is None:
            return None
        low, high = (np.asarray(b, dtype=float) for b in self.energy.domain)
        margin = 1e-6 * (high - low)
        return (low + margin).astype(pytensor.config.floatX), (high - margin).astype(
            pytensor.config.floatX
        )

    def _compile_grad(self):
        """``v -> ∂(Σ_rows E)/∂v``, shape ``(n, dim)``: compiled once, reads the parameters."""
        v = pt.matrix("v", dtype=pytensor.config.floatX)
        grad = pt.grad(pt.sum(self.energy.energy(v)), v)
        return backends.function([v], grad, trust_input=True)

    def _build_hmc(self) -> None:
        """Masked leapfrog trajectory and per-row Metropolis test, compiled once.

        The momenta and gradients of observed entries are zero, so the
        dynamics never move them; the Hamiltonian of row ``i`` is
        ``E(v_i) + ½|p_i,missing|²``, whose per-row test is exact for the
        conditional of the missing entries given the observed ones. On a box
        energy, an end point outside the box is rejected (the density is zero there).
        """
        floatx = pytensor.config.floatX
        energy = self.energy
        v0 = pt.matrix("v0", dtype=floatx)
        mask = pt.matrix("mask", dtype="bool")
        momentum = pt.matrix("momentum", dtype=floatx)
        log_u = pt.vector("log_u", dtype=floatx)
        eps = pt.scalar("step_size", dtype=floatx)
        valid = None
        if self._box is not None:
            low, high = (pt.as_tensor_variable(b) for b in energy.domain)

            def valid(qs):
                return pt.all((qs[0] > low) & (qs[0] < high), axis=1)

        kernel = build_kernel(
            potential_from_fn(lambda qs: energy.energy(qs[0])),
            n_steps=self.settings["n_steps"],
            mask=[mask],
            valid=valid,
        )
        new, info = kernel(init(kernel, [v0]), [momentum], log_u, eps)
        self._hmc = backends.function(
            [v0, mask, momentum, log_u, eps],
            [new.position[0], info.accept_prob],
            trust_input=True,
        )
        self.step_adapt = dual_averaging(
            self.settings["step_size"], self.settings["target_accept"]
        )
        self.tune = True

    @property
    def step_size(self) -> float | None:
        """Step size of the next HMC draw (adapted while tuning; None with ``"fill"``)."""
        return None if self.mode == "fill" else float(self.step_adapt.current(self.tune))

    # -- the training set -----------------------------------------------------
    def attach(self, X: np.ndarray) -> None:
        """Register the training set (checked data, NaN where missing) and fill it at random.

        The missing entries of column ``j`` are drawn uniformly on the
        energy's box (shrunk by the trainer's clipping margin) when it has
        one, else uniformly between the smallest and largest observed value
        of column ``j``. Later calls must pass the same training set (same
        shape, same missing entries, same observed values): the filled-in
        values are kept per row.

        Parameters
        ----------
        X : ndarray, shape (n, dim)
            Finite or ``NaN`` entries; no row entirely ``NaN``.
        """
        if self._data is not None:
            if X.shape != self._data.shape or not np.array_equal(X, self._data, equal_nan=True):
                raise ValueError(
                    f"X must be the training set of the first fit (shape {self._data.shape}, "
                    f"same values and missing entries), got shape {X.shape} or other values: "
                    "the filled-in values are kept per row of it. Use a new "
                    "ContrastiveDivergence for another training set."
                )
            return
        mask = np.isnan(X)
        low, high = self._fill_bounds(X, mask)
        filled = X.copy()
        draws = self._rng.uniform(low, high, size=X.shape).astype(X.dtype)
        filled[mask] = draws[mask]
        self._data, self._mask, self._filled = X.copy(), mask, filled

    def _fill_bounds(self, X: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._box is not None:
            return self._box
        empty = mask.all(axis=0)
        if np.any(empty):
            raise ValueError(
                f"columns {np.flatnonzero(empty).tolist()} of X have no observed value, and "
                "the energy has no box to fill them on"
            )
        return np.nanmin(X, axis=0), np.nanmax(X, axis=0)

    @property
    def attached(self) -> bool:
        """Whether a training set is registered."""
        return self._data is not None

    @property
    def filled(self) -> np.ndarray | None:
        """Read-only view of the filled-in training set, shape ``(n, dim)`` (None before)."""
        if self._filled is None:
            return None
        view = self._filled.view()
        view.flags.writeable = False
        return view

    @property
    def mask(self) -> np.ndarray | None:
        """Read-only view of the missing entries of the training set, shape ``(n, dim)``."""
        if self._mask is None:
            return None
        view = self._mask.view()
        view.flags.writeable = False
        return view

    def check_rows(self, values: np.ndarray, rows: npt.ArrayLike) -> np.ndarray:
        """Check that ``values`` are rows ``rows`` of the training set; return ``rows``.

        Parameters
        ----------
        values : ndarray, shape (batch_size, dim)
            The rows, checked and clipped like the training set.
        rows : array_like of int, shape (batch_size,)
            Their indices in the training set.
        """
        if self._data is None:
            raise ValueError(
                "rows refer to the training set, which is registered by fit or minibatches"
            )
        rows = np.asarray(rows)
        if rows.shape != (self.batch_size,) or rows.dtype.kind not in "iu":
            raise ValueError(
                f"rows must be {self.batch_size} integer indices, got {rows.dtype} {rows.shape}"
            )
        if np.any(rows < 0) or np.any(rows >= len(self._data)):
            raise ValueError(f"rows must lie in [0, {len(self._data)})")
        if values.shape != (self.batch_size, self._data.shape[1]) or not np.array_equal(
            values, self._data[rows], equal_nan=True
        ):
            raise ValueError("batch is not the rows `rows` of the training set")
        return rows.astype(np.intp)

    # -- moving the filled-in values ------------------------------------------
    def fill(self, rows: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
        """Move the filled-in entries of ``rows`` (not written back: see :meth:`commit`).

        Returns
        -------
        values : ndarray, shape (batch_size, dim)
            The rows with their observed entries and moved filled-in entries.
        record : dict
            ``fill_n_missing`` (missing entries in the batch) and
            ``fill_move_rms`` (root mean square change of them, NaN when there
            are none); with ``"hmc"`` also ``fill_accept`` (mean acceptance
            probability of the draws).
        """
        start = self._filled[rows]
        mask = self._mask[rows]
        if self.mode == "fill":
            values, record = self._descend(start, mask), {}
        else:
            values, record = self._resample(start, mask)
        n_missing = int(mask.sum())
        move = (values - start)[mask]
        rms = float(np.sqrt(np.mean(move.astype(float) ** 2))) if n_missing else float("nan")
        return values, {"fill_n_missing": float(n_missing), "fill_move_rms": rms, **record}

    def _descend(self, v: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """``n_fill_steps`` gradient steps on the missing entries (observed ones untouched)."""
        v = v.copy()
        eps = np.asarray(self.settings["fill_step_size"], dtype=v.dtype)
        for _ in range(self.settings["n_fill_steps"]):
            v[mask] -= eps * self._grad(v)[mask]
            if self._box is not None:
                low, high = self._box
                v = np.where(mask, np.clip(v, low, high), v)
        return v

    def _resample(self, v: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
        """``n_draws`` masked HMC draws of the missing entries given the observed ones."""
        start, rng, dtype = v, self._rng, v.dtype
        has_missing = mask.any(axis=1)
        jitter = self.settings["step_jitter"]
        accept = []
        for _ in range(self.settings["n_draws"]):
            momentum = rng.standard_normal(v.shape).astype(dtype)
            log_u = np.log(rng.random(len(v))).astype(dtype)
            eps = self.step_size * (1.0 + jitter * (2.0 * rng.random() - 1.0))
            v, accept_prob = self._hmc(v, mask, momentum, log_u, np.asarray(eps, dtype))
            if has_missing.any():
                # rows without missing entries do not move (accept 1): left out
                accept.append(float(np.mean(accept_prob[has_missing])))
                if self.tune:
                    self.step_adapt.update(accept[-1], True)
        values = np.where(mask, v, start)
        return values, {"fill_accept": float(np.mean(accept)) if accept else float("nan")}

    def commit(self, rows: np.ndarray, values: np.ndarray) -> None:
        """Write the moved rows into the filled-in training set (missing entries only)."""
        mask = self._mask[rows]
        block = self._filled[rows]
        block[mask] = values[mask]
        self._filled[rows] = block

    def stop_tuning(self) -> None:
        """Freeze the HMC step size at its dual-averaged value (no effect with ``"fill"``)."""
        self.tune = False
