"""What a model's log density is made of: the one place step methods read a model from.

A step method that is exact only for some models decides from the model's
terms: the random variables' densities, the potentials and, for
:func:`pymc_ebm.visible` variables, their registered energy potential.

* :func:`energy_potential` (a visible's own potential), :func:`other_terms`
  (the terms on some variables besides the given ones) and :func:`resolve`
  (a tagged variable looked up in a cloned model).
* :func:`split_terms`: the terms of ``model.logp(sum=False)`` on a block of
  variables and the rest, with the rows they share (:class:`BlockTerms`);
  :func:`row_sum`, :func:`row_log_density`.
* Whether the rows of an ``(n_rows, ...)`` block are independent chains.
  A per-row Metropolis test (one accept/reject per row) leaves the target
  invariant only when the log density splits into one term per row,
  ``log p(x) = Σ_i f_i(x_i)``, with ``f_i`` the row-``i`` entries of the
  model's log-density terms. Equal leading lengths do not prove it: a term
  ``x - x.mean(0)``, ``pm.Normal("y", x[::-1], ...)`` or three coefficients
  with three observations all have the rows' leading length but couple (or
  permute) the rows. :func:`registered_rows` is the shortcut for models built
  by :func:`pymc_ebm.visible` (an energy gives one energy per row, so the
  rows are independent by construction when nothing else touches them);
  :func:`rows_are_independent` checks any other model by the exact zeros of
  the Jacobian ``∂u_i/∂x_j`` (``i ≠ j``) at a random point. A dependence
  that is absent from the graph gives an exact zero in floating point, and
  one that is present is non-zero at a random point unless its derivative
  vanishes there, which for smooth couplings happens on a set of measure
  zero. What a local check cannot see is a coupling whose derivative is zero
  on a whole region around the probe point (a ``switch`` or ``relu`` that is
  inactive there); for such a model pass ``per_row=False`` to the step method.
* :func:`value_transform`: a variable's own PyMC transform, compiled, from
  data space to the value space step methods sample in and back;
  :func:`to_box` and :func:`from_box`: the interval transform of a
  ``pm.Uniform`` box in NumPy, for the Gibbs steps' inner loops.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
from pymc.blocking import PointType
from pytensor.gradient import jacobian
from pytensor.graph.basic import Variable
from pytensor.graph.traversal import ancestors
from pytensor.tensor.variable import TensorVariable
from scipy.special import expit

from pymc_ebm import backends
from pymc_ebm.model.registration import TAG_MODEL, TAG_POTENTIAL, role_of

__all__ = [
    "MAX_JACOBIAN_SIZE",
    "BlockTerms",
    "energy_potential",
    "from_box",
    "independent_rows",
    "model_of",
    "other_terms",
    "registered_rows",
    "resolve",
    "row_log_density",
    "row_sum",
    "rows_are_independent",
    "split_terms",
    "to_box",
    "value_transform",
]

MAX_JACOBIAN_SIZE = 2**24
"""Most Jacobian entries computed: the first rows are probed when all rows would exceed it."""


def rows_are_independent(
    potential: TensorVariable,
    block: list[TensorVariable],
    inputs: list[TensorVariable],
    point: PointType,
    *,
    seed: int = 0,
) -> tuple[bool, str]:
    """Check that row ``i`` of ``potential`` depends on row ``i`` of the block alone.

    Parameters
    ----------
    potential : TensorVariable, shape (n_rows,)
        Per-row potential energy (minus the per-row log density).
    block : list of TensorVariable
        Sampled value variables, each of shape ``(n_rows, ...)``.
    inputs : list of TensorVariable
        Every value variable the potential depends on (the block included).
    point : dict
        A point of the model (value space), by variable name; the check is
        made at this point plus standard normal noise on the block.
    seed : int, default 0
        Seed of the probe point.

    Returns
    -------
    independent : bool
        Whether every probed row's Jacobian is zero outside its own row.
    reason : str
        Why not (empty when ``independent``).

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> x = pt.matrix("x")
    >>> point = {"x": np.zeros((3, 2))}
    >>> rows_are_independent(pt.sum(x**2, axis=1), [x], [x], point)
    (True, '')
    >>> rows_are_independent(pt.sum((x - x.mean(0)) ** 2, axis=1), [x], [x], point)[0]
    False
    """
    n_rows = int(np.shape(point[block[0].name])[0])
    row_size = sum(int(np.prod(np.shape(point[v.name])[1:])) for v in block)
    # All rows, or as many leading rows as MAX_JACOBIAN_SIZE allows (a slice, not
    # an index array: the vectorised gradient of advanced indexing is slow).
    n_probed = int(min(n_rows, max(1, MAX_JACOBIAN_SIZE // max(1, n_rows * row_size))))
    jacobians = jacobian(
        potential[:n_probed], block, vectorize=True, disconnected_inputs="ignore"
    )  # each (n_probed, n_rows, ...)
    off_diagonal = ~np.eye(n_probed, n_rows, dtype=bool)
    # Entries that are not exactly zero outside the row's own block (NaN counts as coupled).
    coupled = [
        pt.sum(pt.any(pt.neq(jac.reshape((n_probed, n_rows, -1)), 0.0), axis=2)[off_diagonal])
        for jac in jacobians
    ]
    used = [v for v in inputs if v in set(ancestors([potential]))]
    fn = pytensor.function(used, pt.stack(coupled), mode="FAST_COMPILE", on_unused_input="ignore")
    rng = np.random.default_rng(seed)
    values = []
    for v in used:
        value = np.asarray(point[v.name], dtype=v.dtype)
        if v in block:
            value = value + rng.standard_normal(value.shape).astype(v.dtype)
        values.append(value)
    counts = fn(*values)
    if np.any(counts):
        names = [v.name for v, c in zip(block, counts, strict=True) if c]
        return False, (
            f"the log density of a row depends on other rows of {names} "
            "(Jacobian check at a random point)"
        )
    return True, ""


def registered_rows(model: pm.Model, block: list[TensorVariable]) -> bool:
    """Whether ``block`` is visible variables whose only terms are their own prior and energy.

    Parameters
    ----------
    model : pm.Model
        The model.
    block : list of TensorVariable
        Sampled value variables.

    Returns
    -------
    bool
        ``True`` when every variable of the block was made by
        :func:`pymc_ebm.visible`, no other variable's distribution depends
        on any of them, and the only potentials that do are their own
        registered energy potentials, each on its own variable alone.
    """
    rvs = [model.values_to_rvs[value] for value in block]
    if any(role_of(rv) != "visible" for rv in rvs):
        return False
    own = {rv: energy_potential(model, rv) for rv in rvs}
    if None in own.values() or other_terms(model, set(rvs), exclude=set(own.values())):
        return False
    # each energy potential on its own variable alone
    return all(set(rvs) & set(ancestors([potential])) == {rv} for rv, potential in own.items())


def row_log_density(model: pm.Model, value: TensorVariable) -> TensorVariable:
    """The model's log density terms that depend on ``value``, summed within each row.

    Parameters
    ----------
    model : pm.Model
        The model.
    value : TensorVariable
        A value variable of shape ``(n_rows, ...)``.

    Returns
    -------
    TensorVariable, shape (n_rows,)
        Every term of ``model.logp(sum=False)`` with ``value`` among its
        ancestors, each summed over all but its first axis (a term of one
        dimension is per row already). With independent rows (see
        :func:`rows_are_independent`) entry ``i`` is row ``i``'s log density up
        to a constant.
    """
    terms = [t for t in model.logp(sum=False) if value in set(ancestors([t]))]
    return sum(row_sum(t) for t in terms)


def row_sum(x: TensorVariable) -> TensorVariable:
    """Sum every axis but the leading one (rows); a vector is per row already."""
    return pt.sum(x, axis=tuple(range(1, x.ndim))) if x.ndim > 1 else x


# -- the terms on some variables -------------------------------------------------------------
def resolve(model: pm.Model, ref: Variable | None) -> Variable | None:
    """The model's own variable of the name ``ref`` has (``None`` for none).

    The tags :func:`pymc_ebm.visible` leaves on its variables are copied when
    a model is cloned (``pm.do``, ``pm.observe``, removing transforms...), but
    they still point at the original variables, so look the name up.
    """
    return None if ref is None else model.named_vars.get(ref.name)


def energy_potential(model: pm.Model, var: Variable) -> Variable | None:
    """The energy potential that :func:`pymc_ebm.visible` registered for ``var``.

    Parameters
    ----------
    model : pm.Model
        The model, possibly a clone of the one ``var`` was registered in.
    var : Variable
        A visible (or imputed) variable.

    Returns
    -------
    Variable or None
        The model's own potential of the registered name, or ``None`` when
        ``var`` has none or the model does not hold it.

    Examples
    --------
    >>> import numpy as np, pymc as pm, pymc_ebm
    >>> from pymc_ebm.model.terms import energy_potential
    >>> with pm.Model() as model:
    ...     v = pymc_ebm.visible("v", pymc_ebm.Gaussian(np.zeros((1, 2)), np.ones((1, 2))))
    >>> energy_potential(model, v).name
    'v_energy'
    """
    potential = resolve(model, getattr(var, "tag", None) and var.tag.__dict__.get(TAG_POTENTIAL))
    return potential if potential is not None and potential in model.potentials else None


def other_terms(model: pm.Model, targets: set[Variable], exclude: set[Variable]) -> list[str]:
    """Names of the model's log-density terms, besides ``targets`` and ``exclude``, on ``targets``.

    A term is a random variable (free or observed: its density depends on a
    target through its parameters) or a potential.

    Parameters
    ----------
    model : pm.Model
        The model.
    targets : set of Variable
        Random variables of the model.
    exclude : set of Variable
        Terms not to report (e.g. the targets' own energy potential).

    Returns
    -------
    list of str
        In the order of ``model.basic_RVs`` then ``model.potentials``.
    """
    names = []
    for term in [*model.basic_RVs, *model.potentials]:
        if term in targets or term in exclude:
            continue
        inputs: list[Any] = list(term.owner.inputs) if term in model.basic_RVs else [term]
        if any(node in targets for node in ancestors(inputs)):
            names.append(term.name)
    return names


def model_of(var: Variable) -> pm.Model | None:
    """The model ``var`` is a free variable of, where one can be found; else ``None``.

    PyMC calls a step method's ``competence`` with the variable alone. The
    model is the one on the context stack when it holds ``var``, else the
    (root of the) model :func:`pymc_ebm.visible`/:func:`pymc_ebm.hidden`
    registered ``var`` in, so ``pm.sample(model=model)`` outside
    ``with model:`` finds it too. A clone of that model (``model.copy()``,
    ``pm.do``, ``pm.observe``...) has variables of its own, which are not free
    variables of the registered model: outside its context the answer is
    ``None`` (the step methods then say ``INCOMPATIBLE`` and PyMC uses its
    own steps).

    Examples
    --------
    >>> import numpy as np, pymc as pm, pymc_ebm
    >>> with pm.Model() as model:
    ...     v = pymc_ebm.visible("v", pymc_ebm.Gaussian(np.zeros((1, 2)), np.ones((1, 2))))
    >>> model_of(v) is model, model_of(model.copy()["v"])
    (True, None)
    """
    try:
        model = pm.modelcontext(None)
    except TypeError:
        model = None
    if model is not None and var in model.free_RVs:
        return model
    ref = getattr(var, "tag", None) and var.tag.__dict__.get(TAG_MODEL)
    model = ref() if callable(ref) else None
    if model is None:
        return None
    model = model.root  # a nested model's terms are its root's terms too
    return model if var in model.free_RVs else None


class BlockTerms(NamedTuple):
    """The terms of ``model.logp(sum=False)`` split by whether they depend on a block of variables.

    Attributes
    ----------
    block : list of TensorVariable
        The terms on the block (Jacobians of transforms included).
    other : list of TensorVariable
        The rest.
    n_rows : int
        The leading length that the block's variables and terms share (0 when
        they share none: then the rows cannot be chains of their own).
    why : str
        Why they share no rows (empty when ``n_rows``).
    """

    block: list[TensorVariable]
    other: list[TensorVariable]
    n_rows: int
    why: str


def split_terms(
    model: pm.Model, block: list[TensorVariable], initial_point: PointType
) -> BlockTerms:
    """Split the model's log-density terms into those on ``block`` and the rest; find the rows.

    Parameters
    ----------
    model : pm.Model
        The model.
    block : list of TensorVariable
        Value variables.
    initial_point : dict
        A point of the model, for the variables' shapes (and for terms whose
        leading length is not known statically: evaluated there once).

    Returns
    -------
    BlockTerms

    Raises
    ------
    ValueError
        When no term depends on the block.
    """
    terms = [pt.as_tensor_variable(t) for t in model.logp(sum=False)]
    on_block = set(block)
    block_terms, other = [], []
    for term in terms:
        (block_terms if on_block & set(ancestors([term])) else other).append(term)
    if not block_terms:
        raise ValueError("the model's log density does not depend on the sampled variables")
    leading = {np.shape(initial_point[v.name])[:1] for v in block}
    if len(leading) != 1 or leading == {()}:
        return BlockTerms(block_terms, other, 0, "the sampled variables' leading axes differ")
    (n_rows,) = leading.pop()
    if any(t.ndim == 0 for t in block_terms):
        return BlockTerms(block_terms, other, 0, "a log density term is a scalar")
    lengths = [t.type.shape[0] for t in block_terms]
    if None in lengths:
        inputs = [v for v in model.value_vars if v in set(ancestors(block_terms))]
        # Leading lengths not known statically: evaluate them once, without JIT compilation.
        shape_fn = pytensor.function(
            inputs,
            [t.shape[0] for t in block_terms],
            on_unused_input="ignore",
            mode="FAST_COMPILE",
        )
        values = [np.asarray(initial_point[v.name], dtype=v.dtype) for v in inputs]
        lengths = [int(length) for length in shape_fn(*values)]
    if any(length != n_rows for length in lengths):
        return BlockTerms(
            block_terms,
            other,
            0,
            f"log density terms have leading lengths {sorted(set(lengths))}, "
            f"not the variables' {n_rows}",
        )
    return BlockTerms(block_terms, other, int(n_rows), "")


def independent_rows(
    model: pm.Model, block: list[TensorVariable], terms: BlockTerms, point: PointType
) -> tuple[bool, str]:
    """Whether the rows of ``block`` are independent chains, and why not.

    The rows are chains when the block's variables and terms share a leading
    length (``terms.n_rows``) and row ``i``'s log density depends on row ``i``
    alone: by construction (:func:`registered_rows`), or by the Jacobian
    check (:func:`rows_are_independent`) at ``point``.

    Parameters
    ----------
    model : pm.Model
        The model.
    block : list of TensorVariable
        Value variables.
    terms : BlockTerms
        :func:`split_terms` of the block.
    point : dict
        A point of the model (the probe of the Jacobian check).

    Returns
    -------
    independent : bool
    reason : str
        Why not (empty when ``independent``).
    """
    if not terms.n_rows:
        return False, terms.why
    if registered_rows(model, block):
        return True, ""
    potential = -sum(row_sum(t) for t in terms.block)
    return rows_are_independent(potential, block, model.value_vars, point)


# -- the box of a pm.Uniform visible ------------------------------------------------------------
def to_box(value: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """From PyMC's interval-transformed value to the box ``[low, high]``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[0.25, 1.5]])
    >>> low, high = np.array([0.0, 1.0]), np.array([1.0, 2.0])
    >>> np.allclose(to_box(from_box(x, low, high), low, high), x)
    True
    """
    s = expit(value)
    return s * high + (1.0 - s) * low


def from_box(x: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """From the box ``[low, high]`` to PyMC's interval-transformed value (its ``forward``)."""
    return np.log(x - low) - np.log(high - x)


def value_transform(
    model: pm.Model, rv: TensorVariable, compile_kwargs: dict | None = None
) -> tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]:
    """``rv``'s own transform in ``model``, compiled: data to value space, and back.

    Identities when ``rv`` has no transform (a ``pm.Flat`` visible).

    Examples
    --------
    >>> import numpy as np, pymc as pm, pymc_ebm
    >>> experts = pymc_ebm.UniGauss([[0.5, 0.5]], [[0.1, 0.1]], [0.5])
    >>> with pm.Model() as model:
    ...     v = pymc_ebm.visible("v", experts, n_particles=2)
    >>> to_value, to_data = value_transform(model, v)
    >>> x = np.array([[0.25, 0.5], [0.9, 0.1]])
    >>> bool(np.allclose(to_data(to_value(x)), x))
    True
    """
    transform = model.rvs_to_transforms.get(rv)
    if transform is None:
        return (lambda a: a), (lambda a: a)
    x = pt.tensor("x", dtype=rv.dtype, shape=(None,) * rv.ndim)
    inputs = rv.owner.inputs
    kwargs = compile_kwargs or {}
    forward = backends.function([x], transform.forward(x, *inputs), **kwargs)
    backward = backends.function([x], transform.backward(x, *inputs), **kwargs)
    return forward, backward
