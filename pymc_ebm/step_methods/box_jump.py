"""Independence Metropolis moves with uniform proposals on the box of a visible variable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
from pymc.blocking import PointType, StatsType
from pymc.logprob.transforms import IntervalTransform
from pymc.step_methods.compound import BlockedStep, Competence, CompoundStep, StepMethodState
from pymc.util import RandomGenerator, get_random_generator, get_value_vars_from_user_vars
from pytensor.graph.basic import Variable

from pymc_ebm import backends
from pymc_ebm.model.registration import energy_of, partner_of, role_of
from pymc_ebm.model.terms import energy_potential, from_box, other_terms, to_box
from pymc_ebm.step_methods.copying import ModelFreeCopy
from pymc_ebm.step_methods.untuned import UntunedStep

__all__ = ["BoxJump"]


class BoxJump(UntunedStep, ModelFreeCopy, BlockedStep):
    """Per-row independence Metropolis: propose a uniform point of the box, accept by energy.

    For a visible variable made by :func:`pymc_ebm.visible` over an energy
    with a box domain, every row proposes ``v'`` uniformly on the box,
    independently of its current value, and accepts it with probability
    ``min(1, exp(E(v) - E(v')))`` (the uniform proposal density cancels).
    Local samplers (HMC, NUTS) rarely cross high-energy gaps between modes;
    this move lets a row jump between separated modes in one step, in
    proportion to their mass. Combine it with a local step in a
    ``CompoundStep``; for contrastive divergence with persistent chains it
    makes the negative samples follow the model's masses across modes.

    Parameters
    ----------
    vars : list of TensorVariable, optional
        One visible variable (random or value variable) registered over an
        energy with a box (``UniGauss``, ``MLPEnergy(box=...)``), shape
        ``(n_particles, dim)``. Default: the model's only free visible variable
        with a box (a ``ValueError`` if there is none or several).
    model : pm.Model, optional
        Defaults to the model on the context stack.
    rng : RandomGenerator, optional
        Seed or generator; ``pm.sample`` resets it per chain.
    initial_point, compile_kwargs, blocked
        Accepted for ``pm.sample``; ``compile_kwargs`` go to ``pytensor.function``.

    Notes
    -----
    Sampler statistics, one value of each per draw:

    ``tune`` (bool)
        True while the draw is a tuning draw (nothing is tuned).
    ``jump_accept`` (float64)
        Fraction of rows whose proposal was accepted in this step (each row
        proposes once, so it is also the fraction of rows that moved).

    The ratio ``exp(E(v) - E(v'))`` is the model's own only when the
    visible's density is ``exp(-E(v))`` on the box, so the step refuses
    (``ValueError``) a visible with hidden states (:func:`pymc_ebm.hidden`
    makes its potential the joint energy ``E(v, h)``), a model with another
    term on the visible, and a transform other than the interval one. It is
    never chosen by ``pm.sample`` on its own (``competence`` is
    ``INCOMPATIBLE``): add it to a ``CompoundStep`` with a local step.

    Examples
    --------
    >>> import numpy as np, pymc as pm, pymc_ebm
    >>> experts = pymc_ebm.UniGauss([[0.2, 0.2], [0.8, 0.8]], np.full((2, 2), 0.1), [0.5, 0.5])
    >>> with pm.Model() as model:
    ...     v = pymc_ebm.visible("v", experts, n_particles=50)
    ...     step = pymc_ebm.BoxJump([v], rng=0)
    >>> start = model.initial_point()
    >>> point, stats = step.step(start)
    >>> moved = np.any(point["v_interval__"] != start["v_interval__"], axis=1)
    >>> bool(stats[0]["jump_accept"] == moved.mean())
    True
    """

    name = "box_jump"
    stats_dtypes_shapes = {"tune": (bool, []), "jump_accept": (np.float64, [])}
    _state_class = StepMethodState
    _recompiled = ("_energy_fn",)  # recompiled where it is copied or unpickled

    def __init__(
        self,
        vars: Sequence[Variable] | Variable | None = None,
        *,
        model: pm.Model | None = None,
        rng: RandomGenerator = None,
        initial_point: PointType | None = None,
        compile_kwargs: dict | None = None,
        blocked: bool = True,
    ) -> None:
        model = pm.modelcontext(model)
        if vars is None:
            vars = [_box_visible(model, None, "BoxJump")]
        elif not isinstance(vars, list | tuple):
            vars = [vars]
        self.vars = get_value_vars_from_user_vars(vars, model)
        if len(self.vars) != 1:
            raise ValueError(f"BoxJump takes one visible variable, got {len(self.vars)}")
        rv = model.values_to_rvs[self.vars[0]]
        reason = _refusal_reason(model, rv)
        if reason is not None:
            raise ValueError(reason)
        energy = energy_of(rv)
        transform = model.rvs_to_transforms.get(rv)
        self.energy = energy
        self.value_name = self.vars[0].name
        self.interval = transform is not None
        self.compile_kwargs = backends.compile_kwargs(compile_kwargs)
        self._energy_fn: Any = None
        self.blocked = blocked
        self.rng = get_random_generator(rng)
        self.tune = True

    def _energies(self, x: np.ndarray) -> np.ndarray:
        if self._energy_fn is None:
            v = pt.matrix("v", dtype=pytensor.config.floatX)
            self._energy_fn = backends.function([v], self.energy.energy(v), **self.compile_kwargs)
            self._energy_fn.trust_input = True
        return self._energy_fn(np.asarray(x, dtype=pytensor.config.floatX))

    def step(self, point: PointType) -> tuple[PointType, StatsType]:
        """One independence proposal per row; returns the new point."""
        low, high = self.energy.domain
        value = point[self.value_name]
        x = to_box(value, low, high) if self.interval else value
        proposal = low + (high - low) * self.rng.random(x.shape)
        with np.errstate(invalid="ignore"):
            log_ratio = self._energies(x) - self._energies(proposal)
        accept = np.log(self.rng.random(x.shape[0])) < np.nan_to_num(log_ratio, nan=-np.inf)
        x = np.where(accept[:, None], proposal, x)
        new = dict(point)
        if self.interval:
            new_value = from_box(x, low, high)
            new[self.value_name] = np.where(accept[:, None], new_value, value).astype(value.dtype)
        else:
            new[self.value_name] = x.astype(value.dtype)
        return new, [{"tune": bool(self.tune), "jump_accept": float(accept.mean())}]

    @staticmethod
    def competence(var: Variable, has_grad: bool = False) -> Competence:
        """Never chosen automatically: add it to a ``CompoundStep`` yourself."""
        return Competence.INCOMPATIBLE


def _refusal_reason(model: pm.Model, rv: Variable) -> str | None:
    """Why :class:`BoxJump` cannot move ``rv`` in ``model``; ``None`` when it can.

    The Metropolis ratio uses ``energy(v)`` alone, so it is exact only when
    the model's density of ``v`` is ``exp(-energy(v))`` on the box: a free
    visible with a box (interval transform or none), without hidden states
    (with them the model's potential is the joint energy ``E(v, h)``), and no
    other model term on ``v``.
    """
    energy = energy_of(rv)
    if role_of(rv) != "visible" or energy is None or energy.domain is None:
        return (
            f"BoxJump needs a visible variable registered over an energy with a box, "
            f"got {rv.name!r}"
        )
    if rv not in model.free_RVs:
        return f"{rv.name!r} is not a free variable of the model"
    if partner_of(rv) is not None:
        return (
            f"BoxJump refuses {rv.name!r}: it has hidden states, so its density is the joint "
            f"energy E(v, h), not the energy of v alone"
        )
    transform = model.rvs_to_transforms.get(rv)
    if transform is not None and not isinstance(transform, IntervalTransform):
        return f"BoxJump needs the interval transform, got {type(transform).__name__}"
    potential = energy_potential(model, rv)
    if potential is None:
        return f"the energy potential of {rv.name!r} is not in the model"
    other = other_terms(model, {rv}, exclude={potential})
    if other:
        return (
            f"BoxJump's ratio uses the energy of {rv.name!r} only, but {other[0]!r} also "
            f"depends on {rv.name!r}"
        )
    return None


def _box_visible(
    model: pm.Model, vars: Variable | str | None, caller: str = "hmc_with_box_jumps"
) -> Variable:
    """The visible variable to move: ``vars`` (a variable or name), or the model's only one."""
    if vars is not None:
        return model[vars] if isinstance(vars, str) else vars
    candidates = [
        rv
        for rv in model.free_RVs
        if role_of(rv) == "visible" and getattr(energy_of(rv), "domain", None) is not None
    ]
    if len(candidates) != 1:
        found = ", ".join(repr(rv.name) for rv in candidates) or "none"
        raise ValueError(
            f"{caller} needs exactly one visible variable over an energy with a box "
            f"(found {found}); name it with vars="
        )
    return candidates[0]


def hmc_with_box_jumps(
    model: pm.Model, vars: Variable | str | None = None, **hmc_kwargs: Any
) -> CompoundStep:
    """``ShortRunHMC`` then :class:`BoxJump` on one visible variable, in a ``CompoundStep``.

    A step factory for :class:`~pymc_ebm.ContrastiveDivergence`
    (``sampler=hmc_with_box_jumps``, ``step_kwargs`` go to ``ShortRunHMC``):
    local Hamiltonian moves plus jumps between separated modes, so that
    persistent negative chains follow the model's masses.

    Parameters
    ----------
    model : pm.Model
        A model with a visible variable registered over an energy with a box.
    vars : TensorVariable or str, optional
        The visible variable (or its name). Default: the model's only free
        visible variable with a box (a ``ValueError`` if there is none or
        several).
    **hmc_kwargs
        Keyword arguments of ``ShortRunHMC``.

    Returns
    -------
    CompoundStep
        ``[ShortRunHMC([v]), BoxJump([v])]``.

    Examples
    --------
    >>> import pymc as pm, pymc_ebm
    >>> from pymc_ebm.step_methods import hmc_with_box_jumps
    >>> net = pymc_ebm.MLPEnergy(2, hidden=(4,), box=(-2.0, 2.0), random_seed=0)
    >>> with pm.Model() as model:
    ...     x = pymc_ebm.visible("x", net, n_particles=3)
    >>> step = hmc_with_box_jumps(model, n_steps=5)
    >>> [(type(m).__name__, [v.name for v in m.vars]) for m in step.methods]
    [('ShortRunHMC', ['x_interval__']), ('BoxJump', ['x_interval__'])]
    """
    from pymc_ebm.step_methods.short_run_hmc import ShortRunHMC

    v = _box_visible(model, vars)
    jump = BoxJump([v], model=model)  # refuses what it cannot sample exactly, before HMC compiles
    return CompoundStep([ShortRunHMC([v], model=model, **hmc_kwargs), jump])
