"""Whether the rows of a batch model are independent chains.

A per-row Metropolis test (one accept/reject per row of an ``(n_rows, ...)``
block) leaves the target invariant only when the log density splits into one
term per row, ``log p(x) = Σ_i f_i(x_i)``, with ``f_i`` the row-``i`` entries
of the model's log-density terms. Equal leading lengths do not prove it: a
term ``x - x.mean(0)``, ``pm.Normal("y", x[::-1], ...)`` or three
coefficients with three observations all have the rows' leading length but
couple (or permute) the rows.

:func:`rows_are_independent` checks the Jacobian of the per-row potential
``u_i = -Σ_terms term[i]`` with respect to the sampled variables at a random
point: ``∂u_i/∂x_j`` must be exactly zero for ``i ≠ j``. A dependence that
is absent from the graph gives an exact zero in floating point (nothing is
added to it), and a dependence that is present is non-zero at a random point
unless its derivative vanishes there, which for smooth couplings happens on
a set of measure zero. What a local check cannot see is a coupling whose
derivative is zero on a whole region around the probe point (a ``switch``
or ``relu`` that is inactive there); for such a model pass
``per_row=False`` to the step method.

:func:`registered_rows` is the shortcut for models built by
:func:`pymc_ebm.visible`: when the only terms on the sampled variables are
their own box or flat priors and their own energy potentials, the rows are
independent by construction (an :class:`~pymc_ebm.energies.base.Energy`
gives one energy per row), and no Jacobian is needed.
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
from pymc.blocking import PointType
from pytensor.gradient import jacobian
from pytensor.graph.traversal import ancestors
from pytensor.tensor.variable import TensorVariable

from pymc_ebm.model import _TAG_POTENTIAL, role_of

__all__ = ["MAX_JACOBIAN_SIZE", "registered_rows", "row_log_density", "rows_are_independent"]

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
    block_rvs = set(rvs)
    own = {}
    for rv in rvs:
        potential = rv.tag.__dict__.get(_TAG_POTENTIAL)
        # Tags survive model cloning but point at the original graph: match by name.
        own[getattr(potential, "name", None)] = rv
    for rv in model.basic_RVs:
        if rv not in block_rvs and block_rvs & set(ancestors(rv.owner.inputs)):
            return False
    for potential in model.potentials:
        touched = block_rvs & set(ancestors([potential]))
        if touched and touched != {own.get(potential.name)}:
            return False
    return True


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
    return sum(pt.sum(t, axis=tuple(range(1, t.ndim))) if t.ndim > 1 else t for t in terms)
