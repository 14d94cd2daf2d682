"""Argument checks shared by the package: integers, bounded floats, float arrays.

Every function raises ``ValueError`` with a message that starts with the
argument's name, so that callers (and tests) see one wording everywhere:

* ``positive_int("k", 0)``: ``"k must be a positive integer, got 0"``
* ``non_negative_int("n", -1)``: ``"n must be a non-negative integer, got -1"``
* ``finite_float("learning_rate", 0.0, low=0.0, low_open=True)``:
  ``"learning_rate must be positive and finite, got 0.0"``
* ``finite_float("weight_decay", -1.0, low=0.0)``:
  ``"weight_decay must be non-negative and finite, got -1.0"``
* ``finite_float("momentum", 1.0, low=0.0, high=1.0, high_open=True)``:
  ``"momentum must lie in [0, 1), got 1.0"``
* ``finite_float("target_accept", 1.0, low=0.0, high=1.0, low_open=True, high_open=True)``:
  ``"target_accept must lie in the open interval (0, 1), got 1.0"``
* ``float_array("mu", [[np.nan]])``: ``"mu must be finite"``
* ``renamed("n_runs", 256, 256, "n_chains", 64)``: ``64``, with a
  ``DeprecationWarning`` naming ``n_runs``
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = [
    "check_shape",
    "finite_float",
    "float_array",
    "non_negative_int",
    "positive_int",
    "renamed",
]


def _integer(name: str, value: Any, low: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"{name} must be a {what} integer, got {value!r}")
    return int(value)


def positive_int(name: str, value: Any) -> int:
    """``value`` as an ``int`` when it is an integer ``>= 1`` (``bool`` refused).

    Examples
    --------
    >>> from pymc_ebm._validation import positive_int
    >>> positive_int("k", 3)
    3
    """
    return _integer(name, value, 1, "positive")


def non_negative_int(name: str, value: Any) -> int:
    """``value`` as an ``int`` when it is an integer ``>= 0`` (``bool`` refused)."""
    return _integer(name, value, 0, "non-negative")


def _number(value: float) -> str:
    return f"{value:g}"


def _bounds_text(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    """What a value must be, e.g. ``"positive and finite"`` or ``"lie in [0, 1)"``."""
    if low is not None and high is not None:
        if low_open and high_open:
            return f"lie in the open interval ({_number(low)}, {_number(high)})"
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        return f"lie in {left}{_number(low)}, {_number(high)}{right}"
    if low is not None:
        if low == 0:
            return "positive and finite" if low_open else "non-negative and finite"
        return f"finite and {'>' if low_open else '>='} {_number(low)}"
    if high is not None:
        return f"finite and {'<' if high_open else '<='} {_number(high)}"
    return "a finite number"


def finite_float(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a ``float`` when it is a finite real scalar within the bounds.

    Parameters
    ----------
    name : str
        Argument name, first word of the error message.
    value : object
        A real scalar (Python or NumPy number, 0-d array).
    low, high : float, optional
        Bounds; ``None`` for none.
    low_open, high_open : bool, default False
        Exclude the bound itself.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        ``"{name} must {bounds}, got {value!r}"`` with ``bounds`` for example
        ``"be positive and finite"``, ``"be non-negative and finite"``,
        ``"lie in [0, 1)"`` or ``"lie in the open interval (0, 1)"``.

    Examples
    --------
    >>> from pymc_ebm._validation import finite_float
    >>> finite_float("momentum", 0.9, low=0.0, high=1.0, high_open=True)
    0.9
    >>> finite_float("momentum", 1.0, low=0.0, high=1.0, high_open=True)
    Traceback (most recent call last):
    ...
    ValueError: momentum must lie in [0, 1), got 1.0
    """
    text = _bounds_text(low, high, low_open, high_open)
    verb = "" if text.startswith("lie") else "be "
    message = f"{name} must {verb}{text}, got {value!r}"
    if isinstance(value, bool | str | bytes) or np.ndim(value) != 0:
        raise ValueError(message)
    try:
        number = float(value)
    except (TypeError, ValueError) as err:
        raise ValueError(message) from err
    if not np.isfinite(number):
        raise ValueError(message)
    if low is not None and (number <= low if low_open else number < low):
        raise ValueError(message)
    if high is not None and (number >= high if high_open else number > high):
        raise ValueError(message)
    return number


def float_array(name: str, value: Any, ndim: int | None = None) -> np.ndarray:
    """``value`` as a finite float64 array, optionally with ``ndim`` dimensions.

    Examples
    --------
    >>> from pymc_ebm._validation import float_array
    >>> float_array("mu", [[0, 1]], ndim=2).dtype
    dtype('float64')
    """
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be an array of numbers") from err
    if ndim is not None and array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite")
    return array


def renamed(new_name: str, new_value: Any, new_default: Any, old_name: str, old_value: Any) -> Any:
    """The value of a renamed argument, taking its old spelling with a ``DeprecationWarning``.

    ``old_value`` is ``None`` when the old spelling was not used. Both
    spellings at once (the new one away from its default) raise ``TypeError``.

    Examples
    --------
    >>> import warnings
    >>> from pymc_ebm._validation import renamed
    >>> renamed("n_runs", 64, 256, "n_chains", None)
    64
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     value = renamed("n_runs", 256, 256, "n_chains", 64)
    >>> value, str(caught[0].message)
    (64, 'n_chains is deprecated and will be removed in a future release: use n_runs')
    """
    if old_value is None:
        return new_value
    if new_value is not new_default and new_value != new_default:
        raise TypeError(f"give {new_name} only ({old_name} is its deprecated spelling), not both")
    warnings.warn(
        f"{old_name} is deprecated and will be removed in a future release: use {new_name}",
        DeprecationWarning,
        stacklevel=3,
    )
    return old_value


def check_shape(name: str, array: np.ndarray, shape: Sequence[int]) -> None:
    """Raise ``ValueError`` naming ``name`` when ``array.shape != shape``."""
    if array.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)}, got {array.shape}")
