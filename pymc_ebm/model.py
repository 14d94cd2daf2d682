"""Registering energies in a ``pm.Model``: visible variables, hidden states, potentials."""

from __future__ import annotations

import pymc as pm
import pytensor.tensor as pt
from pytensor.tensor.variable import TensorVariable

from pymc_ebm._validation import positive_int
from pymc_ebm.energies.base import Energy

__all__ = ["energy_of", "hidden", "visible"]

_TAG_ENERGY = "ebm_energy"
_TAG_ROLE = "ebm_role"
_TAG_PARTNER = "ebm_partner"
_TAG_POTENTIAL = "ebm_potential"


def visible(
    name: str, energy: Energy, n_chains: int = 1, *, model: pm.Model | None = None
) -> TensorVariable:
    """Add visible variables with density ``p(v) ∝ exp(-E(v))`` to a PyMC model.

    Creates a variable of shape ``(n_chains, dim)`` — a ``pm.Uniform`` box
    when the energy lives on a box, ``pm.Flat`` otherwise — and a
    ``pm.Potential`` named ``f"{name}_energy"`` holding ``-energy(v)`` with one
    entry per row. Any PyMC sampler then draws ``n_chains`` independent copies.

    Parameters
    ----------
    name : str
        Name of the visible variable.
    energy : Energy
        The energy; its parameters stay shared, so later updates are seen by
        functions compiled from this model.
    n_chains : int, default 1
        Number of independent rows.
    model : pm.Model, optional
        Defaults to the model on the context stack.

    Returns
    -------
    TensorVariable, shape (n_chains, dim)
        The visible random variable.

    Examples
    --------
    >>> import numpy as np, pymc as pm, pymc_ebm
    >>> experts = pymc_ebm.Gaussian(np.zeros((4, 2)), np.ones((4, 2)))
    >>> with pm.Model() as model:
    ...     v = pymc_ebm.visible("v", experts, n_chains=3)
    >>> v.type.shape
    (3, 2)
    """
    if not isinstance(energy, Energy):
        raise TypeError(f"energy must be an Energy, got {type(energy).__name__}")
    n_chains = positive_int("n_chains", n_chains)
    model = pm.modelcontext(model)
    shape = (n_chains, energy.dim)
    with model:
        if energy.domain is not None:
            low, high = energy.domain
            v = pm.Uniform(name, lower=low, upper=high, shape=shape)
        else:
            v = pm.Flat(name, shape=shape)
        potential = pm.Potential(f"{name}_energy", -energy.energy(v))
    v.tag.__dict__[_TAG_ENERGY] = energy
    v.tag.__dict__[_TAG_ROLE] = "visible"
    v.tag.__dict__[_TAG_POTENTIAL] = potential
    return v


def hidden(
    name: str, energy: Energy, v: TensorVariable, *, model: pm.Model | None = None
) -> TensorVariable:
    """Add the experts' binary hidden states and switch ``v``'s potential to the joint energy.

    After the call, the model's density is ``p(v, h) ∝ exp(-E(v, h))`` with
    ``h`` a ``pm.Bernoulli`` of shape ``(n_chains, n_experts)`` (its constant
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
    TensorVariable, shape (n_chains, n_experts)

    Examples
    --------
    >>> import numpy as np, pymc as pm, pymc_ebm
    >>> experts = pymc_ebm.UniGauss(np.full((3, 2), 0.5), np.full((3, 2), 0.1), np.full(3, 0.5))
    >>> with pm.Model() as model:
    ...     v = pymc_ebm.visible("v", experts, n_chains=4)
    ...     h = pymc_ebm.hidden("h", experts, v)
    >>> h.type.shape
    (4, 3)
    """
    if not hasattr(energy, "joint_energy"):
        raise TypeError(f"{type(energy).__name__} has no hidden states (no joint_energy)")
    if energy_of(v) is not energy:
        raise ValueError("v must be a visible variable registered with the same energy")
    if _TAG_PARTNER in v.tag.__dict__:
        raise ValueError(f"{v.name} already has hidden states")
    model = pm.modelcontext(model)
    old = v.tag.__dict__[_TAG_POTENTIAL]
    if old not in model.potentials:
        raise ValueError(f"{v.name} is not a visible variable of this model")
    n_chains = v.type.shape[0]
    with model:
        h = pm.Bernoulli(name, p=0.5, shape=(n_chains, energy.n_experts))
    model.potentials.remove(old)
    model.named_vars.pop(old.name, None)
    model.named_vars_to_dims.pop(old.name, None)
    with model:
        potential = pm.Potential(f"{v.name}_{name}_energy", -energy.joint_energy(v, h))
    v.tag.__dict__[_TAG_POTENTIAL] = potential
    v.tag.__dict__[_TAG_PARTNER] = h
    h.tag.__dict__[_TAG_ENERGY] = energy
    h.tag.__dict__[_TAG_ROLE] = "hidden"
    h.tag.__dict__[_TAG_PARTNER] = v
    return h


def energy_of(var: TensorVariable) -> Energy | None:
    """The energy a variable was registered with by :func:`visible`/:func:`hidden`, if any."""
    return getattr(var, "tag", None) and var.tag.__dict__.get(_TAG_ENERGY)


def role_of(var: TensorVariable) -> str | None:
    """``"visible"``, ``"hidden"`` or ``None``."""
    return getattr(var, "tag", None) and var.tag.__dict__.get(_TAG_ROLE)


def partner_of(var: TensorVariable) -> TensorVariable | None:
    """The hidden variable of a visible one, or the visible variable of a hidden one."""
    return getattr(var, "tag", None) and var.tag.__dict__.get(_TAG_PARTNER)


def row_potential(values: TensorVariable) -> TensorVariable:
    """Sum every axis but the first (helper for per-row model terms)."""
    return pt.sum(values.reshape((values.shape[0], -1)), axis=1)
