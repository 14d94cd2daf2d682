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
from pymc.step_methods.compound import BlockedStep, Competence, StepMethodState
from pymc.util import RandomGenerator, get_random_generator, get_value_vars_from_user_vars
from pytensor.graph.basic import Variable

from pymc_ebm.model import energy_of, role_of

__all__ = ["BoxJump"]


class BoxJump(BlockedStep):
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
    vars : list of TensorVariable
        One visible variable registered over an energy with a box
        (``UniGauss``, ``MLPEnergy(box=...)``), shape ``(n_chains, dim)``.
    model : pm.Model, optional
        Defaults to the model on the context stack.
    rng : RandomGenerator, optional
        Seed or generator; ``pm.sample`` resets it per chain.
    initial_point, compile_kwargs, blocked
        Accepted for ``pm.sample``; ``compile_kwargs`` go to ``pytensor.function``.

    Notes
    -----
    Statistics per draw: ``tune`` and ``jump_accept`` (fraction of rows that
    moved). The step is never chosen by ``pm.sample`` on its own
    (``competence`` is ``INCOMPATIBLE``).

    Examples
    --------
    >>> import numpy as np, pymc as pm, pymc_ebm
    >>> experts = pymc_ebm.UniGauss([[0.2, 0.2], [0.8, 0.8]], np.full((2, 2), 0.1), [0.5, 0.5])
    >>> with pm.Model() as model:
    ...     v = pymc_ebm.visible("v", experts, n_chains=5)
    ...     step = pymc_ebm.BoxJump([v], rng=0)
    >>> point, stats = step.step(model.initial_point())
    >>> point["v_interval__"].shape, 0.0 <= stats[0]["jump_accept"] <= 1.0
    ((5, 2), True)
    """

    name = "box_jump"
    stats_dtypes_shapes = {"tune": (bool, []), "jump_accept": (np.float64, [])}
    _state_class = StepMethodState

    def __init__(
        self,
        vars: Sequence[Variable] | Variable,
        *,
        model: pm.Model | None = None,
        rng: RandomGenerator = None,
        initial_point: PointType | None = None,
        compile_kwargs: dict | None = None,
        blocked: bool = True,
    ) -> None:
        model = pm.modelcontext(model)
        if not isinstance(vars, list | tuple):
            vars = [vars]
        self.vars = get_value_vars_from_user_vars(vars, model)
        if len(self.vars) != 1:
            raise ValueError(f"BoxJump takes one visible variable, got {len(self.vars)}")
        rv = model.values_to_rvs[self.vars[0]]
        energy = energy_of(rv)
        if role_of(rv) != "visible" or energy is None or energy.domain is None:
            raise ValueError(
                f"BoxJump needs a visible variable registered over an energy with a box, "
                f"got {rv.name!r}"
            )
        transform = model.rvs_to_transforms.get(rv)
        if transform is not None and not isinstance(transform, IntervalTransform):
            raise ValueError(
                f"BoxJump needs the interval transform, got {type(transform).__name__}"
            )
        self.energy = energy
        self.value_name = self.vars[0].name
        self.interval = transform is not None
        self.compile_kwargs = dict(compile_kwargs or {})
        self._energy_fn: Any = None
        self.blocked = blocked
        self.rng = get_random_generator(rng)
        self.tune = True

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_energy_fn"] = None  # recompiled where it is unpickled
        return state

    def setup_chain(self, rng: RandomGenerator, tune: int, draws: int) -> None:
        """Take the chain's generator (nothing is tuned)."""
        super().setup_chain(rng, tune, draws)
        self.tune = tune > 0

    def reset_tuning(self) -> None:
        """Nothing to tune."""

    def _energies(self, x: np.ndarray) -> np.ndarray:
        if self._energy_fn is None:
            v = pt.matrix("v", dtype=pytensor.config.floatX)
            self._energy_fn = pytensor.function([v], self.energy.energy(v), **self.compile_kwargs)
            self._energy_fn.trust_input = True
        return self._energy_fn(np.asarray(x, dtype=pytensor.config.floatX))

    def step(self, point: PointType) -> tuple[PointType, StatsType]:
        """One independence proposal per row; returns the new point."""
        low, high = self.energy.domain
        value = point[self.value_name]
        if self.interval:
            x = low + (high - low) / (1.0 + np.exp(-value))
        else:
            x = value
        proposal = low + (high - low) * self.rng.random(x.shape)
        with np.errstate(invalid="ignore"):
            log_ratio = self._energies(x) - self._energies(proposal)
        accept = np.log(self.rng.random(x.shape[0])) < np.nan_to_num(log_ratio, nan=-np.inf)
        x = np.where(accept[:, None], proposal, x)
        new = dict(point)
        if self.interval:
            new_value = np.log(x - low) - np.log(high - x)
            new[self.value_name] = np.where(accept[:, None], new_value, value).astype(value.dtype)
        else:
            new[self.value_name] = x.astype(value.dtype)
        return new, [{"tune": bool(self.tune), "jump_accept": float(accept.mean())}]

    @staticmethod
    def competence(var: Variable, has_grad: bool = False) -> Competence:
        """Never chosen automatically: add it to a ``CompoundStep`` yourself."""
        return Competence.INCOMPATIBLE


def hmc_with_box_jumps(model: pm.Model, **hmc_kwargs: Any):
    """``ShortRunHMC`` then :class:`BoxJump` on the model's visible ``v``, as one ``CompoundStep``.

    A step factory for :class:`~pymc_ebm.ContrastiveDivergence`
    (``sampler=hmc_with_box_jumps``, ``step_kwargs`` go to ``ShortRunHMC``):
    local Hamiltonian moves plus jumps between separated modes, so that
    persistent negative chains follow the model's masses.

    Examples
    --------
    >>> import pymc as pm, pymc_ebm
    >>> from pymc_ebm.step_methods import hmc_with_box_jumps
    >>> net = pymc_ebm.MLPEnergy(2, hidden=(4,), box=(-2.0, 2.0), random_seed=0)
    >>> with pm.Model() as model:
    ...     v = pymc_ebm.visible("v", net, n_chains=3)
    >>> [type(m).__name__ for m in hmc_with_box_jumps(model, n_steps=5).methods]
    ['ShortRunHMC', 'BoxJump']
    """
    from pymc.step_methods.compound import CompoundStep

    from pymc_ebm.step_methods.short_run_hmc import ShortRunHMC

    v = model["v"]
    return CompoundStep([ShortRunHMC([v], model=model, **hmc_kwargs), BoxJump([v], model=model)])
