"""Many short, independent Hamiltonian trajectories in one compiled function.

:class:`ShortRunHMC` is the negative-phase sampler of contrastive divergence
with Hamiltonian dynamics: every row of an ``(n_chains, dim)`` visible
variable is its own chain, gets a random momentum, follows a few leapfrog
steps and is accepted or rejected on its own.
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
from pymc.pytensorf import compile as pm_compile
from pymc.step_methods.compound import BlockedStep, Competence, StepMethodState
from pymc.step_methods.hmc.quadpotential import QuadPotentialDiag, QuadPotentialDiagAdapt
from pymc.step_methods.state import DataClassState, WithSamplingState, dataclass_state
from pymc.step_methods.step_sizes import DualAverageAdaptation, StepSizeState
from pymc.util import RandomGenerator, get_random_generator, get_value_vars_from_user_vars
from pymc.vartypes import continuous_types
from pytensor.graph.replace import clone_replace
from pytensor.graph.traversal import ancestors
from pytensor.tensor.variable import TensorVariable

from pymc_ebm import backends
from pymc_ebm._validation import finite_float, positive_int
from pymc_ebm.step_methods.copying import ModelFreeCopy
from pymc_ebm.step_methods.leapfrog import leapfrog_state
from pymc_ebm.step_methods.row_independence import registered_rows, rows_are_independent

__all__ = ["ShortRunHMC"]

MAX_ENERGY_ERROR = 1000.0
"""A proposal whose energy rises by more than this counts as diverging (as in PyMC)."""

MASS_INIT_WINDOW = 25
"""Tuning draws before the first mass-matrix window (their draws are not used)."""
MASS_FIRST_WINDOW = 25
"""Length in draws of the first mass-matrix window; later windows double."""
MASS_TERMINAL_WINDOW = 100
"""Tuning draws after the last mass update, left to the step size alone."""


@dataclass_state
class DiagMassState(DataClassState):
    """Sampling state of :class:`DiagMassAdaptation`."""

    inv_mass: np.ndarray
    n_tune: int | None
    n_seen: int
    window_start: int
    window_end: int
    last_end: int | None
    count: int
    mean: np.ndarray
    m2: np.ndarray
    adapt: bool = field(metadata={"frozen": True})
    initial_inv_mass: np.ndarray = field(metadata={"frozen": True})


def _window_end(start: int, length: int, last_end: int | None) -> int:
    """End of the window of ``length`` draws from ``start`` (-1: none fits before ``last_end``).

    A window whose doubled successor would not fit runs on to ``last_end`` (as in Stan).
    """
    if last_end is None:
        return start + length
    if start + length > last_end:
        return -1
    return last_end if start + 3 * length > last_end else start + length


class DiagMassAdaptation(WithSamplingState):
    """Diagonal inverse mass (the variance of each element), adapted from tuning draws in windows.

    Not PyMC's ``QuadPotentialDiagAdapt``: that one takes one sample per call
    and counts its windows in samples, while here every draw brings
    ``n_rows`` samples of the same per-row coordinates, pooled in one batch
    update (Chan et al.'s parallel variance formula), and the windows count
    draws. After ``MASS_INIT_WINDOW`` tuning draws, windows of
    ``MASS_FIRST_WINDOW`` draws, doubling, each end by setting the inverse
    mass to the sample variance of that window's draws. When the number of
    tuning draws ``n`` is known, the last window runs on to
    ``MASS_TERMINAL_WINDOW`` draws before the end of tuning (and with fewer
    than 150 = 25 + 25 + 100 tuning draws, the three phases take 15 %, 75 %
    and 10 % of them, Stan's rule); otherwise the windows double for ever.
    """

    _state_class = DiagMassState

    def __init__(self, inv_mass: np.ndarray, adapt: bool) -> None:
        self.initial_inv_mass = np.array(inv_mass, dtype="float64")
        self.adapt = bool(adapt)
        self.n_tune: int | None = None
        self.reset()

    def reset(self) -> None:
        """Back to the initial inverse mass; plan the windows for ``n_tune`` tuning draws.

        ``n_tune`` is an attribute (``None``: not known, windows double for ever).
        """
        self.inv_mass = self.initial_inv_mass.copy()
        self.n_seen = 0
        init, first, self.last_end = MASS_INIT_WINDOW, MASS_FIRST_WINDOW, None
        n_tune = self.n_tune
        if n_tune is not None:
            self.last_end = n_tune - MASS_TERMINAL_WINDOW
            if n_tune < MASS_INIT_WINDOW + MASS_FIRST_WINDOW + MASS_TERMINAL_WINDOW:
                init, self.last_end = int(0.15 * n_tune), n_tune - int(0.1 * n_tune)
                first = self.last_end - init
        self._start_window(init, first if first >= 10 else 10**9)

    def _start_window(self, start: int, length: int) -> None:
        self.window_start = start
        self.window_end = _window_end(start, length, self.last_end)
        size = self.inv_mass.size
        self.count, self.mean, self.m2 = 0, np.zeros(size), np.zeros(size)

    def update(self, samples: np.ndarray) -> bool:
        """Add one tuning draw of shape ``(n_rows, size)``; return whether the mass changed."""
        if not self.adapt or self.window_end < 0:
            return False
        self.n_seen += 1
        if self.n_seen > self.window_start:
            n_b = samples.shape[0]
            mean_b = samples.mean(axis=0)
            delta = mean_b - self.mean
            n = self.count + n_b
            self.m2 = (
                self.m2 + ((samples - mean_b) ** 2).sum(axis=0) + delta**2 * self.count * n_b / n
            )
            self.mean = self.mean + delta * n_b / n
            self.count = n
        if self.n_seen < self.window_end:
            return False
        var = self.m2 / max(self.count - 1, 1)
        changed = bool(np.all(np.isfinite(var)) and np.all(var > 0))
        if changed:  # a coordinate that never moved keeps the old mass
            self.inv_mass = np.clip(var, 1e-12, 1e12)
        length = self.window_end - self.window_start
        self._start_window(self.window_end, 2 * length)
        return changed


def _real_array(scaling: Any) -> np.ndarray:
    """``scaling`` as a float64 array; ``ValueError`` unless it holds real numbers.

    Complex, boolean, string and object arrays (``None`` entries) are refused.
    """
    try:
        array = np.asarray(scaling)
    except (TypeError, ValueError) as err:
        raise ValueError(f"scaling must be a 1-D array of real numbers: {err}") from None
    if array.dtype.kind not in "iuf":
        raise ValueError(
            f"scaling must be a 1-D array of real numbers, got an array of dtype {array.dtype}"
        )
    return array.astype("float64")


def _inverse_mass(
    scaling: Any, is_cov: bool, potential: Any, size: int, per_row: bool
) -> tuple[np.ndarray, bool]:
    """The inverse mass vector (PyMC's meaning of the arguments) and whether to adapt it."""
    if scaling is not None and potential is not None:
        raise ValueError("Can not specify both potential and scaling.")
    if potential is not None:
        if isinstance(potential, QuadPotentialDiagAdapt):
            inv_mass, adapt = np.asarray(potential._var, dtype="float64"), True
        elif isinstance(potential, QuadPotentialDiag):
            inv_mass, adapt = np.asarray(potential.v, dtype="float64"), False
        else:
            raise ValueError(
                f"ShortRunHMC supports diagonal potentials only (QuadPotentialDiag, "
                f"QuadPotentialDiagAdapt), got {type(potential).__name__}"
            )
        name = "the potential's variance vector"
    elif scaling is not None:
        scaling = _real_array(scaling)
        if scaling.ndim != 1:
            raise ValueError(
                f"scaling must be a 1-D array (a diagonal mass matrix), got shape {scaling.shape}"
            )
        if not (np.all(np.isfinite(scaling)) and np.all(scaling > 0)):
            raise ValueError(f"scaling must be positive and finite, got {scaling}")
        inv_mass, adapt, name = scaling if is_cov else 1.0 / scaling, False, "scaling"
    else:
        return np.ones(size), True
    if inv_mass.shape != (size,):
        raise ValueError(
            f"{name} must have {size} elements "
            f"({'one row' if per_row else 'the whole block'} of the block, flattened), "
            f"got shape {inv_mass.shape}"
        )
    if not (np.all(np.isfinite(inv_mass)) and np.all(inv_mass > 0)):
        raise ValueError(f"{name} must be positive and finite, got {inv_mass}")
    return inv_mass, adapt


@dataclass_state
class ShortRunHMCState(StepMethodState):
    """Sampling state of :class:`ShortRunHMC` (for PyMC's resumable traces)."""

    step_adapt: StepSizeState
    mass_adapt: DiagMassState
    tune: bool
    n_steps: int = field(metadata={"frozen": True})
    renew_momentum: int | None = field(metadata={"frozen": True})


def _row_sum(x: TensorVariable) -> TensorVariable:
    """Sum every axis but the leading one (rows)."""
    return pt.sum(x, axis=tuple(range(1, x.ndim))) if x.ndim > 1 else x


def _check_args(
    n_steps: Any, step_size: Any, target_accept: Any, renew_momentum: Any, step_jitter: Any
) -> tuple[int, float, float, int, float]:
    """Validate the constructor arguments.

    Returns n_steps, step_size, target_accept, the number of steps per
    trajectory and step_jitter.
    """
    n_steps = positive_int("n_steps", n_steps)
    step_size_f = finite_float("step_size", step_size, low=0.0, low_open=True)
    target = finite_float(
        "target_accept", target_accept, low=0.0, high=1.0, low_open=True, high_open=True
    )
    jitter = finite_float("step_jitter", step_jitter, low=0.0, high=1.0, high_open=True)
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
    (kinetic energy ``½pᵀM⁻¹p``, ``M`` a diagonal mass matrix, see below),
    follows ``n_steps`` leapfrog steps of size ``ε`` on the potential
    ``U(q) = -log p(q)`` and accepts the end point with
    probability ``min(1, exp(-ΔH))`` (Duane et al. 1987; Neal 2011). With
    ``renew_momentum=k`` the ``n_steps`` are split into ``n_steps / k``
    trajectories of ``k`` steps, each with a fresh momentum and its own
    Metropolis test: the "online HMC learning procedure" of the lecture,
    which moves towards equilibrium samples. ``renew_momentum=None`` is the
    lecture's shortcut: momentum once, a few steps.

    The whole draw (all trajectories, energies and tests) is **one** compiled
    PyTensor function: only the gradient is computed inside a trajectory, the
    energy only at its ends, and the gradient at the end of one trajectory is
    reused at the start of the next. The leapfrog steps of a trajectory are a
    ``pytensor.scan`` (one loop in the compiled function), and so are the
    trajectories when there are several.

    **Rows as chains.** Row ``i`` of an ``(n_chains, ...)`` block has its
    own Hamiltonian ``H_i = u_i + ½|p_i|²``, with
    ``u_i = -Σ_terms (term summed over its non-leading axes)[i]`` over the
    terms of ``model.logp(sum=False)`` that depend on the block (Jacobians
    of transforms included), and is accepted or rejected on its own
    (``per_row`` is ``True``) only where that is known to leave the target
    invariant: every sampled variable and every such term has the leading
    length ``n_chains``, and ``u_i`` depends on row ``i`` alone. The last
    condition holds by construction for a model built with
    :func:`pymc_ebm.visible` whose visibles carry no other terms; for any
    other model it is checked once, at construction, from the exact zeros of
    the Jacobian ``∂u_i/∂x_j`` (``i ≠ j``) at a random point (see
    :mod:`pymc_ebm.step_methods.row_independence`). A term such as
    ``x - x.mean(0)`` or ``pm.Normal("y", x[::-1], ...)`` has the rows'
    leading length but couples or permutes them, and is caught. Otherwise one
    joint test covers the whole block, with a ``UserWarning`` at construction
    (``per_row`` is ``False``). ``per_row=False`` asks for the joint test
    (no warning) and ``per_row=True`` raises ``ValueError`` where the rows are
    not independent chains. Sampling happens on PyMC's value (transformed)
    space, so bounded variables such as the ``pm.Uniform`` box of a uni-gauss
    energy work through their transforms.

    **Step size.** While tuning, ``ε`` follows PyMC's dual averaging
    (Hoffman & Gelman 2014) towards ``target_accept``, fed with the mean
    acceptance probability over rows and trajectories; :meth:`stop_tuning`
    fixes it to the averaged value, which accepts more than the fluctuating
    iterates did: the mean ``accept`` after tuning sits above the target
    (measured and explained in ``docs/statistics.md``). The default target 0.65 is the optimal
    acceptance rate of HMC in high dimensions (Beskos et al. 2010). Each
    trajectory multiplies ``ε`` by a random factor in
    ``[1 - step_jitter, 1 + step_jitter]`` (as PyMC's ``HamiltonianMC`` does),
    which keeps fixed-length trajectories from resonating with a period of
    the target (Neal 2011, section 5.4.2.2); ``step_jitter=0`` gives a fixed ``ε``.

    **Mass matrix.** The momenta are ``p ~ N(0, M)`` with a diagonal mass
    ``M``, kinetic energy ``½ pᵀM⁻¹p``, and the drift is ``q += ε M⁻¹p``. The
    trajectory carries the velocity ``v = M⁻¹p`` (drawn as ``sqrt(M⁻¹) ξ``
    from standard normals ``ξ``) and the scaled gradient ``M⁻¹∇U`` in place of
    ``p`` and ``∇U``: the same leapfrog steps in the same coordinates, so the
    leapfrog helper is unchanged and a rejected row keeps its exact value.
    ``M⁻¹`` is an input of the compiled function, so a new mass never
    recompiles. In a per-row test it is one vector over the elements of
    **one row** (the sampled variables' ``shape[1:]``, flattened and
    concatenated in the order of ``vars``), shared by all rows; in a joint
    test, over the whole block. The arguments mean what they mean in PyMC's
    HMC: ``scaling`` is the diagonal precision (``M``), or with
    ``is_cov=True`` the diagonal covariance (``M⁻¹``, the target's variances
    at best); ``potential`` may be PyMC's ``QuadPotentialDiag`` (fixed ``M⁻¹``
    = its ``v``) or ``QuadPotentialDiagAdapt`` (its current variance, then
    adapted). With neither, ``M⁻¹`` starts at ones and is adapted while
    tuning: after 25 tuning draws, windows of 25, 50, 100, ... draws each set
    ``M⁻¹`` to the variance of every element over the window's draws of
    **all rows** (every row gains from all rows; see
    :class:`DiagMassAdaptation`), and the step-size dual averaging restarts
    after each update, from the current step size rescaled to the new mass;
    the last window ends 100 draws before the end of tuning (so give at least
    a few hundred tuning draws). ``adapt_mass`` overrides whether to adapt.

    **Divergences.** A row whose proposal has a non-finite energy, position
    or gradient, or whose energy rises by more than 1000, is rejected and
    counted as diverging.

    Parameters
    ----------
    vars : list of Variable, optional
        Random or value variables to sample, each of shape ``(n_chains, ...)``
        for the per-row test. Default: all continuous variables of the model.
    n_steps : int, default 10
        Leapfrog steps per draw (at least 1). It fixes the compiled graph.
    step_size : float, default 0.1
        Initial leapfrog step size ``ε`` (positive, finite).
    target_accept : float, default 0.65
        Target mean acceptance probability for tuning, in ``(0, 1)``.
    renew_momentum : int, optional
        Steps per trajectory: a positive divisor of ``n_steps`` (any other
        value raises ``ValueError``). ``None`` (the default) is a single
        trajectory of ``n_steps`` steps.
    step_jitter : float, default 0.15
        Relative half-width of the random factor on ``ε`` per trajectory, in ``[0, 1)``.
    model : pm.Model, optional
        Defaults to the model on the context stack.
    rng : RandomGenerator, optional
        Seed or generator for the momenta and Metropolis uniforms (the only
        source of randomness); ``pm.sample`` replaces it per chain.
    initial_point : dict, optional
        A point of the model, used to check shapes. Default: the model's.
    compile_kwargs : dict, optional
        Extra keyword arguments for the compilation (``mode``, ...).
    blocked : bool, default True
        ``False`` makes one ``ShortRunHMC`` per variable (PyMC's convention).
    per_row : bool, optional
        ``None`` (the default): a Metropolis test per row where the rows are
        independent chains, else one joint test with a warning; ``False``:
        one joint test; ``True``: a test per row, or ``ValueError``.
    scaling : array_like, optional
        1-D diagonal of the mass matrix, one positive finite entry per element
        of one row (per-row test) or of the block (joint test); a precision
        (``M``) unless ``is_cov``. Fixed unless ``adapt_mass=True``. Any
        other size or shape, a non-positive or non-finite entry, or entries
        that are not real numbers (complex, boolean, ``None``) raise ``ValueError``.
    is_cov : bool, default False
        Read ``scaling`` as the diagonal covariance ``M⁻¹`` (as PyMC does).
    potential : QuadPotentialDiag or QuadPotentialDiagAdapt, optional
        PyMC's diagonal potential, read for its variance vector ``M⁻¹``; any
        other potential, or both ``scaling`` and ``potential``, raise ``ValueError``.
    adapt_mass : bool, optional
        Whether to adapt ``M⁻¹`` while tuning. Default: yes unless ``scaling``
        or a ``QuadPotentialDiag`` is given.

    Attributes
    ----------
    per_row : bool
        Whether each row has its own Metropolis test.
    n_rows : int
        Number of rows tested on their own (1 in a joint test).
    step_size : float
        Step size of the next draw.
    tune : bool
        Whether the step size is being adapted.
    inv_mass : ndarray
        The diagonal inverse mass ``M⁻¹`` of the next draw, flattened.

    Notes
    -----
    Statistics per draw (names as in PyMC's ``HamiltonianMC`` where the
    meaning is the same; "rows" are the chains of a per-row test, or the
    whole block in a joint test):

    ====================  =======  =================================================
    ``tune``              bool     whether the step size was being adapted
    ``accept``            float64  mean acceptance probability ``min(1, e^{-ΔH})``
                                   over rows (and trajectories)
    ``accepted``          float64  fraction of rows (and trajectories) accepted
    ``energy_error``      float64  mean ``ΔH`` of the last trajectory over rows
                                   that did not diverge (NaN if all did)
    ``max_energy_error``  float64  largest ``|ΔH|`` of the last trajectory
    ``energy``            float64  Hamiltonian ``Σ_i H_i`` of the state the draw
                                   ends in (the accepted end point with its
                                   momentum, or the start with its fresh momentum),
                                   summed over rows: what ``az.bfmi`` and energy
                                   plots read
    ``step_size``         float64  ``ε`` of the draw, before the jitter
    ``step_size_bar``     float64  dual-averaged ``ε`` (used once tuning stops)
    ``n_steps``           int64    leapfrog steps per draw
    ``diverging``         bool     whether any row diverged
    ``n_diverging``       int64    row trajectories that diverged
    ``model_logp``        float64  the model's log density after the draw
    ====================  =======  =================================================

    The compiled function takes the current values of the sampled variables
    ``(n_chains, ...)``, those of the other variables the density depends on,
    standard normals of shape ``(n_trajectories, n_chains, ...)`` (scaled to
    the momenta inside), uniforms of shape ``(n_trajectories, n_rows + 1)``
    (the step-size jitter, then the rows' Metropolis tests), the step size
    and the inverse mass per variable; all random inputs come from
    ``self.rng``, so a seed fixes the draws.

    References
    ----------
    .. [1] Duane, S., Kennedy, A. D., Pendleton, B. J. and Roweth, D. (1987).
       Hybrid Monte Carlo. *Physics Letters B* 195(2), 216-222.
    .. [2] Neal, R. M. (2011). MCMC using Hamiltonian dynamics. In *Handbook of
       Markov Chain Monte Carlo*, chapter 5. Chapman & Hall/CRC.
    .. [3] Beskos, A., Pillai, N. S., Roberts, G. O., Sanz-Serna, J. M. and
       Stuart, A. M. (2010). Optimal tuning of the hybrid Monte Carlo
       algorithm. *Bernoulli* 19(5A), 1501-1534 (arXiv:1001.4460).
    .. [4] Hoffman, M. D. and Gelman, A. (2014). The No-U-Turn sampler.
       *JMLR* 15, 1593-1623.

    Examples
    --------
    >>> import numpy as np, pymc as pm, pymc_ebm
    >>> expert = pymc_ebm.StudentT(W=[[1.0]], alpha=[3.5])
    >>> with pm.Model():
    ...     v = pymc_ebm.visible("v", expert, n_chains=8)
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
    ) -> None:
        if per_row not in (None, True, False):
            raise ValueError(f"per_row must be None, True or False, got {per_row!r}")
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
        # PyMC's dual averaging, with its NUTS settings (gamma, kappa, t0).
        self._initial_step_size = step_size
        self.step_adapt = DualAverageAdaptation(step_size, target_accept, 0.05, 0.75, 10.0)
        self._mass_args = (scaling, bool(is_cov), potential, adapt_mass)
        self._mass_inputs: list[np.ndarray] | None = None
        self._cached_step_sizes: tuple[bool, float, float] | None = None
        self.tune = True
        if initial_point is None:
            initial_point = model.initial_point()
        self._build(model, steps_per_traj, initial_point, compile_kwargs or {}, per_row)

    # -- graph -------------------------------------------------------------
    def _classify_terms(
        self, model: pm.Model, initial_point: PointType
    ) -> tuple[list[TensorVariable], list[TensorVariable], int, str]:
        """Split logp terms into those on the block and the rest; find the rows, if any.

        Returns the block's terms, the other terms, the number of rows
        (0 when the block has no common rows) and why not.
        """
        terms = [pt.as_tensor_variable(t) for t in model.logp(sum=False)]
        block = set(self.vars)
        block_terms, other_terms = [], []
        for term in terms:
            (block_terms if block & set(ancestors([term])) else other_terms).append(term)
        if not block_terms:
            raise ValueError("the model's log density does not depend on the sampled variables")
        leading = {np.shape(initial_point[v.name])[:1] for v in self.vars}
        if len(leading) != 1 or leading == {()}:
            return block_terms, other_terms, 0, "the sampled variables' leading axes differ"
        (n_rows,) = leading.pop()
        if any(t.ndim == 0 for t in block_terms):
            return block_terms, other_terms, 0, "a log density term is a scalar"
        static = [t.type.shape[0] for t in block_terms]
        if None in static:
            inputs = [v for v in model.value_vars if v in set(ancestors(block_terms))]
            # Leading lengths not known statically: evaluate them once, without JIT compilation.
            shape_fn = pytensor.function(
                inputs,
                [t.shape[0] for t in block_terms],
                on_unused_input="ignore",
                mode="FAST_COMPILE",
            )
            static = [
                int(s)
                for s in shape_fn(
                    *[np.asarray(initial_point[v.name], dtype=v.dtype) for v in inputs]
                )
            ]
        if any(s != n_rows for s in static):
            return (
                block_terms,
                other_terms,
                0,
                f"log density terms have leading lengths {sorted(set(static))}, "
                f"not the variables' {n_rows}",
            )
        return block_terms, other_terms, int(n_rows), ""

    def _rows_are_chains(
        self,
        model: pm.Model,
        block_terms: list[TensorVariable],
        n_rows: int,
        why: str,
        initial_point: PointType,
        per_row: bool | None,
    ) -> tuple[bool, str]:
        """Decide between one Metropolis test per row and one joint test."""
        if per_row is False:
            return False, ""
        if n_rows and not registered_rows(model, self.vars):
            potential = -sum(_row_sum(t) for t in block_terms)
            independent, why = rows_are_independent(
                potential, self.vars, model.value_vars, initial_point
            )
            if not independent:
                n_rows = 0
        if per_row and not n_rows:
            raise ValueError(f"per_row=True, but the rows are not independent chains: {why}")
        if not n_rows:
            warnings.warn(
                f"ShortRunHMC uses one joint Metropolis test for the whole block: {why}",
                UserWarning,
                stacklevel=4,
            )
        return bool(n_rows), why

    def _build(
        self,
        model: pm.Model,
        steps_per_traj: int,
        initial_point: PointType,
        compile_kwargs: dict,
        per_row_choice: bool | None,
    ) -> None:
        block_terms, other_terms, n_rows, why = self._classify_terms(model, initial_point)
        per_row, _ = self._rows_are_chains(
            model, block_terms, n_rows, why, initial_point, per_row_choice
        )
        self.per_row = per_row
        self.n_rows = n_rows = n_rows if per_row else 1
        # The mass is per element of one row (shared by the rows), or of the whole joint block.
        self._mass_shapes = [
            np.shape(initial_point[v.name])[1 if per_row else 0 :] for v in self.vars
        ]
        size = sum(int(np.prod(shape)) for shape in self._mass_shapes)
        scaling, is_cov, potential, adapt_mass = self._mass_args
        del self._mass_args  # the potential may hold a generator; keep no reference
        inv_mass, adapt = _inverse_mass(scaling, is_cov, potential, size, per_row)
        self.mass_adapt = DiagMassAdaptation(inv_mass, adapt if adapt_mass is None else adapt_mass)
        inv_mass_in = [
            pt.tensor(f"{v.name}_inv_mass", dtype=v.dtype, shape=shape)
            for v, shape in zip(self.vars, self._mass_shapes, strict=True)
        ]

        def row_sum(x: TensorVariable) -> TensorVariable:
            return _row_sum(x) if per_row else pt.sum(x)[None]

        def row_all_finite(x: TensorVariable) -> TensorVariable:
            finite = pt.isfinite(x)
            if not per_row:
                return pt.all(finite)[None]
            return pt.all(finite, axis=tuple(range(1, x.ndim))) if x.ndim > 1 else finite

        def expand(mask: TensorVariable, x: TensorVariable) -> TensorVariable:
            if not per_row:
                return mask[0]
            return pt.shape_padright(mask, x.ndim - 1)

        # Momenta are carried as velocities v = M⁻¹p (so the leapfrog helper's drift
        # q += εv is unchanged) and gradients as M⁻¹∇U (its kick v -= ε/2 M⁻¹∇U).
        def kinetic(ps: list[TensorVariable]) -> TensorVariable:
            return 0.5 * sum(row_sum(pt.sqr(p) / m) for p, m in zip(ps, inv_mass_in, strict=True))

        def scale(gs: list[TensorVariable]) -> list[TensorVariable]:
            return [m * g for m, g in zip(inv_mass_in, gs, strict=True)]

        potential = -sum(row_sum(t) for t in block_terms)  # (n_rows,)
        grads = pt.grad(pt.sum(potential), self.vars)

        def replace(graphs: list[TensorVariable], qs: list[TensorVariable]) -> list:
            return clone_replace(graphs, replace=dict(zip(self.vars, qs, strict=True)))

        def grad_fn(qs: list[TensorVariable]) -> list[TensorVariable]:
            return scale(replace(grads, qs))

        def energy_and_grad(qs: list[TensorVariable]) -> tuple[TensorVariable, list]:
            # Cloned together, so the forward pass is shared by energy and gradient.
            u, *g = replace([potential, *grads], qs)
            return u, scale(g)

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

        def trajectory(qs, gs, u, p0s, log_u_t, eps):
            """One trajectory from (qs, gs = ∇U(qs), u = U(qs)) with momenta p0s, then the test."""
            half_eps = 0.5 * eps
            q, p, g = qs, p0s, gs
            if steps_per_traj > 1:
                # All steps but the last in a scan (gradient only) ...
                q, p, g = leapfrog_state(
                    q, p, eps, steps_per_traj - 1, grad_fn, initial_grad=g, unroll=False
                )
            # ... and the last one here, where the end energy shares the gradient's forward pass.
            p = [pi - half_eps * gi for pi, gi in zip(p, g, strict=True)]
            q1 = [qi + eps * pi for qi, pi in zip(q, p, strict=True)]
            u1, g1 = energy_and_grad(q1)
            p1 = [pi - half_eps * gi for pi, gi in zip(p, g1, strict=True)]
            delta = u1 + kinetic(p1) - u - kinetic(p0s)
            finite = pt.isfinite(delta)
            for x in (*q1, *g1):
                finite = finite & row_all_finite(x)
            delta_safe = pt.switch(finite, delta, np.inf)
            accept_prob = pt.exp(pt.minimum(0.0, -delta_safe))
            accept = pt.lt(log_u_t, -delta_safe)
            diverging = ~finite | pt.gt(delta_safe, MAX_ENERGY_ERROR)
            q_new = [pt.switch(expand(accept, a), a, b) for a, b in zip(q1, qs, strict=True)]
            g_new = [pt.switch(expand(accept, a), a, b) for a, b in zip(g1, gs, strict=True)]
            u_new = pt.switch(accept, u1, u)
            hamiltonian = pt.switch(accept, u1 + kinetic(p1), u + kinetic(p0s))
            row_stats = [
                accept_prob,
                pt.cast(accept, floatx),
                pt.cast(diverging, "int64"),
                pt.switch(finite, delta, 0.0),
                pt.cast(finite, floatx),
                hamiltonian,
            ]
            return q_new, g_new, u_new, row_stats

        u0, g0 = energy_and_grad(q_in)
        n_vars = len(self.vars)
        # Standard normals ξ to velocities v = M⁻¹p = sqrt(M⁻¹) ξ, p ~ N(0, M).
        v_in = [pt.sqrt(m) * p for m, p in zip(inv_mass_in, p_in, strict=True)]
        if self.n_trajectories == 1:
            qs, _, u, row_stats = trajectory(
                q_in, g0, u0, [v[0] for v in v_in], log_u[0], eps_in[0]
            )
            accept_prob, accepted, diverging, delta, finite, hamiltonian = (
                s[None] for s in row_stats
            )
        else:

            def body(*args):
                p0s = list(args[:n_vars])
                log_u_t, eps = args[n_vars : n_vars + 2]
                qs = list(args[n_vars + 2 : 2 * n_vars + 2])
                gs = list(args[2 * n_vars + 2 : 3 * n_vars + 2])
                u = args[3 * n_vars + 2]
                q_new, g_new, u_new, row_stats = trajectory(qs, gs, u, p0s, log_u_t, eps)
                return [*q_new, *g_new, u_new, *row_stats]

            outs = pytensor.scan(
                body,
                sequences=[*v_in, log_u, eps_in],
                outputs_info=[*q_in, *g0, u0, None, None, None, None, None, None],
                n_steps=self.n_trajectories,
                return_list=True,
                return_updates=False,
                name="short_run_hmc_trajectories",
            )
            qs = [o[-1] for o in outs[:n_vars]]
            u = outs[2 * n_vars][-1]
            accept_prob, accepted, diverging, delta, finite, hamiltonian = outs[2 * n_vars + 1 :]
        n_finite = pt.sum(finite[-1])
        energy_error = pt.switch(
            pt.gt(n_finite, 0), pt.sum(delta[-1]) / pt.maximum(n_finite, 1.0), np.nan
        )
        model_logp = -pt.sum(u)
        if other_terms:
            model_logp = model_logp + sum(pt.sum(t) for t in other_terms)
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
        outputs = [*qs, stats]
        extra = [
            v
            for v in model.value_vars
            if v not in set(self.vars) and v in set(ancestors([*block_terms, *other_terms]))
        ]
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
            self._fn = pm_compile(
                [*q_in, *extra, *p_in, uniforms, step_size_in, *inv_mass_in],
                outputs,
                on_unused_input="ignore",
                **compile_kwargs,
            )
        self._fn.trust_input = True

    # -- sampling ----------------------------------------------------------
    @property
    def step_size(self) -> float:
        """Step size of the next draw (adapted while tuning, averaged after)."""
        return float(self.step_adapt.current(self.tune))

    def step(self, point: PointType) -> tuple[PointType, StatsType]:
        """Draw new values of the block's variables (one compiled call).

        Parameters
        ----------
        point : dict
            Current values of the model's value variables, by name.

        Returns
        -------
        point : dict
            The point with the block's variables replaced.
        stats : list of dict
            One dict with the statistics listed in :attr:`stats_dtypes_shapes`.
        """
        tune = bool(self.tune)
        step_size, step_size_bar = self._step_sizes(tune)
        rng = self.rng
        inputs = [np.asarray(point[name], dtype=dtype) for name, dtype in self._input_dtypes]
        momenta = [rng.standard_normal(shape, dtype=dtype) for shape, dtype in self._momenta]
        if self._shard_rows:
            n = len(self._var_names)
            inputs[:n] = [backends.shard_rows(x, local=True) for x in inputs[:n]]
            momenta = [backends.shard_rows(p, axis=1, local=True) for p in momenta]
        inputs += momenta
        inputs.append(rng.random(self._uniforms_shape, dtype=self._floatx))
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

    @property
    def inv_mass(self) -> np.ndarray:
        """Diagonal inverse mass matrix (PyMC's ``is_cov=True`` scaling), flattened.

        Per element of one row in a per-row test, of the whole block in a joint test.
        """
        return self.mass_adapt.inv_mass.copy()

    def _inverse_mass_inputs(self) -> list[np.ndarray]:
        """The inverse mass split per variable, in the compiled function's dtypes (cached)."""
        if self._mass_inputs is None:
            flat, out = self.mass_adapt.inv_mass, []
            for v, shape in zip(self.vars, self._mass_shapes, strict=True):
                size = int(np.prod(shape))
                out.append(np.asarray(flat[:size].reshape(shape), dtype=v.dtype))
                flat = flat[size:]
            self._mass_inputs = out
        return self._mass_inputs

    def _adapt_mass(self, values: list[np.ndarray]) -> None:
        """Feed a tuning draw to the mass adaptation; on a new mass, restart the step size.

        The dual averaging restarts (as Stan's does) from the current step size
        divided by the width, in the old scaled coordinates, of the narrowest
        direction of the new ones (a width of 1 under a mass that fits),
        since the step size that suits the old mass does not suit the new one.
        """
        if not self.mass_adapt.adapt:
            return
        rows = self.n_rows
        samples = np.concatenate([np.reshape(x, (rows, -1)) for x in values], axis=1)
        old = self.mass_adapt.inv_mass
        if self.mass_adapt.update(samples):
            self._mass_inputs = None
            # The step size is limited by the narrowest direction in the scaled coordinates
            # q / sqrt(M⁻¹), whose widths were about sqrt(new / old) and are now about 1.
            narrowest = np.sqrt(np.min(self.mass_adapt.inv_mass / old))
            self.step_adapt = DualAverageAdaptation(
                self.step_adapt.current(True) / narrowest, self.target_accept, 0.05, 0.75, 10.0
            )
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
        """Restart the adaptation from the initial step size and inverse mass."""
        self.step_adapt = DualAverageAdaptation(
            self._initial_step_size, self.target_accept, 0.05, 0.75, 10.0
        )
        self.mass_adapt.reset()
        self._mass_inputs = None
        self._cached_step_sizes = None

    @staticmethod
    def competence(var: TensorVariable, has_grad: bool) -> Competence:
        """COMPATIBLE for continuous variables with gradients, INCOMPATIBLE otherwise."""
        if var.dtype in continuous_types and has_grad:
            return Competence.COMPATIBLE
        return Competence.INCOMPATIBLE
