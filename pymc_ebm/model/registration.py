"""Registering energies in a ``pm.Model``: visible variables, hidden states, potentials."""

from __future__ import annotations

import warnings
import weakref

import numpy as np
import numpy.typing as npt
import pymc as pm
import pytensor
import pytensor.tensor as pt
from pytensor.tensor.variable import TensorVariable

from pymc_ebm._validation import positive_int, renamed
from pymc_ebm.energies.base import Energy

__all__ = ["energy_of", "hidden", "missing_layout", "visible"]

_TAG_ENERGY = "ebm_energy"
_TAG_ROLE = "ebm_role"
_TAG_PARTNER = "ebm_partner"
#: Tag entries read by :mod:`pymc_ebm.model.terms`: a visible's potential, and its model.
TAG_POTENTIAL = "ebm_potential"
TAG_MODEL = "ebm_model"


class _ModelRef:
    """A weak reference to the model a variable was registered in.

    Step methods' ``competence`` gets the variable alone, so this is how it
    finds the model when ``pm.sample(model=...)`` runs outside ``with model:``.
    Weak, so that the tag keeps no model alive; it pickles and deep-copies as
    a dead reference (a copy in another process or a deep clone has no model).
    """

    __slots__ = ("_ref",)

    def __init__(self, model: pm.Model | None = None) -> None:
        self._ref = None if model is None else weakref.ref(model)

    def __call__(self) -> pm.Model | None:
        return None if self._ref is None else self._ref()

    def __reduce__(self) -> tuple[type, tuple]:
        return (_ModelRef, ())


def _model_for(function: str, model: pm.Model | None) -> pm.Model:
    """``model``, or the model on the context stack; a clear error when there is none."""
    if model is not None:
        if not isinstance(model, pm.Model):
            raise TypeError(f"model must be a pm.Model or None, got {type(model).__name__}")
        return model
    try:
        return pm.modelcontext(None)
    except TypeError:
        raise TypeError(
            f"{function}() must be called inside `with pm.Model():` or be given model="
        ) from None


def _check_names(model: pm.Model, names: list[str]) -> None:
    """Refuse names the model already has, before anything is added to it."""
    taken = [n for n in names if n in model.named_vars]
    if taken:
        raise ValueError(f"the model already has variables named {taken}")


def visible(
    name: str,
    energy: Energy,
    n_particles: int | None = None,
    *,
    observed: npt.ArrayLike | None = None,
    model: pm.Model | None = None,
    n_chains: int | None = None,
) -> TensorVariable:
    """Add visible variables with density ``p(v) ∝ exp(-E(v))`` to a PyMC model.

    Without ``observed``: creates a variable of shape ``(n_particles, dim)`` — a
    ``pm.Uniform`` box when the energy lives on a box, ``pm.Flat`` otherwise —
    and a ``pm.Potential`` named ``f"{name}_energy"`` holding ``-energy(v)``
    with one entry per row. Any PyMC sampler then draws ``n_particles``
    independent copies (the "fantasy particles"), within each of its chains.

    With ``observed`` (an ``(n_rows, dim)`` array with ``NaN`` for missing
    entries), the missing entries become free variables and the observed
    ones constants, as PyMC's automatic imputation does: ``pm.sample`` draws
    each incomplete row's missing entries from their conditional density
    given the row's observed entries. The model gets

    * ``f"{name}_missing"``, shape ``(n_incomplete_rows, max_missing)``: the
      free variable; slot ``j`` of row ``i`` holds the ``j``-th missing column
      of the ``i``-th incomplete row (columns in increasing order). Rows with
      fewer missing entries are padded; a padded slot has its own proper
      density (``Uniform(0, 1)`` for box energies, otherwise a normal with
      the mean and standard deviation of the observed values of the
      columns the slot holds in other rows, so that a sampler sharing one
      step size and mass per slot sees one scale) and its value is ignored.
      Missing entries are ``pm.Uniform`` on their column's interval for box
      energies, ``pm.Flat`` (started at the column's observed mean) otherwise.
    * ``f"{name}_energy"``: a ``pm.Potential`` of shape
      ``(n_incomplete_rows,)`` holding ``-energy`` of the completed
      incomplete rows (complete rows are constants: they add nothing), and
      ``f"{name}_padding"``, the padded slots' normal terms (only where
      there are padded slots and no box).
    * ``name``: a ``pm.Deterministic`` of shape ``(n_rows, dim)``, the full
      matrix (observed values with the missing ones filled in), returned.

    Each row's log density depends on its own row alone, so the rows are
    independent chains (``ShortRunHMC`` uses its per-row test on them).

    Parameters
    ----------
    name : str
        Name of the visible variable (of the completed matrix with ``observed``).
    energy : Energy
        The energy; its parameters stay shared, so later updates are seen by
        functions compiled from this model.
    n_particles : int, optional
        Number of independent rows (default 1). Not allowed with ``observed``,
        whose rows are the rows.
    observed : array_like, shape (n_rows, dim), optional
        Data with ``NaN`` for missing entries. Every row needs an observed
        entry, at least one entry must be missing, no entry may be infinite,
        and observed entries of a box energy must lie in its box.
    model : pm.Model, optional
        Defaults to the model on the context stack.
    n_chains : int, optional
        Deprecated spelling of ``n_particles`` (a ``DeprecationWarning``).

    Returns
    -------
    TensorVariable, shape (n_particles, dim) or (n_rows, dim)
        The visible random variable, or with ``observed`` the completed
        matrix (a ``pm.Deterministic``; :func:`energy_of` gives its energy).

    Raises
    ------
    TypeError
        For a ``name`` that is not a string, an ``energy`` that is not an
        :class:`~pymc_ebm.Energy`, and a call outside ``with pm.Model():``
        without ``model``.
    ValueError
        For ``n_particles`` together with ``observed``, a name the model already
        has, and ``observed`` that is not 2-D with ``dim`` columns, has an
        infinite entry, a row with no observed entry, no missing entry, or an
        observed entry outside the energy's box. Nothing is added to the
        model then.

    Examples
    --------
    >>> import numpy as np, pymc as pm, pymc_ebm
    >>> experts = pymc_ebm.Gaussian(np.zeros((4, 2)), np.ones((4, 2)))
    >>> with pm.Model() as model:
    ...     v = pymc_ebm.visible("v", experts, n_particles=3)
    >>> v.type.shape
    (3, 2)

    Imputing the missing entries of a data matrix:

    >>> X = np.array([[0.5, np.nan], [np.nan, -1.0], [0.2, 0.3]])
    >>> with pm.Model() as model:
    ...     x = pymc_ebm.visible("x", experts, observed=X)
    >>> [rv.name for rv in model.free_RVs], model["x_missing"].type.shape
    (['x_missing'], (2, 1))
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string, got {name!r}")
    if not isinstance(energy, Energy):
        raise TypeError(f"energy must be an Energy, got {type(energy).__name__}")
    spelling = "n_particles" if n_chains is None else "n_chains"
    n_particles = renamed("n_particles", n_particles, None, "n_chains", n_chains)
    if observed is not None:
        if n_particles is not None:
            raise ValueError(
                f"give {spelling} or observed, not both: with observed, the rows of "
                "observed are the rows"
            )
        X = check_observed(energy, observed)
        return _visible_with_missing(name, energy, X, _model_for("visible", model))
    n_particles = positive_int(spelling, 1 if n_particles is None else n_particles)
    model = _model_for("visible", model)
    _check_names(model, [name, f"{name}_energy"])
    shape = (n_particles, energy.dim)
    with model:
        if energy.domain is not None:
            low, high = energy.domain
            v = pm.Uniform(name, lower=low, upper=high, shape=shape)
        else:
            v = pm.Flat(name, shape=shape)
        potential = pm.Potential(f"{name}_energy", -energy.energy(v))
    v.tag.__dict__[_TAG_ENERGY] = energy
    v.tag.__dict__[_TAG_ROLE] = "visible"
    v.tag.__dict__[TAG_POTENTIAL] = potential
    v.tag.__dict__[TAG_MODEL] = _ModelRef(model)
    return v


def check_observed(energy: Energy, observed: npt.ArrayLike) -> np.ndarray:
    """``observed`` as a float64 ``(n_rows, dim)`` array with ``NaN`` for missing entries.

    A masked array's masked entries count as missing.

    Raises
    ------
    ValueError
        When ``observed`` is not 2-D with ``energy.dim`` columns, has no row,
        has an infinite entry, a row with no observed entry, no missing entry,
        or an observed entry outside the energy's box.
    """
    if not isinstance(energy, Energy):
        raise TypeError(f"energy must be an Energy, got {type(energy).__name__}")
    try:
        if isinstance(observed, np.ma.MaskedArray):
            observed = observed.astype(float).filled(np.nan)
        X = np.array(observed, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError("observed must be an array of numbers (NaN for missing)") from err
    if X.ndim != 2 or X.shape[1] != energy.dim or X.shape[0] == 0:
        raise ValueError(
            f"observed must have shape (n_rows, {energy.dim}) with n_rows >= 1, got {X.shape}"
        )
    if np.any(np.isinf(X)):
        raise ValueError("observed must not contain inf (NaN marks a missing entry)")
    missing = np.isnan(X)
    empty = np.flatnonzero(missing.all(axis=1))
    if empty.size:
        raise ValueError(
            f"observed rows {empty[:10].tolist()} have no observed entry (all NaN): "
            "nothing to condition on, drop them or sample them with n_particles"
        )
    if not missing.any():
        raise ValueError("observed has no missing (NaN) entry: nothing to impute")
    if energy.domain is not None:
        low, high = (
            np.broadcast_to(np.asarray(b, dtype=float), (energy.dim,)) for b in energy.domain
        )
        with np.errstate(invalid="ignore"):
            outside = (X < low) | (X > high)
        if outside.any():
            row, col = np.argwhere(outside)[0]
            raise ValueError(
                f"observed[{row}, {col}] = {X[row, col]!r} lies outside the energy's box "
                f"[{low[col]!r}, {high[col]!r}] ({int(outside.sum())} entries outside)"
            )
    return X


def missing_layout(missing: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Where each missing entry goes in the ``(n_incomplete, max_missing)`` free variable.

    The layout :func:`visible` uses for ``observed`` data with ``NaN``;
    step methods written for an imputation model read it to find the column
    of each slot.

    Parameters
    ----------
    missing : ndarray of bool, shape (n_rows, dim)
        Where the data is missing.

    Returns
    -------
    rows : ndarray of int, shape (n_incomplete,)
        The incomplete rows (indices into ``missing``).
    columns : ndarray of int, shape (n_incomplete, max_missing)
        The column of each slot (``-1`` for a padded slot).
    entry_row, entry_slot : ndarray of int
        The (incomplete-row, slot) index of every missing entry, in
        row-major order of ``missing[rows]``.

    Examples
    --------
    >>> import numpy as np
    >>> from pymc_ebm.model import missing_layout
    >>> rows, columns, _, _ = missing_layout(np.array([[0, 1, 1], [0, 0, 0], [1, 0, 0]], bool))
    >>> rows.tolist(), columns.tolist()
    ([0, 2], [[1, 2], [0, -1]])
    """
    rows = np.flatnonzero(missing.any(axis=1))
    sub = missing[rows]
    counts = sub.sum(axis=1)
    width = int(counts.max())
    entry_row, entry_col = np.nonzero(sub)  # row-major: columns increase within a row
    entry_slot = np.arange(entry_row.size) - np.repeat(np.cumsum(counts) - counts, counts)
    columns = np.full((rows.size, width), -1)
    columns[entry_row, entry_slot] = entry_col
    return rows, columns, entry_row, entry_slot


def _padding_location_scale(
    means: np.ndarray, scales: np.ndarray, columns: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Location and scale of each slot's padding, both of shape ``(max_missing,)``.

    A sampler with one step size and one mass per slot (shared by the rows,
    as ``ShortRunHMC``'s) sees a slot's real entries and its padding
    together, so the padding gets the slot's scale: the root mean square of
    the observed standard deviations (``scales``, per column) of the columns
    the slot holds where it is real, and the mean of their observed
    ``means``. A column without a usable standard deviation (fewer than two
    distinct observed values) counts with the root mean square of the
    usable ones, or 1 when there is none.
    """
    usable = np.isfinite(scales) & (scales > 0)
    fallback = np.sqrt(np.mean(scales[usable] ** 2)) if usable.any() else 1.0
    column_scale = np.where(usable, scales, fallback)
    real = columns >= 0
    held = np.where(real, columns, 0)
    count = real.sum(axis=0)  # every slot is real in some row
    loc = (means[held] * real).sum(axis=0) / count
    scale = np.sqrt((column_scale[held] ** 2 * real).sum(axis=0) / count)
    return loc, scale


def _visible_with_missing(
    name: str, energy: Energy, X: np.ndarray, model: pm.Model
) -> TensorVariable:
    """:func:`visible` with checked data ``X``: see its docstring for the variables made."""
    missing = np.isnan(X)
    rows, columns, entry_row, entry_slot = missing_layout(missing)
    padded = columns < 0
    _check_names(model, [name, f"{name}_missing", f"{name}_energy", f"{name}_padding"])
    names = [name, f"{name}_missing", f"{name}_energy", f"{name}_padding"]
    floatx = pytensor.config.floatX
    base = np.where(missing, 0.0, X).astype(floatx)
    shape = columns.shape
    with model:
        if energy.domain is not None:
            low, high = (
                np.broadcast_to(np.asarray(b, dtype=float), (energy.dim,)) for b in energy.domain
            )
            lower = np.where(padded, 0.0, low[columns])
            upper = np.where(padded, 1.0, high[columns])
            free = pm.Uniform(names[1], lower=lower, upper=upper, shape=shape)
        else:
            with warnings.catch_warnings():  # a column missing in every row starts at 0
                warnings.simplefilter("ignore", RuntimeWarning)
                means = np.nan_to_num(np.nanmean(X, axis=0))
                scales = np.nanstd(X, axis=0)  # NaN or 0 where fewer than 2 values differ
            loc, scale = _padding_location_scale(means, scales, columns)
            start = np.where(padded, loc, means[columns])
            free = pm.Flat(names[1], shape=shape, initval=start)
            if padded.any():
                z = (free - loc) / scale
                pm.Potential(names[3], -0.5 * pt.sum(pt.where(padded, z**2, 0.0), axis=1))
        entry_col = columns[entry_row, entry_slot]
        rows_filled = pt.set_subtensor(
            pt.as_tensor(base[rows])[entry_row, entry_col], free[entry_row, entry_slot]
        )
        potential = pm.Potential(names[2], -energy.energy(rows_filled))
        x = pm.Deterministic(name, pt.set_subtensor(pt.as_tensor(base)[rows], rows_filled))
    x.tag.__dict__[_TAG_ENERGY] = energy
    x.tag.__dict__[_TAG_ROLE] = "imputed"
    x.tag.__dict__[TAG_POTENTIAL] = potential
    return x


def hidden(
    name: str, energy: Energy, v: TensorVariable, *, model: pm.Model | None = None
) -> TensorVariable:
    """Add the experts' binary hidden states and switch ``v``'s potential to the joint energy.

    After the call, the model's density is ``p(v, h) ∝ exp(-E(v, h))`` with
    ``h`` a ``pm.Bernoulli`` of shape ``(n_particles, n_experts)`` (its constant
    prior ``p = 1/2`` only shifts the log density). Summing ``h`` out gives
    back ``p(v)`` of :func:`visible`.

    Parameters
    ----------
    name : str
        Name of the hidden variable.
    energy : Energy
        An energy with a ``joint_energy(v, h)`` method (e.g. :class:`~pymc_ebm.UniGauss`),
        the one ``v`` was registered with.
    v : TensorVariable
        The visible variable returned by :func:`visible`.
    model : pm.Model, optional
        Defaults to the model on the context stack.

    Returns
    -------
    TensorVariable, shape (n_particles, n_experts)

    Examples
    --------
    >>> import numpy as np, pymc as pm, pymc_ebm
    >>> experts = pymc_ebm.UniGauss(np.full((3, 2), 0.5), np.full((3, 2), 0.1), np.full(3, 0.5))
    >>> with pm.Model() as model:
    ...     v = pymc_ebm.visible("v", experts, n_particles=4)
    ...     h = pymc_ebm.hidden("h", experts, v)
    >>> h.type.shape
    (4, 3)
    """
    if not hasattr(energy, "joint_energy"):
        raise TypeError(f"{type(energy).__name__} has no hidden states (no joint_energy)")
    if energy_of(v) is not energy:
        raise ValueError("v must be a visible variable registered with the same energy")
    if role_of(v) != "visible":
        raise ValueError("v must be a visible variable made by pymc_ebm.visible without observed")
    if _TAG_PARTNER in v.tag.__dict__:
        raise ValueError(f"{v.name} already has hidden states")
    model = _model_for("hidden", model)
    old = v.tag.__dict__[TAG_POTENTIAL]
    if old not in model.potentials:
        raise ValueError(f"{v.name} is not a visible variable of this model")
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string, got {name!r}")
    _check_names(model, [name, f"{v.name}_{name}_energy"])
    n_particles = v.type.shape[0]
    with model:
        h = pm.Bernoulli(name, p=0.5, shape=(n_particles, energy.n_experts))
    _drop_potential(model, old)
    with model:
        potential = pm.Potential(f"{v.name}_{name}_energy", -energy.joint_energy(v, h))
    v.tag.__dict__[TAG_POTENTIAL] = potential
    v.tag.__dict__[_TAG_PARTNER] = h
    h.tag.__dict__[_TAG_ENERGY] = energy
    h.tag.__dict__[_TAG_ROLE] = "hidden"
    h.tag.__dict__[_TAG_PARTNER] = v
    h.tag.__dict__[TAG_MODEL] = _ModelRef(model)
    return h


def _drop_potential(model: pm.Model, potential: TensorVariable) -> None:
    """Take ``potential`` out of ``model`` and of the models it is nested in.

    PyMC has no call that removes a model term, and the only exact way to
    turn ``p(v)`` into ``p(v, h)`` with ``pm.Potential`` alone, adding
    ``log p(h | v)`` as a term of its own, makes the joint log density and its
    gradient 3-8 times as expensive for PyMC's own samplers (the free energy's
    per-expert log-sum-exps are then computed twice). A nested model keeps
    its terms in its parents' lists too, so they lose the potential as well.
    """
    while model is not None:
        if potential in model.potentials:
            model.potentials.remove(potential)
        model.named_vars.pop(potential.name, None)
        model.named_vars_to_dims.pop(potential.name, None)
        model = model.parent


def energy_of(var: TensorVariable) -> Energy | None:
    """The energy a variable was registered with by :func:`visible`/:func:`hidden`, if any."""
    return getattr(var, "tag", None) and var.tag.__dict__.get(_TAG_ENERGY)


def role_of(var: TensorVariable) -> str | None:
    """``"visible"``, ``"hidden"`` or ``None``."""
    return getattr(var, "tag", None) and var.tag.__dict__.get(_TAG_ROLE)


def partner_of(var: TensorVariable) -> TensorVariable | None:
    """The hidden variable of a visible one, or the visible variable of a hidden one."""
    return getattr(var, "tag", None) and var.tag.__dict__.get(_TAG_PARTNER)
