"""Many short, independent Hamiltonian trajectories in one compiled function.

:class:`ShortRunHMC` is the negative-phase sampler of contrastive divergence
with Hamiltonian dynamics: every row of an ``(n_particles, dim)`` visible
variable is its own chain, gets a random momentum, follows a few leapfrog
steps and is accepted or rejected on its own. The transition is the
package's HMC kernel (:mod:`~pymc_ebm.step_methods.hmc_kernel`); the mass
matrix and the step size adapt by :mod:`~pymc_ebm.step_methods.mass_adaptation`
and :mod:`~pymc_ebm.step_methods.step_size`; which terms of the model the
block carries, and whether its rows are independent chains, come from
:mod:`pymc_ebm.model.terms`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import field
from typing import Any

import numpy as np
import pymc as pm
import pytensor
import pytensor.tensor as pt
from pymc.blocking import PointType, StatsType
from pymc.model import modelcontext
from pymc.step_methods.compound import BlockedStep, Competence, StepMethodState
from pymc.step_methods.state import WithSamplingState, dataclass_state
from pymc.step_methods.step_sizes import StepSizeState
from pymc.util import RandomGenerator, get_random_generator, get_value_vars_from_user_vars
from pymc.vartypes import continuous_types
from pytensor.graph.traversal import ancestors
from pytensor.tensor.variable import TensorVariable

from pymc_ebm import backends
from pymc_ebm.model.terms import BlockTerms, independent_rows, row_sum, split_terms
from pymc_ebm.step_methods.copying import ModelFreeCopy
from pymc_ebm.step_methods.hmc_kernel import (
    build_kernel,
    check_settings,
    init,
    potential_from_graph,
    run_trajectories,
)
from pymc_ebm.step_methods.mass_adaptation import (
    DiagMassAdaptation,
    DiagMassState,
    inverse_mass,
    narrowest_width,
    split,
)
from pymc_ebm.step_methods.step_size import dual_averaging, search_step_size

__all__ = ["ShortRunHMC"]


@dataclass_state
class ShortRunHMCState(StepMethodState):
    """Sampling state of :class:`ShortRunHMC` (for PyMC's resumable traces)."""

    step_adapt: StepSizeState
    mass_adapt: DiagMassState
    tune: bool
    step_size_search_pending: bool
    n_steps: int = field(metadata={"frozen": True})
    renew_momentum: int | None = field(metadata={"frozen": True})


def _check_args(
    n_steps: Any, step_size: Any, target_accept: Any, renew_momentum: Any, step_jitter: Any
) -> tuple[int, float, float, int, float]:
    """Validate the constructor arguments.

    Returns n_steps, step_size, target_accept, the number of steps per
    trajectory and step_jitter.
    """
    n_steps, step_size_f, target, jitter = check_settings(
        n_steps, step_size, target_accept, step_jitter
    )
    if renew_momentum is None:
        return n_steps, step_size_f, target, n_steps, jitter
    if (
        isinstance(renew_momentum, bool)
        or not isinstance(renew_momentum, int | np.integer)
        or renew_momentum < 1
        or n_steps % renew_momentum
    ):
        raise ValueError(
            f"renew_momentum must be None or a positive integer that divides "
            f"n_steps={n_steps}, got {renew_momentum!r}"
        )
    return n_steps, step_size_f, target, int(renew_momentum), jitter


class ShortRunHMC(ModelFreeCopy, BlockedStep):
    r"""Short-run Hamiltonian Monte Carlo with one Metropolis test per row.

    Each draw gives every chain (row) a fresh momentum ``p ~ N(0, M)``
    (``M`` a diagonal mass), follows ``n_steps`` leapfrog steps of size ``ε``
    on ``U(q) = -log p(q)`` and accepts the end point with probability
    ``min(1, exp(-ΔH))`` (Duane et al. 1987; Neal 2011). ``renew_momentum=k``
    splits the steps into ``n_steps / k`` trajectories, each with a fresh
    momentum and its own test (the lecture's "online HMC learning
    procedure"); ``None`` is the lecture's shortcut, momentum once. The whole
    draw is **one** compiled PyTensor function.

    Row ``i`` of an ``(n_particles, ...)`` block is accepted or rejected on its
    own (``per_row``) only where its log density depends on row ``i`` alone:
    by construction for a model built by :func:`pymc_ebm.visible` whose
    visibles carry no other terms, otherwise checked at construction
    (:mod:`pymc_ebm.model.terms`); elsewhere one joint test covers the block,
    with a ``UserWarning``. While tuning, ``ε`` follows PyMC's dual averaging
    towards ``target_accept`` (0.65: Beskos et al. 2010) and ``M⁻¹`` is set,
    window by window (:func:`~pymc_ebm.step_methods.mass_adaptation.mass_windows`),
    to the variance of every element over the draws of all rows. A row whose
    proposal is not finite, or whose energy rises by more than 1000, is
    rejected and counted as diverging. The guide (``docs/guide.md``) and
    ``docs/statistics.md`` say more.

    Parameters
    ----------
    vars : list of Variable, optional
        Random or value variables to sample, each of shape ``(n_particles, ...)``
        for the per-row test. Default: all continuous variables of the model.
    n_steps : int, default 10
        Leapfrog steps per draw (at least 1). It fixes the compiled graph.
    step_size : float, default 0.1
        Initial step size ``ε`` (positive, finite).
    target_accept : float, default 0.65
        Target mean acceptance probability for tuning, in ``(0, 1)``.
    renew_momentum : int, optional
        Steps per trajectory: a positive divisor of ``n_steps``.
    step_jitter : float, default 0.15
        Relative half-width of the random factor on ``ε`` per trajectory
        (Neal 2011, 5.4.2.2), in ``[0, 1)``.
    model : pm.Model, optional
        Defaults to the model on the context stack.
    rng : RandomGenerator, optional
        Seed or generator of the momenta and uniforms (the only randomness);
        ``pm.sample`` replaces it per chain.
    initial_point : dict, optional
        A point of the model, used to check shapes. Default: the model's.
    compile_kwargs : dict, optional
        Extra keyword arguments for the compilation (``mode``, ...).
    blocked : bool, default True
        ``False`` makes one ``ShortRunHMC`` per variable (PyMC's convention).
    per_row : bool, optional
        ``None``: a test per row where the rows are independent chains, else
        one joint test with a warning; ``False``: one joint test; ``True``: a
        test per row, or ``ValueError``.
    scaling : array_like, optional
        1-D diagonal of the mass matrix, one positive finite real entry per
        element of one row (per-row test) or of the block (joint test); a
        precision (``M``) unless ``is_cov``. Fixed unless ``adapt_mass=True``.
    is_cov : bool, default False
        Read ``scaling`` as the diagonal covariance ``M⁻¹`` (as PyMC does).
    potential : QuadPotentialDiag or QuadPotentialDiagAdapt, optional
        PyMC's diagonal potential, read for its variance vector ``M⁻¹``.
    adapt_mass : bool, optional
        Whether to adapt ``M⁻¹`` while tuning. Default: yes unless ``scaling``
        or a ``QuadPotentialDiag`` is given.
    find_step_size : bool, default True
        On the first tuning draw of a chain, search for the starting ``ε``
        (:func:`~pymc_ebm.step_methods.step_size.search_step_size`: draws
        from the current point at doubled or halved ``step_size``, kept
        for their acceptance only) and start dual averaging from it,
        shrunk towards it instead of ``10 ε``. ``False``: PyMC's dual
        averaging from ``step_size``.

    Attributes
    ----------
    per_row : bool
        Whether each row has its own Metropolis test.
    n_particles : int
        Number of rows tested on their own (1 in a joint test). ``n_rows`` is
        its deprecated spelling.
    step_size : float
        Step size of the next draw.
    tune : bool
        Whether the step size is being adapted.
    inv_mass : ndarray
        The diagonal inverse mass ``M⁻¹`` of the next draw, flattened.

    Notes
    -----
    Statistics per draw, with PyMC's names where the meaning is the same
    (``docs/statistics.md`` defines them): ``tune``, ``accept``,
    ``accepted``, ``energy_error``, ``max_energy_error``, ``energy``,
    ``step_size``, ``step_size_bar``, ``n_steps``, ``diverging``,
    ``n_diverging``, ``model_logp``.

    References
    ----------
    .. [1] Duane, S., Kennedy, A. D., Pendleton, B. J. and Roweth, D. (1987).
       Hybrid Monte Carlo. *Physics Letters B* 195(2), 216-222.
    .. [2] Neal, R. M. (2011). MCMC using Hamiltonian dynamics. In *Handbook of
       Markov Chain Monte Carlo*, chapter 5. Chapman & Hall/CRC.
    .. [3] Beskos, A., Pillai, N. S., Roberts, G. O., Sanz-Serna, J. M. and
       Stuart, A. M. (2010). Optimal tuning of the hybrid Monte Carlo
       algorithm. *Bernoulli* 19(5A), 1501-1534 (arXiv:1001.4460).

    Examples
    --------
    >>> import numpy as np, pymc as pm, pymc_ebm
    >>> expert = pymc_ebm.StudentT(W=[[1.0]], alpha=[3.5])
    >>> with pm.Model():
    ...     v = pymc_ebm.visible("v", expert, n_particles=8)
    ...     step = pymc_ebm.ShortRunHMC(n_steps=5, step_size=0.3)
    ...     idata = pm.sample(
    ...         draws=20, tune=20, step=step, chains=1, random_seed=1,
    ...         progressbar=False, compute_convergence_checks=False,
    ...     )
    >>> step.per_row, idata.posterior["v"].shape
    (True, (1, 20, 8, 1))
    """

    name = "short_run_hmc"
    default_blocked = True
    _state_class = ShortRunHMCState

    stats_dtypes_shapes = {
        "tune": (bool, []),
        "accept": (np.float64, []),
        "accepted": (np.float64, []),
        "energy_error": (np.float64, []),
        "max_energy_error": (np.float64, []),
        "energy": (np.float64, []),
        "step_size": (np.float64, []),
        "step_size_bar": (np.float64, []),
        "n_steps": (np.int64, []),
        "diverging": (bool, []),
        "n_diverging": (np.int64, []),
        "model_logp": (np.float64, []),
    }

    def __init__(
        self,
        vars: Sequence[TensorVariable] | None = None,
        *,
        n_steps: int = 10,
        step_size: float = 0.1,
        target_accept: float = 0.65,
        renew_momentum: int | None = None,
        step_jitter: float = 0.15,
        model: pm.Model | None = None,
        rng: RandomGenerator = None,
        initial_point: PointType | None = None,
        compile_kwargs: dict | None = None,
        blocked: bool = True,
        per_row: bool | None = None,
        scaling: Any = None,
        is_cov: bool = False,
        potential: Any = None,
        adapt_mass: bool | None = None,
        find_step_size: bool = True,
    ) -> None:
        if per_row not in (None, True, False):
            raise ValueError(f"per_row must be None, True or False, got {per_row!r}")
        if not isinstance(find_step_size, bool | np.bool_):
            raise TypeError(f"find_step_size must be True or False, got {find_step_size!r}")
        n_steps, step_size, target_accept, steps_per_traj, step_jitter = _check_args(
            n_steps, step_size, target_accept, renew_momentum, step_jitter
        )
        model = modelcontext(model)
        if vars is None:
            vars = model.continuous_value_vars
        else:
            vars = get_value_vars_from_user_vars(vars, model)
        if not vars:
            raise ValueError("ShortRunHMC needs at least one continuous variable to sample")
        for var in vars:
            if var.dtype not in continuous_types:
                raise ValueError(
                    f"ShortRunHMC samples continuous variables only; "
                    f"{var.name} has dtype {var.dtype}"
                )
        self.vars = list(vars)
        self.blocked = blocked
        self.rng = get_random_generator(rng)
        self.n_steps = n_steps
        self.renew_momentum = None if renew_momentum is None else steps_per_traj
        self.n_trajectories = n_steps // steps_per_traj
        self.target_accept = target_accept
        self.step_jitter = step_jitter
        self._initial_step_size = step_size
        self.find_step_size = bool(find_step_size)
        self.step_adapt = dual_averaging(step_size, target_accept)
        self.step_size_search_pending = self.find_step_size
        self._mass_inputs: list[np.ndarray] | None = None
        self._cached_step_sizes: tuple[bool, float, float] | None = None
        self.tune = True
        if initial_point is None:
            initial_point = model.initial_point()
        terms = split_terms(model, self.vars, initial_point)
        self.per_row = self._rows_are_chains(model, terms, initial_point, per_row)
        self.n_particles = terms.n_rows if self.per_row else 1
        # The mass is per element of one row (shared by the rows), or of the whole joint block.
        self._mass_shapes = [
            np.shape(initial_point[v.name])[1 if self.per_row else 0 :] for v in self.vars
        ]
        size = sum(int(np.prod(shape)) for shape in self._mass_shapes)
        inv_mass, adapt = inverse_mass(scaling, bool(is_cov), potential, size, self.per_row)
        self.mass_adapt = DiagMassAdaptation(inv_mass, adapt if adapt_mass is None else adapt_mass)
        self._build(model, terms, steps_per_traj, initial_point, compile_kwargs or {})

    @property
    def n_rows(self) -> int:
        """Deprecated spelling of :attr:`n_particles`."""
        warnings.warn(
            "n_rows is deprecated and will be removed in a future release: use n_particles",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.n_particles

    # -- graph -------------------------------------------------------------
    def _rows_are_chains(
        self,
        model: pm.Model,
        terms: BlockTerms,
        initial_point: PointType,
        per_row: bool | None,
    ) -> bool:
        """Decide between one Metropolis test per row and one joint test."""
        if per_row is False:
            return False
        independent, why = independent_rows(model, self.vars, terms, initial_point)
        if per_row and not independent:
            raise ValueError(f"per_row=True, but the rows are not independent chains: {why}")
        if not independent:
            warnings.warn(
                f"ShortRunHMC uses one joint Metropolis test for the whole block: {why}",
                UserWarning,
                stacklevel=3,
            )
        return independent

    def _build(
        self,
        model: pm.Model,
        terms: BlockTerms,
        steps_per_traj: int,
        initial_point: PointType,
        compile_kwargs: dict,
    ) -> None:
        """Compile the draw: the HMC kernel per trajectory, a scan over trajectories."""
        per_row, n_rows = self.per_row, self.n_particles
        inv_mass_in = [
            pt.tensor(f"{v.name}_inv_mass", dtype=v.dtype, shape=shape)
            for v, shape in zip(self.vars, self._mass_shapes, strict=True)
        ]
        potential = -sum(row_sum(t) if per_row else pt.sum(t)[None] for t in terms.block)
        kernel = build_kernel(
            potential_from_graph(potential, self.vars),
            n_steps=steps_per_traj,
            per_row=per_row,
            inv_mass=inv_mass_in,
        )
        floatx = pytensor.config.floatX
        q_in = [v.type(f"{v.name}_q0") for v in self.vars]
        p_in = [
            pt.tensor(f"{v.name}_p", dtype=v.dtype, shape=(self.n_trajectories, *v.type.shape))
            for v in self.vars
        ]
        # Uniforms per trajectory: column 0 jitters the step size, the others
        # are the rows' Metropolis tests.
        uniforms = pt.tensor("uniforms", dtype=floatx, shape=(self.n_trajectories, n_rows + 1))
        step_size_in = pt.scalar("step_size", dtype=floatx)
        log_u = pt.log(uniforms[:, 1:])
        eps_in = step_size_in * (1.0 + self.step_jitter * (2.0 * uniforms[:, 0] - 1.0))
        # Standard normals ξ to velocities v = M⁻¹p = sqrt(M⁻¹) ξ, p ~ N(0, M).
        v_in = [pt.sqrt(m) * p for m, p in zip(inv_mass_in, p_in, strict=True)]

        end, info = run_trajectories(
            kernel, init(kernel, q_in), v_in, log_u, eps_in, self.n_trajectories
        )
        accept_prob, delta, hamiltonian = info.accept_prob, info.energy_error, info.energy
        accepted, finite = pt.cast(info.accepted, floatx), pt.cast(info.finite, floatx)
        diverging = pt.cast(info.diverging, "int64")
        n_finite = pt.sum(finite[-1])
        energy_error = pt.switch(
            pt.gt(n_finite, 0), pt.sum(delta[-1]) / pt.maximum(n_finite, 1.0), np.nan
        )
        model_logp = -pt.sum(end.potential)
        if terms.other:
            model_logp = model_logp + sum(pt.sum(t) for t in terms.other)
        stats = pt.stack(
            [
                pt.mean(accept_prob),
                pt.mean(accepted),
                energy_error,
                pt.max(pt.abs(delta[-1])),
                pt.sum(hamiltonian[-1]),
                pt.sum(diverging),
                model_logp,
            ]
        ).astype("float64")
        used = set(ancestors([*terms.block, *terms.other]))
        extra = [v for v in model.value_vars if v not in set(self.vars) and v in used]
        self._var_names = [v.name for v in self.vars]
        self._input_dtypes = [(v.name, v.dtype) for v in [*self.vars, *extra]]
        self._momenta = [
            ((self.n_trajectories, *np.shape(initial_point[v.name])), v.dtype) for v in self.vars
        ]
        self._uniforms_shape = (self.n_trajectories, n_rows + 1)
        self._floatx = floatx
        compile_kwargs = backends.compile_kwargs(compile_kwargs)
        # Under JAX with several devices, the rows (independent chains) are split across them.
        self._shard_rows = per_row and backends.uses_jax(compile_kwargs)
        with model:
            self._fn = backends.function(
                [*q_in, *extra, *p_in, uniforms, step_size_in, *inv_mass_in],
                [*end.position, stats],
                on_unused_input="ignore",
                compiler="pymc",
                **compile_kwargs,
            )
        self._fn.trust_input = True

    # -- sampling ----------------------------------------------------------
    @property
    def step_size(self) -> float:
        """Step size of the next draw (adapted while tuning, averaged after)."""
        return float(self.step_adapt.current(self.tune))

    def step(self, point: PointType) -> tuple[PointType, StatsType]:
        """Draw new values of the block's variables (one compiled call); return point and stats."""
        tune = bool(self.tune)
        if tune and self.step_size_search_pending:
            self._search_step_size(point)
        step_size, step_size_bar = self._step_sizes(tune)
        inputs = self._draw_inputs(point)
        inputs.append(np.asarray(step_size, dtype=self._floatx))
        inputs += self._inverse_mass_inputs()
        *values, stats = self._fn(*inputs)
        values = [np.asarray(v) for v in values]  # NumPy in the point, whatever the backend
        accept, accepted, energy_error, max_error, energy, n_div, model_logp = stats.tolist()
        if tune:
            self.step_adapt.update(accept, True)
            self._cached_step_sizes = None
            self._adapt_mass(values)
        new_point = dict(point)
        new_point.update(zip(self._var_names, values, strict=True))
        return new_point, [
            {
                "tune": tune,
                "accept": accept,
                "accepted": accepted,
                "energy_error": energy_error,
                "max_energy_error": max_error,
                "energy": energy,
                "step_size": step_size,
                "step_size_bar": step_size_bar,
                "n_steps": self.n_steps,
                "diverging": n_div > 0,
                "n_diverging": int(n_div),
                "model_logp": model_logp,
            }
        ]

    def _draw_inputs(self, point: PointType) -> list[np.ndarray]:
        """Positions, momenta and uniforms of a draw from ``point`` (all but ε and the mass)."""
        rng = self.rng
        inputs = [np.asarray(point[name], dtype=dtype) for name, dtype in self._input_dtypes]
        momenta = [rng.standard_normal(shape, dtype=dtype) for shape, dtype in self._momenta]
        if self._shard_rows:
            n = len(self._var_names)
            inputs[:n] = [backends.shard_rows(x, local=True) for x in inputs[:n]]
            momenta = [backends.shard_rows(p, axis=1, local=True) for p in momenta]
        inputs += momenta
        inputs.append(rng.random(self._uniforms_shape, dtype=self._floatx))
        return inputs

    def _search_step_size(self, point: PointType) -> None:
        """Restart dual averaging (warm) from a step size searched at ``point``.

        Each candidate is one draw of the compiled function from ``point``,
        with the same momenta and uniforms (from the step's generator), read
        for its mean acceptance probability over the rows and thrown away:
        the chain's next draw is an ordinary one at the found step size.
        """
        inputs = self._draw_inputs(point)
        mass = self._inverse_mass_inputs()
        n_values = len(self._var_names)

        def accept_rate(step_size: float) -> float:
            out = self._fn(*inputs, np.asarray(step_size, dtype=self._floatx), *mass)
            return float(np.asarray(out[n_values])[0])

        start = self.step_adapt.current(True)
        found = search_step_size(accept_rate, start, self.target_accept)
        self.step_adapt = dual_averaging(found, self.target_accept, warm=True)
        self.step_size_search_pending = False
        self._cached_step_sizes = None

    @property
    def inv_mass(self) -> np.ndarray:
        """Diagonal inverse mass matrix (PyMC's ``is_cov=True`` scaling), flattened.

        Per element of one row in a per-row test, of the whole block in a joint test.
        """
        return self.mass_adapt.inv_mass.copy()

    def _inverse_mass_inputs(self) -> list[np.ndarray]:
        """The inverse mass split per variable, in the compiled function's dtypes (cached)."""
        if self._mass_inputs is None:
            dtypes = [v.dtype for v in self.vars]
            self._mass_inputs = split(self.mass_adapt.inv_mass, self._mass_shapes, dtypes)
        return self._mass_inputs

    def _adapt_mass(self, values: list[np.ndarray]) -> None:
        """Feed a tuning draw to the mass adaptation; on a new mass, restart the step size."""
        if not self.mass_adapt.adapt:
            return
        samples = np.concatenate([np.reshape(x, (self.n_particles, -1)) for x in values], axis=1)
        old = self.mass_adapt.inv_mass
        if self.mass_adapt.update(samples):
            self._mass_inputs = None
            restart = self.step_adapt.current(True) / narrowest_width(old, self.inv_mass)
            self.step_adapt = dual_averaging(restart, self.target_accept)
            self._cached_step_sizes = None

    def _step_sizes(self, tune: bool) -> tuple[float, float]:
        """Step size of the next draw and the averaged one, as floats.

        Cached between adaptation updates: after tuning they no longer
        change, and reading them from the adaptation costs about as much
        as a whole draw of a small model.
        """
        if self._cached_step_sizes is None or self._cached_step_sizes[0] != tune:
            adapt = self.step_adapt
            self._cached_step_sizes = (
                tune,
                float(adapt.current(tune)),
                float(adapt.current(False)),
            )
        return self._cached_step_sizes[1:]

    def _set_sampling_state(self, state: ShortRunHMCState) -> None:
        WithSamplingState.sampling_state.fset(self, state)
        self._cached_step_sizes = None  # the restored adaptation has its own step sizes
        self._mass_inputs = None  # and its own mass

    sampling_state = property(WithSamplingState.sampling_state.fget, _set_sampling_state)

    def stop_tuning(self) -> None:
        """Stop adapting; later draws use the averaged step size."""
        self.tune = False
        self._cached_step_sizes = None

    def setup_chain(self, rng: RandomGenerator, tune: int, draws: int) -> None:
        """Prepare for one chain: its own generator, adaptation restarted, tuning iff ``tune > 0``.

        ``pm.sample`` calls this per chain in the sequential and the parallel
        paths alike, so both give the same draws for the same seed, also when
        the step was used before.
        """
        super().setup_chain(rng, tune, draws)
        self.mass_adapt.n_tune = int(tune)  # windows planned for this many tuning draws
        self.reset_tuning()
        self.tune = tune > 0

    def reset_tuning(self) -> None:
        """Restart the adaptation from the initial step size and inverse mass; search again."""
        self.step_adapt = dual_averaging(self._initial_step_size, self.target_accept)
        self.step_size_search_pending = self.find_step_size
        self.mass_adapt.reset()
        self._mass_inputs = None
        self._cached_step_sizes = None

    @staticmethod
    def competence(var: TensorVariable, has_grad: bool) -> Competence:
        """COMPATIBLE for continuous variables with gradients, INCOMPATIBLE otherwise."""
        if var.dtype in continuous_types and has_grad:
            return Competence.COMPATIBLE
        return Competence.INCOMPATIBLE
