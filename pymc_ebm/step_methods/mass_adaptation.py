"""Windowed adaptation of a diagonal mass matrix from batches of rows, and its window schedule.

:func:`mass_windows` is the schedule, Stan's windowed adaptation (the model of
NumPyro's ``build_adaptation_schedule``) counted in draws: an initial buffer
of ``init_buffer`` tuning draws, then windows of ``first_window`` draws that
double, the last one running on to ``term_buffer`` draws before the end of
tuning; with fewer tuning draws than the three together, the buffers take
15 % and 10 % of them and one window the rest. :class:`DiagMassAdaptation`
follows it: at the end of each window the inverse mass becomes the variance
of every element over that window's draws of **all rows** (each draw of an
``(n_rows, size)`` block brings ``n_rows`` samples, pooled with Chan et al.'s
parallel variance formula). :func:`inverse_mass` reads PyMC's ``scaling``,
``is_cov`` and ``potential`` arguments.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

import numpy as np
from pymc.step_methods.hmc.quadpotential import QuadPotentialDiag, QuadPotentialDiagAdapt
from pymc.step_methods.state import DataClassState, WithSamplingState, dataclass_state

__all__ = [
    "MASS_FIRST_WINDOW",
    "MASS_INIT_WINDOW",
    "MASS_TERMINAL_WINDOW",
    "DiagMassAdaptation",
    "DiagMassState",
    "inverse_mass",
    "mass_windows",
    "split",
    "narrowest_width",
]

MASS_INIT_WINDOW = 25
"""Tuning draws before the first mass-matrix window (their draws are not used)."""
MASS_FIRST_WINDOW = 25
"""Length in draws of the first mass-matrix window; later windows double."""
MASS_TERMINAL_WINDOW = 100
"""Tuning draws after the last mass update, left to the step size alone."""
MIN_WINDOW = 10
"""A first window shorter than this (very few tuning draws) means no adaptation."""


def window_plan(
    n_tune: int | None,
    init_buffer: int = MASS_INIT_WINDOW,
    first_window: int = MASS_FIRST_WINDOW,
    term_buffer: int = MASS_TERMINAL_WINDOW,
) -> tuple[int, int, int | None]:
    """Start and length of the first window, and where the last one ends (``None``: never).

    Returns ``(start, length, last_end)``; a length of ``0`` means no window.
    """
    if n_tune is None:
        return init_buffer, first_window, None
    last_end = n_tune - term_buffer
    if n_tune < init_buffer + first_window + term_buffer:
        init_buffer, last_end = int(0.15 * n_tune), n_tune - int(0.1 * n_tune)
        first_window = last_end - init_buffer
    return init_buffer, first_window if first_window >= MIN_WINDOW else 0, last_end


def window_end(start: int, length: int, last_end: int | None) -> int:
    """End of the window of ``length`` draws from ``start`` (-1: none fits before ``last_end``).

    A window whose doubled successor would not fit runs on to ``last_end`` (as in Stan).
    """
    if length <= 0:
        return -1
    if last_end is None:
        return start + length
    if start + length > last_end:
        return -1
    return last_end if start + 3 * length > last_end else start + length


def mass_windows(
    n_tune: int,
    init_buffer: int = MASS_INIT_WINDOW,
    first_window: int = MASS_FIRST_WINDOW,
    term_buffer: int = MASS_TERMINAL_WINDOW,
) -> list[tuple[int, int]]:
    """The adaptation windows for ``n_tune`` tuning draws, as ``(start, end)`` draw counts.

    Window ``(start, end)`` collects tuning draws ``start, ..., end - 1``
    (0-based) and sets the mass after draw ``end - 1``.

    Examples
    --------
    Stan's default buffers (75, 25, 50) give NumPyro's schedule for 1000 draws:

    >>> mass_windows(1000, 75, 25, 50)
    [(75, 100), (100, 150), (150, 250), (250, 450), (450, 950)]
    >>> mass_windows(100)
    [(15, 90)]
    """
    start, length, last_end = window_plan(n_tune, init_buffer, first_window, term_buffer)
    windows = []
    while (end := window_end(start, length, last_end)) >= 0:
        windows.append((start, end))
        start, length = end, 2 * (end - start)
    return windows


@dataclass_state
class DiagMassState(DataClassState):
    """Sampling state of :class:`DiagMassAdaptation`."""

    inv_mass: np.ndarray
    n_tune: int | None
    n_seen: int
    window_start: int
    window_end: int
    last_end: int | None
    count: int
    mean: np.ndarray
    m2: np.ndarray
    adapt: bool = field(metadata={"frozen": True})
    initial_inv_mass: np.ndarray = field(metadata={"frozen": True})


class DiagMassAdaptation(WithSamplingState):
    """Diagonal inverse mass (the variance of each element), adapted from tuning draws in windows.

    Not PyMC's ``QuadPotentialDiagAdapt``: that one takes one sample per call
    and counts its windows in samples, while here every draw brings
    ``n_rows`` samples of the same per-row coordinates, pooled in one batch
    update, and the windows (:func:`mass_windows`) count draws. When the
    number of tuning draws is not known (``n_tune`` is ``None``) the windows
    double for ever.

    Parameters
    ----------
    inv_mass : ndarray, shape (size,)
        The initial inverse mass.
    adapt : bool
        Whether to adapt it.
    """

    _state_class = DiagMassState

    def __init__(self, inv_mass: np.ndarray, adapt: bool) -> None:
        self.initial_inv_mass = np.array(inv_mass, dtype="float64")
        self.adapt = bool(adapt)
        self.n_tune: int | None = None
        self.reset()

    def reset(self) -> None:
        """Back to the initial inverse mass; plan the windows for ``n_tune`` tuning draws.

        ``n_tune`` is an attribute (``None``: not known, windows double for ever).
        """
        self.inv_mass = self.initial_inv_mass.copy()
        self.n_seen = 0
        start, length, self.last_end = window_plan(self.n_tune)
        self._start_window(start, length)

    def _start_window(self, start: int, length: int) -> None:
        self.window_start = start
        self.window_end = window_end(start, length, self.last_end)
        size = self.inv_mass.size
        self.count, self.mean, self.m2 = 0, np.zeros(size), np.zeros(size)

    def update(self, samples: np.ndarray) -> bool:
        """Add one tuning draw of shape ``(n_rows, size)``; return whether the mass changed."""
        if not self.adapt or self.window_end < 0:
            return False
        self.n_seen += 1
        if self.n_seen > self.window_start:
            n_b = samples.shape[0]
            mean_b = samples.mean(axis=0)
            delta = mean_b - self.mean
            n = self.count + n_b
            self.m2 = (
                self.m2 + ((samples - mean_b) ** 2).sum(axis=0) + delta**2 * self.count * n_b / n
            )
            self.mean = self.mean + delta * n_b / n
            self.count = n
        if self.n_seen < self.window_end:
            return False
        var = self.m2 / max(self.count - 1, 1)
        changed = bool(np.all(np.isfinite(var)) and np.all(var > 0))
        if changed:  # a coordinate that never moved keeps the old mass
            self.inv_mass = np.clip(var, 1e-12, 1e12)
        length = self.window_end - self.window_start
        self._start_window(self.window_end, 2 * length)
        return changed


def narrowest_width(old: np.ndarray, new: np.ndarray) -> float:
    """What the step size is divided by when the inverse mass changes from ``old`` to ``new``.

    The step size is limited by the narrowest direction in the scaled
    coordinates ``q / sqrt(M⁻¹)``, whose widths were about ``sqrt(new / old)``
    under the old mass and are about 1 under the new one: the dual averaging
    restarts (as Stan's does) from the step size divided by the narrowest.

    Examples
    --------
    >>> narrowest_width(np.ones(2), np.array([4.0, 0.25]))
    0.5
    """
    return float(np.sqrt(np.min(new / old)))


def split(
    inv_mass: np.ndarray, shapes: list[tuple[int, ...]], dtypes: list[str]
) -> list[np.ndarray]:
    """A flat inverse mass split into one array per variable, of the given shapes and dtypes."""
    out = []
    for shape, dtype in zip(shapes, dtypes, strict=True):
        size = int(np.prod(shape))
        out.append(np.asarray(inv_mass[:size].reshape(shape), dtype=dtype))
        inv_mass = inv_mass[size:]
    return out


def _real_array(scaling: Any) -> np.ndarray:
    """``scaling`` as a float64 array; ``ValueError`` unless it holds real numbers.

    Complex, boolean, string and object arrays (``None`` entries) are refused.
    """
    try:
        array = np.asarray(scaling)
    except (TypeError, ValueError) as err:
        raise ValueError(f"scaling must be a 1-D array of real numbers: {err}") from None
    if array.dtype.kind not in "iuf":
        raise ValueError(
            f"scaling must be a 1-D array of real numbers, got an array of dtype {array.dtype}"
        )
    return array.astype("float64")


def inverse_mass(
    scaling: Any, is_cov: bool, potential: Any, size: int, per_row: bool
) -> tuple[np.ndarray, bool]:
    """The inverse mass vector from PyMC's HMC arguments, and whether to adapt it.

    Parameters
    ----------
    scaling : array_like or None
        1-D diagonal of the mass matrix: a precision (``M``), or with
        ``is_cov`` a covariance (``M⁻¹``).
    is_cov : bool
        Whether ``scaling`` is ``M⁻¹``.
    potential : QuadPotentialDiag, QuadPotentialDiagAdapt or None
        PyMC's diagonal potentials (read for their variance vector).
    size : int
        Elements of one row (per-row test) or of the whole block (joint test).
    per_row : bool
        Which of the two, for the messages.

    Returns
    -------
    inv_mass : ndarray, shape (size,)
    adapt : bool
        ``True`` without ``scaling`` and ``potential``, or with a ``QuadPotentialDiagAdapt``.

    Raises
    ------
    ValueError
        For both ``scaling`` and ``potential``, another potential, and a
        ``scaling`` or variance that is not 1-D, of the wrong size, not
        positive and finite, or not real.
    """
    if scaling is not None and potential is not None:
        raise ValueError("Can not specify both potential and scaling.")
    if potential is not None:
        if isinstance(potential, QuadPotentialDiagAdapt):
            inv_mass, adapt = np.asarray(potential._var, dtype="float64"), True
        elif isinstance(potential, QuadPotentialDiag):
            inv_mass, adapt = np.asarray(potential.v, dtype="float64"), False
        else:
            raise ValueError(
                f"ShortRunHMC supports diagonal potentials only (QuadPotentialDiag, "
                f"QuadPotentialDiagAdapt), got {type(potential).__name__}"
            )
        name = "the potential's variance vector"
    elif scaling is not None:
        scaling = _real_array(scaling)
        if scaling.ndim != 1:
            raise ValueError(
                f"scaling must be a 1-D array (a diagonal mass matrix), got shape {scaling.shape}"
            )
        if not (np.all(np.isfinite(scaling)) and np.all(scaling > 0)):
            raise ValueError(f"scaling must be positive and finite, got {scaling}")
        inv_mass, adapt, name = scaling if is_cov else 1.0 / scaling, False, "scaling"
    else:
        return np.ones(size), True
    if inv_mass.shape != (size,):
        raise ValueError(
            f"{name} must have {size} elements "
            f"({'one row' if per_row else 'the whole block'} of the block, flattened), "
            f"got shape {inv_mass.shape}"
        )
    if not (np.all(np.isfinite(inv_mass)) and np.all(inv_mass > 0)):
        raise ValueError(f"{name} must be positive and finite, got {inv_mass}")
    return inv_mass, adapt
