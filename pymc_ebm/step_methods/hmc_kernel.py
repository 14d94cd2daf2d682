"""One Hamiltonian Monte Carlo transition as a PyTensor graph: the package's only HMC kernel.

:func:`build_kernel` returns the symbolic transition (a leapfrog trajectory,
its energy error, a finite guard and a Metropolis test, per row or for the
whole block) that :class:`~pymc_ebm.ShortRunHMC`, the missing-input
resampler of :class:`~pymc_ebm.ContrastiveDivergence` and annealed
importance sampling (:mod:`pymc_ebm.evaluation.ais`) compile into their
functions, in the style of BlackJAX's ``hmc.build_kernel``: a state, the
randomness as inputs, and a new state with its statistics.

The momenta are ``p ~ N(0, M)`` for a diagonal mass ``M``, kinetic energy
``½ pᵀM⁻¹p``. The trajectory carries the velocity ``v = M⁻¹p`` and the
scaled gradient ``M⁻¹∇U`` in place of ``p`` and ``∇U``, so the leapfrog
steps (:func:`~pymc_ebm.step_methods.leapfrog.leapfrog_state`) are those of
a unit mass, and a rejected row keeps its exact value. All steps but the
last run in a ``pytensor.scan`` on the gradient alone; the last is written
out, so that the energy at the end shares the forward pass of its gradient.

A proposal is rejected, and counted as diverging, where its energy error,
position or gradient is not finite, where ``valid`` says it is outside the
support, or where the energy rises by more than :data:`MAX_ENERGY_ERROR`
(diverging only; it is then accepted with probability ``e^{-1000}``).

Examples
--------
One trajectory of 20 steps per row on ``U(q) = ½|q|²``, with a uniform of 0
(always accepted) and a step size 0.1:

>>> import numpy as np, pytensor, pytensor.tensor as pt
>>> q, v, log_u = pt.matrix("q"), pt.matrix("v"), pt.vector("log_u")
>>> potential = potential_from_fn(lambda qs: 0.5 * pt.sum(qs[0] ** 2, axis=1))
>>> kernel = build_kernel(potential, n_steps=20)
>>> state, info = kernel(init(kernel, [q]), [v], log_u, 0.1)
>>> f = pytensor.function([q, v, log_u], [state.position[0], info.accepted])
>>> end, accepted = f(np.ones((3, 1)), np.zeros((3, 1)), np.full(3, -np.inf))
>>> np.round(end[:, 0], 2).tolist(), accepted.tolist()  # cos(2) ≈ -0.42, to O(ε²)
([-0.42, -0.42, -0.42], [True, True, True])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np
import pytensor
import pytensor.tensor as pt
from pytensor.graph.replace import clone_replace
from pytensor.tensor.variable import TensorVariable

from pymc_ebm._validation import finite_float, positive_int
from pymc_ebm.model.terms import row_sum
from pymc_ebm.step_methods.leapfrog import leapfrog_state

__all__ = [
    "MAX_ENERGY_ERROR",
    "HMCInfo",
    "HMCKernel",
    "HMCState",
    "Potential",
    "build_kernel",
    "check_settings",
    "init",
    "run_trajectories",
    "potential_from_fn",
    "potential_from_graph",
]

MAX_ENERGY_ERROR = 1000.0
"""A proposal whose energy rises by more than this counts as diverging (as in PyMC)."""

Tensors = list[TensorVariable]


class Potential(NamedTuple):
    """The potential energy ``U = -log p`` of a list of position blocks, and its gradient.

    Attributes
    ----------
    value_and_grad : callable
        ``qs -> (U, ∇U)``, the energy sharing the gradient's forward pass.
        ``U`` has shape ``(n_rows,)`` in a per-row test (entry ``i`` may
        depend on row ``i`` of the blocks only), ``(1,)`` in a joint one.
    grad : callable
        ``qs -> ∇U`` alone (what the leapfrog steps inside a trajectory need).
    """

    value_and_grad: Callable[[Tensors], tuple[TensorVariable, Tensors]]
    grad: Callable[[Tensors], Tensors]


def potential_from_fn(fn: Callable[[Tensors], TensorVariable]) -> Potential:
    """A :class:`Potential` from ``fn(qs) -> U``, differentiated wherever it is called.

    Examples
    --------
    >>> import pytensor.tensor as pt
    >>> q = pt.vector("q")
    >>> u, (g,) = potential_from_fn(lambda qs: 0.5 * qs[0] ** 2).value_and_grad([q])
    >>> g.eval({q: [3.0]}).tolist()
    [3.0]
    """

    def value_and_grad(qs: Tensors) -> tuple[TensorVariable, Tensors]:
        u = fn(qs)
        return u, list(pt.grad(pt.sum(u), qs, disconnected_inputs="ignore"))

    return Potential(value_and_grad, lambda qs: value_and_grad(qs)[1])


def potential_from_graph(u: TensorVariable, wrt: Sequence[TensorVariable]) -> Potential:
    """A :class:`Potential` from the graph ``u`` of the variables ``wrt``.

    The gradient is taken once, on this graph, and both are copied with
    ``wrt`` replaced wherever the kernel evaluates them (as PyMC's own HMC
    treats a model's log density).
    """
    wrt = list(wrt)
    grads = list(pt.grad(pt.sum(u), wrt))

    def replace(graphs: Tensors, qs: Tensors) -> Tensors:
        return clone_replace(graphs, replace=dict(zip(wrt, qs, strict=True)))

    def value_and_grad(qs: Tensors) -> tuple[TensorVariable, Tensors]:
        # cloned together, so the forward pass is shared by energy and gradient
        value, *g = replace([u, *grads], qs)
        return value, g

    return Potential(value_and_grad, lambda qs: replace(grads, qs))


class HMCState(NamedTuple):
    """Where the chains are.

    Attributes
    ----------
    position : list of TensorVariable
        One tensor per block, each ``(n_rows, ...)`` in a per-row test.
    potential : TensorVariable, shape (n_rows,)
        ``U`` per row (shape ``(1,)`` in a joint test).
    grad : list of TensorVariable
        ``M⁻¹∇U`` per block (masked entries zero).
    """

    position: Tensors
    potential: TensorVariable
    grad: Tensors


class HMCInfo(NamedTuple):
    """Per-row statistics of one transition, each of shape ``(n_rows,)``.

    Attributes
    ----------
    accept_prob : TensorVariable
        ``min(1, e^{-ΔH})`` (0 where the proposal was not finite or valid).
    accepted : TensorVariable of bool
        Whether the proposal was taken.
    diverging : TensorVariable of bool
        Not finite or valid, or ``ΔH > MAX_ENERGY_ERROR``.
    energy_error : TensorVariable
        ``ΔH`` where finite and valid, 0 elsewhere.
    finite : TensorVariable of bool
        Whether the proposal was finite and valid.
    energy : TensorVariable
        The Hamiltonian of the state kept: the proposal with its momentum, or
        the start with its fresh momentum.
    """

    accept_prob: TensorVariable
    accepted: TensorVariable
    diverging: TensorVariable
    energy_error: TensorVariable
    finite: TensorVariable
    energy: TensorVariable


class HMCKernel(NamedTuple):
    """The pieces :func:`build_kernel` returns (call it as ``kernel(state, ...)``).

    Attributes
    ----------
    potential_and_grad : callable
        ``qs -> (U, M⁻¹∇U)`` with one forward pass.
    step : callable
        ``(state, velocity, log_u, step_size) -> (HMCState, HMCInfo)``.
    """

    potential_and_grad: Callable[[Tensors], tuple[TensorVariable, Tensors]]
    step: Callable[..., tuple[HMCState, HMCInfo]]

    def __call__(
        self,
        state: HMCState,
        velocity: Sequence[TensorVariable],
        log_u: TensorVariable,
        step_size: TensorVariable | float,
    ) -> tuple[HMCState, HMCInfo]:
        """One transition from ``state``; see :func:`build_kernel`."""
        return self.step(state, velocity, log_u, step_size)


class _Rows:
    """Reductions to the rows that are tested on their own: every row, or one joint test."""

    def __init__(self, per_row: bool) -> None:
        self.per_row = per_row

    def sum(self, x: TensorVariable) -> TensorVariable:
        return row_sum(x) if self.per_row else pt.sum(x)[None]

    def all_finite(self, x: TensorVariable) -> TensorVariable:
        finite = pt.isfinite(x)
        if not self.per_row:
            return pt.all(finite)[None]
        return pt.all(finite, axis=tuple(range(1, x.ndim))) if x.ndim > 1 else finite

    def expand(self, mask: TensorVariable, x: TensorVariable) -> TensorVariable:
        return pt.shape_padright(mask, x.ndim - 1) if self.per_row else mask[0]


def build_kernel(
    potential: Potential,
    *,
    n_steps: int,
    per_row: bool = True,
    inv_mass: Sequence[TensorVariable] | None = None,
    mask: Sequence[TensorVariable] | None = None,
    valid: Callable[[Tensors], TensorVariable] | None = None,
) -> HMCKernel:
    """The HMC transition for a potential energy, as a symbolic function.

    Parameters
    ----------
    potential : Potential
        The potential energy ``-log p`` and its gradient
        (:func:`potential_from_fn`, :func:`potential_from_graph`).
    n_steps : int
        Leapfrog steps of the trajectory (at least 1; it fixes the graph).
    per_row : bool, default True
        One Metropolis test per row (``True``) or one for the whole block.
    inv_mass : sequence of TensorVariable, optional
        Diagonal ``M⁻¹`` per block, broadcasting against it (per element of a
        row in a per-row test). Default: the identity.
    mask : sequence of TensorVariable of bool, optional
        Per block, the entries that move; the others keep zero velocity and
        gradient, so the dynamics never change them (an exact transition of
        the masked entries given the rest).
    valid : callable, optional
        ``valid(qs) -> bool per row``: whether an end point lies in the
        support (e.g. inside a box); invalid proposals are rejected.

    Returns
    -------
    HMCKernel
        ``kernel(state, velocity, log_u, step_size)`` returns the new
        :class:`HMCState` and :class:`HMCInfo`. ``velocity`` is ``M⁻¹p`` per
        block (``sqrt(M⁻¹) ξ`` for standard normals ``ξ``), ``log_u`` the
        log uniforms of the rows' tests, ``step_size`` a scalar.
    """
    n_steps = positive_int("n_steps", n_steps)
    rows = _Rows(per_row)

    def scale(gs: Tensors) -> Tensors:
        if mask is not None:
            gs = [pt.switch(m, g, 0.0) for m, g in zip(mask, gs, strict=True)]
        if inv_mass is None:
            return gs
        return [m * g for m, g in zip(inv_mass, gs, strict=True)]

    def grad_fn(qs: Tensors) -> Tensors:
        return scale(potential.grad(qs))

    def potential_and_grad(qs: Tensors) -> tuple[TensorVariable, Tensors]:
        u, g = potential.value_and_grad(qs)
        return u, scale(g)

    def kinetic(vs: Tensors) -> TensorVariable:
        if inv_mass is None:
            return 0.5 * sum(rows.sum(pt.sqr(v)) for v in vs)
        return 0.5 * sum(rows.sum(pt.sqr(v) / m) for v, m in zip(vs, inv_mass, strict=True))

    def step(
        state: HMCState,
        velocity: Sequence[TensorVariable],
        log_u: TensorVariable,
        step_size: TensorVariable | float,
    ) -> tuple[HMCState, HMCInfo]:
        qs, u, gs = list(state.position), state.potential, list(state.grad)
        v0 = list(velocity)
        if mask is not None:
            v0 = [pt.switch(m, v, 0.0) for m, v in zip(mask, v0, strict=True)]
        eps = pt.as_tensor_variable(step_size)
        half_eps = 0.5 * eps
        q, v, g = qs, v0, gs
        if n_steps > 1:
            q, v, g = leapfrog_state(q, v, eps, n_steps - 1, grad_fn, initial_grad=g, unroll=False)
        v = [vi - half_eps * gi for vi, gi in zip(v, g, strict=True)]
        q1 = [qi + eps * vi for qi, vi in zip(q, v, strict=True)]
        u1, g1 = potential_and_grad(q1)
        v1 = [vi - half_eps * gi for vi, gi in zip(v, g1, strict=True)]
        delta = u1 + kinetic(v1) - u - kinetic(v0)
        finite = pt.isfinite(delta)
        for x in (*q1, *g1):
            finite = finite & rows.all_finite(x)
        if valid is not None:
            finite = finite & valid(q1)
        delta_safe = pt.switch(finite, delta, np.inf)
        accept = pt.lt(log_u, -delta_safe)
        new = HMCState(
            [pt.switch(rows.expand(accept, a), a, b) for a, b in zip(q1, qs, strict=True)],
            pt.switch(accept, u1, u),
            [pt.switch(rows.expand(accept, a), a, b) for a, b in zip(g1, gs, strict=True)],
        )
        info = HMCInfo(
            accept_prob=pt.exp(pt.minimum(0.0, -delta_safe)),
            accepted=accept,
            diverging=~finite | pt.gt(delta_safe, MAX_ENERGY_ERROR),
            energy_error=pt.switch(finite, delta, 0.0),
            finite=finite,
            energy=pt.switch(accept, u1 + kinetic(v1), u + kinetic(v0)),
        )
        return new, info

    return HMCKernel(potential_and_grad, step)


def init(kernel: HMCKernel, position: Sequence[TensorVariable]) -> HMCState:
    """The state at ``position``: its potential and scaled gradient, with one forward pass."""
    position = list(position)
    u, g = kernel.potential_and_grad(position)
    return HMCState(position, u, g)


def run_trajectories(
    kernel: HMCKernel,
    state: HMCState,
    velocity: Sequence[TensorVariable],
    log_u: TensorVariable,
    step_size: TensorVariable,
    n_trajectories: int,
) -> tuple[HMCState, HMCInfo]:
    """``n_trajectories`` transitions in a row, each with a fresh momentum and its own test.

    The lecture's "online" HMC: ``velocity`` (per block), ``log_u`` and
    ``step_size`` have a leading axis of length ``n_trajectories``, one entry
    per transition; several run in a ``pytensor.scan`` that carries the
    state, so the gradient at the end of one is reused at the start of the
    next. Returns the last state and the statistics of every transition,
    stacked along a new leading axis.
    """
    velocity = list(velocity)
    if n_trajectories == 1:
        new, info = kernel(state, [v[0] for v in velocity], log_u[0], step_size[0])
        return new, HMCInfo(*(x[None] for x in info))
    n = len(velocity)

    def body(*args):
        v0s, (log_u_t, eps) = list(args[:n]), args[n : n + 2]
        qs, gs, u = list(args[n + 2 : 2 * n + 2]), list(args[2 * n + 2 : 3 * n + 2]), args[-1]
        new, info = kernel(HMCState(qs, u, gs), v0s, log_u_t, eps)
        return [*new.position, *new.grad, new.potential, *info]

    outs = pytensor.scan(
        body,
        sequences=[*velocity, log_u, step_size],
        outputs_info=[*state.position, *state.grad, state.potential, *([None] * 6)],
        n_steps=n_trajectories,
        return_list=True,
        return_updates=False,
        name="hmc_trajectories",
    )
    last = HMCState([o[-1] for o in outs[:n]], outs[2 * n][-1], [o[-1] for o in outs[n : 2 * n]])
    return last, HMCInfo(*outs[2 * n + 1 :])


def check_settings(
    n_steps: Any, step_size: Any, target_accept: Any, step_jitter: Any
) -> tuple[int, float, float, float]:
    """Validate the settings every HMC user of the kernel takes; return them as numbers.

    ``n_steps`` a positive integer, ``step_size`` positive and finite,
    ``target_accept`` in ``(0, 1)``, ``step_jitter`` in ``[0, 1)``; otherwise
    a ``ValueError`` that names the argument.
    """
    return (
        positive_int("n_steps", n_steps),
        finite_float("step_size", step_size, low=0.0, low_open=True),
        finite_float(
            "target_accept", target_accept, low=0.0, high=1.0, low_open=True, high_open=True
        ),
        finite_float("step_jitter", step_jitter, low=0.0, high=1.0, high_open=True),
    )
