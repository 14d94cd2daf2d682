"""The leapfrog integrator as a PyTensor graph builder.

Hamiltonian dynamics with potential energy ``U(q)`` and kinetic energy
``½|p|²`` (Duane et al. 1987; Neal 2011, section 5.2.3.3) are simulated by
``n_steps`` kick-drift-kick leapfrog steps

``p ← p − ε/2 ∇U(q);  q ← q + ε p;  p ← p − ε/2 ∇U(q)``

where the gradient at the end of one step is reused at the start of the
next, so a trajectory of ``n`` steps costs ``n`` gradient evaluations once the
gradient at its start is known. The integrator is time reversible (``n``
steps with ``ε`` followed by ``n`` with ``−ε`` return to the start) and
volume preserving, and its energy error is ``O(ε²)``.

:func:`leapfrog` builds the symbolic trajectory (a ``pytensor.scan``, or an
unrolled graph for a single step); :func:`leapfrog_state` does the same for
several position blocks and also returns the final gradient;
:func:`compile_leapfrog` wraps it in a NumPy-callable function, mainly for
tests and experiments.

References
----------
.. [1] Duane, S., Kennedy, A. D., Pendleton, B. J. and Roweth, D. (1987).
   Hybrid Monte Carlo. *Physics Letters B* 195(2), 216-222.
.. [2] Neal, R. M. (2011). MCMC using Hamiltonian dynamics. In *Handbook of
   Markov Chain Monte Carlo*, chapter 5. Chapman & Hall/CRC.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pytensor
import pytensor.tensor as pt
from pytensor.tensor.variable import TensorVariable

from pymc_ebm._validation import positive_int

__all__ = ["MAX_UNROLLED_STEPS", "LeapfrogState", "compile_leapfrog", "leapfrog", "leapfrog_state"]

MAX_UNROLLED_STEPS = 1
"""Trajectories up to this many steps are unrolled by default; longer ones use ``pytensor.scan``.

Unrolling is only worth it for very short trajectories: PyTensor's graph
rewrites slow down sharply on deep unrolled leapfrog graphs, while a scan
compiles in a time independent of ``n_steps`` (and runs as one loop in the
Numba and C backends).
"""

GradFn = Callable[[list[TensorVariable]], list[TensorVariable]]


class LeapfrogState(NamedTuple):
    """End of a symbolic leapfrog trajectory.

    Attributes
    ----------
    q, p : list of TensorVariable
        Positions and momenta, each with the shape of the matching input.
    grad : list of TensorVariable
        ``∇U(q)`` at the final positions (reusable as the next ``initial_grad``).
    """

    q: list[TensorVariable]
    p: list[TensorVariable]
    grad: list[TensorVariable]


def _kdk(
    q: list[TensorVariable],
    p: list[TensorVariable],
    g: list[TensorVariable],
    half_step: TensorVariable,
    step_size: TensorVariable,
    grad_fn: GradFn,
) -> tuple[list[TensorVariable], list[TensorVariable], list[TensorVariable]]:
    """One kick-drift-kick step."""
    p_half = [pi - half_step * gi for pi, gi in zip(p, g, strict=True)]
    q_new = [qi + step_size * pi for qi, pi in zip(q, p_half, strict=True)]
    g_new = list(grad_fn(q_new))
    if len(g_new) != len(q_new):
        raise ValueError(f"grad_fn returned {len(g_new)} gradients for {len(q_new)} positions")
    p_new = [pi - half_step * gi for pi, gi in zip(p_half, g_new, strict=True)]
    return q_new, p_new, g_new


def leapfrog_state(
    q: Sequence[TensorVariable],
    p: Sequence[TensorVariable],
    step_size: TensorVariable | float,
    n_steps: int,
    grad_fn: GradFn,
    *,
    initial_grad: Sequence[TensorVariable] | None = None,
    unroll: bool | None = None,
) -> LeapfrogState:
    """Symbolic leapfrog trajectory over several position/momentum blocks.

    Parameters
    ----------
    q, p : sequence of TensorVariable
        Positions and momenta, one pair per block; ``p[k]`` has the shape of ``q[k]``.
    step_size : TensorVariable or float
        Scalar ``ε`` (negative values integrate backwards in time).
    n_steps : int
        Number of leapfrog steps, at least 1 (a Python integer: it fixes the graph).
    grad_fn : callable
        Maps a list of position tensors to the list of gradients ``∇U`` of the
        potential energy, one per block, each with the shape of its block.
    initial_grad : sequence of TensorVariable, optional
        ``∇U(q)`` if already known (saves one gradient evaluation).
    unroll : bool, optional
        Build the steps as an unrolled graph (``True``) or a ``pytensor.scan``
        (``False``). Default: unrolled up to :data:`MAX_UNROLLED_STEPS` steps.

    Returns
    -------
    LeapfrogState
        Final positions, momenta and gradient.
    """
    n_steps = positive_int("n_steps", n_steps)
    q = [pt.as_tensor_variable(x) for x in q]
    p = [pt.as_tensor_variable(x) for x in p]
    if len(q) != len(p) or not q:
        raise ValueError("q and p must be non-empty sequences of the same length")
    step_size = pt.as_tensor_variable(step_size)
    if step_size.ndim != 0:
        raise ValueError("step_size must be a scalar")
    step_size = pt.cast(step_size, q[0].dtype)
    half_step = 0.5 * step_size
    g = (
        list(grad_fn(q))
        if initial_grad is None
        else [pt.as_tensor_variable(x) for x in initial_grad]
    )
    if unroll is None:
        unroll = n_steps <= MAX_UNROLLED_STEPS
    n_blocks = len(q)
    if unroll:
        for _ in range(int(n_steps)):
            q, p, g = _kdk(q, p, g, half_step, step_size, grad_fn)
        return LeapfrogState(q, p, g)

    def body(*args):
        qs, ps, gs = (
            args[:n_blocks],
            args[n_blocks : 2 * n_blocks],
            args[2 * n_blocks : 3 * n_blocks],
        )
        h, e = args[3 * n_blocks :]
        q_new, p_new, g_new = _kdk(list(qs), list(ps), list(gs), h, e, grad_fn)
        return [*q_new, *p_new, *g_new]

    outputs = pytensor.scan(
        body,
        outputs_info=[*q, *p, *g],
        non_sequences=[half_step, step_size],
        n_steps=int(n_steps),
        return_list=True,
        return_updates=False,
        name="leapfrog",
    )
    last = [out[-1] for out in outputs]
    return LeapfrogState(
        last[:n_blocks], last[n_blocks : 2 * n_blocks], last[2 * n_blocks : 3 * n_blocks]
    )


def leapfrog(
    q: TensorVariable | Sequence[TensorVariable],
    p: TensorVariable | Sequence[TensorVariable],
    step_size: TensorVariable | float,
    n_steps: int,
    grad_fn: Callable,
    *,
    unroll: bool | None = None,
) -> tuple:
    """Symbolic leapfrog trajectory: final positions and momenta.

    Parameters
    ----------
    q, p : TensorVariable or sequence of TensorVariable
        Start positions and momenta (any shape; ``p`` matches ``q``). A single
        tensor, or one tensor per block.
    step_size : TensorVariable or float
        Scalar step size ``ε``.
    n_steps : int
        Number of leapfrog steps (at least 1).
    grad_fn : callable
        ``grad_fn(q) -> ∇U(q)``: a tensor for a single block, a list of
        tensors for a sequence of blocks.
    unroll : bool, optional
        Unrolled graph or ``pytensor.scan``; see :func:`leapfrog_state`.

    Returns
    -------
    q, p
        Final positions and momenta, with the structure of the inputs.

    Examples
    --------
    Harmonic oscillator ``U(q) = ½ q²`` (``∇U(q) = q``), from ``q = 1, p = 0``
    for a time 1 (exactly ``cos 1 ≈ 0.5403``, ``-sin 1 ≈ -0.8415``):

    >>> import pytensor, pytensor.tensor as pt
    >>> q0 = pt.vector("q0")
    >>> p0 = pt.vector("p0")
    >>> q1, p1 = leapfrog(q0, p0, 0.1, 10, lambda q: q)
    >>> f = pytensor.function([q0, p0], [q1, p1])
    >>> [round(float(x[0]), 3) for x in f([1.0], [0.0])]
    [0.54, -0.841]
    """
    single = not isinstance(q, list | tuple)
    if single:
        state = leapfrog_state(
            [q], [p], step_size, n_steps, lambda qs: [grad_fn(qs[0])], unroll=unroll
        )
        return state.q[0], state.p[0]
    state = leapfrog_state(q, p, step_size, n_steps, grad_fn, unroll=unroll)
    return state.q, state.p


def compile_leapfrog(
    potential: Callable[[TensorVariable], TensorVariable],
    n_steps: int,
    *,
    ndim: int = 1,
    unroll: bool | None = None,
    dtype: str | None = None,
) -> Callable[[npt.ArrayLike, npt.ArrayLike, float], tuple[np.ndarray, np.ndarray]]:
    """Compile a NumPy-callable leapfrog integrator for a potential energy.

    Parameters
    ----------
    potential : callable
        Builds the scalar potential energy ``U(q)`` from a symbolic ``q``.
    n_steps : int
        Number of leapfrog steps per call.
    ndim : int, default 1
        Number of dimensions of ``q``.
    unroll : bool, optional
        Unrolled graph or ``pytensor.scan``; see :func:`leapfrog_state`.
    dtype : str, optional
        Float dtype, default ``pytensor.config.floatX``.

    Returns
    -------
    callable
        ``f(q, p, step_size) -> (q_new, p_new)`` on arrays with ``ndim`` dimensions.

    Examples
    --------
    >>> import numpy as np
    >>> f = compile_leapfrog(lambda q: 0.5 * (q**2).sum(), n_steps=20)
    >>> q, p = f(np.array([1.0]), np.array([0.0]), 0.05)
    >>> bool(abs(q[0] - np.cos(1.0)) < 1e-3)
    True
    """
    dtype = dtype or pytensor.config.floatX
    q0 = pt.tensor("q", dtype=dtype, shape=(None,) * ndim)
    p0 = pt.tensor("p", dtype=dtype, shape=(None,) * ndim)
    eps = pt.scalar("step_size", dtype=dtype)

    def grad_fn(q: TensorVariable) -> TensorVariable:
        return pt.grad(potential(q), q)

    q1, p1 = leapfrog(q0, p0, eps, n_steps, grad_fn, unroll=unroll)
    fn = pytensor.function([q0, p0, eps], [q1, p1])

    def integrate(
        q: npt.ArrayLike, p: npt.ArrayLike, step_size: float
    ) -> tuple[np.ndarray, np.ndarray]:
        return tuple(
            fn(
                np.asarray(q, dtype=dtype),
                np.asarray(p, dtype=dtype),
                np.asarray(step_size, dtype),
            )
        )

    return integrate
