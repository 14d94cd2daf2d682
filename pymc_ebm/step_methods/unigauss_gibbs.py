"""Parallel blocked Gibbs sampling for products of uni-gauss experts.

A product of uni-gauss experts (:class:`~pymc_ebm.UniGauss`) has one binary
hidden state per expert, and both conditionals are available in closed form:

* ``p(h_j = 1 | v) = sigmoid(logit π_j + log N(v; μ_j, σ_j²) + log r)``
  independently for every expert (``r`` is the volume of the box);
* ``p(v | h)`` is the product of the active experts' axis-aligned Gaussians
  (precision ``Σ_j h_j / σ_j²``, precision-weighted mean) restricted to the
  box, i.e. independent truncated normals per dimension, and the uniform
  distribution on the box on a row where no expert is active.

One sweep draws all hidden states at once, then all visibles.
:class:`UniGaussKernel` runs sweeps on plain arrays of shape ``(n, dim)``;
the PyMC step method :class:`UniGaussGibbs` runs the same kernel on the
model's points, and a contrastive-divergence trainer can call the kernel
directly to run ``k`` sweeps on a batch without building points.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pymc as pm
import pytensor
import pytensor.tensor as pt
from pymc.blocking import PointType, StatsType
from pymc.logprob.transforms import IntervalTransform
from pymc.step_methods import STEP_METHODS
from pymc.step_methods.compound import BlockedStep, Competence, StepMethodState
from pymc.util import RandomGenerator, get_random_generator, get_value_vars_from_user_vars
from pytensor.graph.basic import Variable
from scipy.special import log_ndtr, ndtri_exp

from pymc_ebm import backends
from pymc_ebm._validation import positive_int
from pymc_ebm.energies.unigauss import UniGauss
from pymc_ebm.model.registration import energy_of, partner_of, role_of
from pymc_ebm.model.terms import (
    energy_potential,
    from_box,
    model_of,
    other_terms,
    resolve,
    to_box,
)
from pymc_ebm.step_methods.copying import ModelFreeCopy
from pymc_ebm.step_methods.untuned import UntunedStep, accepted_vars

__all__ = ["UniGaussGibbs", "UniGaussKernel", "sample_visible"]


def _left_truncated_standard_normal(lo: np.ndarray, hi: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw from ``N(0, 1)`` truncated to ``[lo, hi]`` with ``lo + hi <= 0``.

    The interval lies mostly left of 0, where ``log Φ`` is accurate however
    far in the tail, so ``p = Φ(lo) + u (Φ(hi) - Φ(lo))`` is formed in log
    space, ``log p = log Φ(hi) + log(e + u (1 - e))`` with
    ``e = Φ(lo) / Φ(hi)``, and inverted with ``ndtri_exp``.
    """
    log_hi = log_ndtr(hi)
    e = np.exp(log_ndtr(lo) - log_hi)
    return np.minimum(np.maximum(ndtri_exp(log_hi + np.log(e + u * (1.0 - e))), lo), hi)


_JUMP_UNIFORM_WEIGHT = 0.1


def _log_jump_density(
    x: np.ndarray, mu: np.ndarray, sigma: np.ndarray, low: float, high: float
) -> np.ndarray:
    """Log density of the mode-jump proposal along one dimension, shape ``(n,)``."""
    z = (x[:, None] - mu[None, :]) / sigma[None, :]
    log_normal = -0.5 * z**2 - np.log(sigma)[None, :] - 0.5 * np.log(2 * np.pi)
    log_mixture = np.logaddexp.reduce(log_normal, axis=1) - np.log(len(mu))
    inside = (x > low) & (x < high)
    log_uniform = np.where(inside, -np.log(high - low), -np.inf)
    return np.logaddexp(
        np.log(_JUMP_UNIFORM_WEIGHT) + log_uniform, np.log1p(-_JUMP_UNIFORM_WEIGHT) + log_mixture
    )


def sample_visible(
    h: npt.ArrayLike,
    mu: np.ndarray,
    log_sigma: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Draw visibles from the product of the active experts' Gaussians on the box.

    Per row and dimension, the active Gaussians multiply into a Gaussian with
    precision ``P = Σ_j h_j / σ_j²`` and mean ``m = Σ_j h_j μ_j / σ_j² / P``,
    truncated to ``[low, high]``; a row with no active expert is uniform on
    the box. The truncated normal is drawn by inverse-CDF sampling after
    reflecting ``m`` about the box centre ``c`` when ``m < c`` (symmetry
    trick), so that the standardised interval lies mostly left of 0 and the
    draw stays exact in log space even when the box is far in a tail of the
    Gaussian.

    Parameters
    ----------
    h : array_like, shape (n, n_experts)
        Binary hidden states (bool, int or float 0/1).
    mu, log_sigma : ndarray, shape (n_experts, dim)
        Means and log standard deviations of the experts' Gaussians.
    low, high : ndarray, shape (dim,)
        The box.
    rng : numpy.random.Generator
        Uses ``rng.random((n, dim))``.

    Returns
    -------
    ndarray, shape (n, dim)
        Strictly inside the box.
    """
    dim = mu.shape[1]
    prec = np.exp(-2.0 * log_sigma)
    sums = np.asarray(h, dtype=prec.dtype) @ np.concatenate((prec, mu * prec), axis=1)
    total_prec = sums[:, :dim]
    u = rng.random(total_prec.shape)
    active = total_prec > 0
    safe_prec = np.where(active, total_prec, 1.0)
    root_prec = np.sqrt(safe_prec)
    centre = 0.5 * (low + high)
    half = 0.5 * (high - low)
    offset = sums[:, dim:] / safe_prec - centre  # mean - centre
    dist = np.abs(offset)
    # Reflected so that the mean is right of the centre: interval [lo, hi], lo + hi <= 0.
    z = _left_truncated_standard_normal((-half - dist) * root_prec, (half - dist) * root_prec, u)
    reflected = centre + (dist + z / root_prec) * np.copysign(1.0, offset)
    v = np.where(active, reflected, low + 2.0 * half * u)
    # Rounding can land exactly on a bound, where the interval transform is infinite.
    return np.minimum(np.maximum(v, np.nextafter(low, high)), np.nextafter(high, low))


class UniGaussKernel:
    """Blocked Gibbs kernel of a :class:`~pymc_ebm.UniGauss` energy on NumPy arrays.

    The code :class:`UniGaussGibbs` runs, usable directly on a batch (e.g. by
    a contrastive-divergence trainer running ``k`` sweeps) without PyMC
    points. The hidden posteriors come from a PyTensor function compiled
    (lazily, once) from the energy's own ``hidden_logits`` graph, which reads
    the shared parameters, so in-place updates are seen at once; the visibles
    are drawn in NumPy/SciPy from the parameter values read with
    ``get_value(borrow=True)`` at every call.

    Parameters
    ----------
    energy : UniGauss
        The energy.
    compile_kwargs : dict, optional
        Extra keyword arguments of ``pytensor.function``.

    Examples
    --------
    >>> import numpy as np, pymc_ebm
    >>> from pymc_ebm.step_methods import UniGaussKernel
    >>> experts = pymc_ebm.UniGauss(np.full((15, 2), 0.5), np.full((15, 2), 0.1), np.full(15, 0.5))
    >>> kernel = UniGaussKernel(experts)
    >>> rng = np.random.default_rng(0)
    >>> v, h = kernel.sweep(rng.random((100, 2)), rng, n_sweeps=5)
    >>> v.shape, h.shape, h.dtype
    ((100, 2), (100, 15), dtype('bool'))
    """

    def __init__(self, energy: UniGauss, compile_kwargs: dict[str, Any] | None = None) -> None:
        if not isinstance(energy, UniGauss):
            raise TypeError(f"energy must be a UniGauss, got {type(energy).__name__}")
        self.energy = energy
        self.compile_kwargs = backends.compile_kwargs(compile_kwargs)
        self._prob_fn: Any = None
        self._free_energy_fn: Any = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_prob_fn"] = None  # recompiled (from the cache) where it is unpickled
        state["_free_energy_fn"] = None
        return state

    def hidden_probabilities(self, v: npt.ArrayLike) -> np.ndarray:
        """Exact posterior ``p(h_j = 1 | v) = sigmoid(energy.hidden_logits(v))``.

        Parameters
        ----------
        v : array_like, shape (n, dim)
            Visible vectors inside the box.

        Returns
        -------
        ndarray, shape (n, n_experts)
        """
        if self._prob_fn is None:
            x = pt.matrix("v", dtype=pytensor.config.floatX)
            self._prob_fn = backends.function(
                [x], pt.sigmoid(self.energy.hidden_logits(x)), **self.compile_kwargs
            )
            self._prob_fn.trust_input = True
        return self._prob_fn(np.asarray(v, dtype=pytensor.config.floatX))

    def free_energy(self, v: np.ndarray) -> np.ndarray:
        """Free energy ``F(v)`` of each row, shape ``(n,)`` (``+inf`` outside the box)."""
        if self._free_energy_fn is None:
            x = pt.matrix("v", dtype=pytensor.config.floatX)
            self._free_energy_fn = backends.function(
                [x], self.energy.energy(x), **self.compile_kwargs
            )
            self._free_energy_fn.trust_input = True
        low, high = self.energy.domain
        inside = np.all((v > low) & (v < high), axis=1)
        values = self._free_energy_fn(np.asarray(v, dtype=pytensor.config.floatX))
        return np.where(inside, values, np.inf)

    def jump(self, v: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, float]:
        """Mode-jumping Metropolis move on ``v`` with the hidden states summed out.

        For each dimension ``d`` in turn, every row proposes a new ``v_d``
        independently of its current value, from the mixture of the experts'
        one-dimensional Gaussians ``N(μ_jd, σ_jd)`` (equal weights, 90 %) and
        the uniform on ``[low_d, high_d]`` (10 %), and accepts it with the
        Metropolis-Hastings probability
        ``min(1, exp(F(v) - F(v')) q(v_d) / q(v'_d))``. The move leaves ``p(v)``
        invariant and lets a row leave a sharp mode in one step, which plain
        blocked Gibbs does only rarely when the experts are sharp.

        Parameters
        ----------
        v : ndarray, shape (n, dim)
            Current visibles, inside the box.
        rng : numpy.random.Generator
            Uses ``rng.integers``, ``rng.standard_normal`` and ``rng.random``.

        Returns
        -------
        v : ndarray, shape (n, dim)
        acceptance : float
            Fraction of accepted proposals over rows and dimensions.
        """
        energy = self.energy
        mu = energy.mu.get_value(borrow=True)
        sigma = np.exp(energy.log_sigma.get_value(borrow=True))
        low, high = energy.domain
        n, dim = v.shape
        n_experts = mu.shape[0]
        v = np.array(v, dtype=float)
        current = self.free_energy(v)
        accepted = 0
        for d in range(dim):
            pick = rng.integers(n_experts, size=n)
            uniform = rng.random(n) < _JUMP_UNIFORM_WEIGHT
            proposal = np.where(
                uniform,
                low[d] + (high[d] - low[d]) * rng.random(n),
                mu[pick, d] + sigma[pick, d] * rng.standard_normal(n),
            )
            log_q_new = _log_jump_density(proposal, mu[:, d], sigma[:, d], low[d], high[d])
            log_q_old = _log_jump_density(v[:, d], mu[:, d], sigma[:, d], low[d], high[d])
            moved = v.copy()
            moved[:, d] = proposal
            new = self.free_energy(moved)
            with np.errstate(invalid="ignore"):
                log_ratio = current - new + log_q_old - log_q_new
            accept = np.log(rng.random(n)) < np.where(np.isfinite(new), log_ratio, -np.inf)
            v[accept, d] = proposal[accept]
            current = np.where(accept, new, current)
            accepted += int(accept.sum())
        return v, accepted / (n * dim)

    def sample_hidden(self, v: npt.ArrayLike, rng: np.random.Generator) -> np.ndarray:
        """Draw every hidden state from its exact posterior given ``v``.

        Parameters
        ----------
        v : array_like, shape (n, dim)
            Visible vectors inside the box.
        rng : numpy.random.Generator
            Uses ``rng.random((n, n_experts))``.

        Returns
        -------
        ndarray of bool, shape (n, n_experts)
            True where the expert uses its Gaussian.
        """
        prob = self.hidden_probabilities(v)
        return rng.random(prob.shape) < prob

    def sample_visible(self, h: npt.ArrayLike, rng: np.random.Generator) -> np.ndarray:
        """Draw the visibles given the hidden states (see :func:`sample_visible`).

        Parameters
        ----------
        h : array_like, shape (n, n_experts)
            Binary hidden states.
        rng : numpy.random.Generator
            Uses ``rng.random((n, dim))``.

        Returns
        -------
        ndarray, shape (n, dim)
        """
        energy = self.energy
        low, high = energy.domain
        return sample_visible(
            h,
            energy.mu.get_value(borrow=True),
            energy.log_sigma.get_value(borrow=True),
            low,
            high,
            rng,
        )

    def sweep(
        self, v: npt.ArrayLike, rng: np.random.Generator, n_sweeps: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        """Run blocked Gibbs sweeps: all hidden states given ``v``, then all visibles.

        Parameters
        ----------
        v : array_like, shape (n, dim)
            Starting visibles, inside the box.
        rng : numpy.random.Generator
            Source of all randomness.
        n_sweeps : int, default 1
            Number of sweeps.

        Returns
        -------
        v : ndarray, shape (n, dim)
            The visibles after the last sweep.
        h : ndarray of bool, shape (n, n_experts)
            The hidden states the last visibles were drawn from.
        """
        for _ in range(positive_int("n_sweeps", n_sweeps)):
            h = self.sample_hidden(v, rng)
            v = self.sample_visible(h, rng)
        return v, h


# -- the step method ---------------------------------------------------------


class _Group(NamedTuple):
    """One visible variable and what the step does with it and its hidden states."""

    kernel: UniGaussKernel
    v_name: str
    h_name: str | None  # value name of the hidden states, when the model has them
    interval: bool  # v's value is interval-transformed
    update_v: bool
    update_h: bool


class UniGaussGibbs(UntunedStep, ModelFreeCopy, BlockedStep):
    """Parallel blocked Gibbs sampler for products of uni-gauss experts.

    For a visible variable made by :func:`pymc_ebm.visible` over a
    :class:`~pymc_ebm.UniGauss` energy and its hidden states made by
    :func:`pymc_ebm.hidden`, one step draws every hidden state from its exact
    posterior ``p(h | v)`` (independent Bernoullis), then every visible from
    ``p(v | h)`` (independent truncated normals per row and dimension, from
    the product of the active Gaussians; uniform on the box where no expert
    is active). Both conditionals are exact, so nothing is ever rejected.

    Which conditionals are drawn depends on the variables given:

    * ``v`` and ``h``: a full sweep, ``h | v`` then ``v | h``;
    * ``v`` alone, in a model without hidden states: ``h`` is drawn and
      discarded (data augmentation, a valid kernel for ``p(v)``);
    * ``v`` alone, in a model with hidden states: ``v | h`` only;
    * ``h`` alone: ``h | v`` only.

    The energy's parameters are read at every step, so updates made in place
    between steps (by a trainer) are used at once. All randomness comes from
    the step's own generator, which ``pm.sample`` resets for every chain.

    Parameters
    ----------
    vars : list of TensorVariable, optional
        Visible and hidden variables (random or value variables) registered
        over uni-gauss energies. Defaults to every variable of the model the
        step can sample exactly (see Notes).
    model : pm.Model, optional
        Defaults to the model on the context stack.
    rng : RandomGenerator, optional
        Seed or generator, see :func:`pymc.util.get_random_generator`.
    initial_point : dict, optional
        Unused (accepted for ``pm.sample``).
    compile_kwargs : dict, optional
        Extra keyword arguments of ``pytensor.function`` for the hidden
        posteriors (see :class:`UniGaussKernel`).
    blocked : bool, default True
        With ``False`` and several variables, PyMC builds one step per variable
        (``v | h`` and ``h | v`` as separate Gibbs updates).
    mode_jumps : bool, default True
        Before each sweep that draws ``h | v``, make a mode-jumping Metropolis
        move on ``v`` with ``h`` summed out (:meth:`UniGaussKernel.jump`): blocked
        Gibbs alone leaves a sharp mode only rarely, the jump lets rows move
        between modes in one step. ``False`` gives the plain blocked Gibbs
        chain (what contrastive divergence uses by default).

    Attributes
    ----------
    vars : list of TensorVariable
        The value variables the step updates (``v`` as ``{name}_interval__``,
        shape ``(n_particles, dim)``; ``h`` of shape ``(n_particles, n_experts)``).

    Notes
    -----
    Sampler statistics, one value of each per draw:

    ``tune`` (bool)
        True while the draw is a tuning draw (nothing is tuned; PyMC uses it
        to separate warm-up from the kept draws).
    ``active_experts`` (float64)
        Number of active experts (``h_j = 1``) per row, averaged over rows
        (and over the visible variables of the step), in the hidden states
        the step used: those drawn from ``p(h | v)``, or the point's states
        when only ``v`` is updated.
    ``jump_accept`` (float64)
        Fraction of the mode-jump proposals accepted in this step, over rows
        and dimensions (averaged over the step's visible variables); ``NaN``
        when the step made no jump (``mode_jumps=False``, or no ``h | v``
        draw: ``h`` alone, or ``v`` alone in a model with hidden states).

    ``competence`` is ``IDEAL`` exactly for the variables the constructor
    accepts (one check, ``_refusal_reason``, serves both), and importing
    :mod:`pymc_ebm` puts this class first in ``pymc.step_methods.STEP_METHODS``,
    so plain ``pm.sample()`` picks it for both ``v`` and ``h`` (one instance
    over both). The step refuses a model in which another term depends on
    ``v`` or ``h`` (its conditionals would no longer be exact), a visible
    whose hidden states are not free, or a visible with another transform
    than the interval one; ``pm.sample()`` then uses PyMC's own steps (NUTS,
    ``BinaryGibbsMetropolis``) for those variables.

    References
    ----------
    .. [1] Hinton, G. E. (2002). Training products of experts by minimizing
       contrastive divergence. *Neural Computation*, 14(8), 1771-1800.
    .. [2] Geman, S. and Geman, D. (1984). Stochastic relaxation, Gibbs
       distributions, and the Bayesian restoration of images. *IEEE TPAMI*, 6,
       721-741.
    .. [3] Tanner, M. A. and Wong, W. H. (1987). The calculation of posterior
       distributions by data augmentation. *JASA*, 82(398), 528-540.

    Examples
    --------
    >>> import numpy as np, pymc as pm, pymc_ebm
    >>> experts = pymc_ebm.UniGauss(
    ...     mu=[[0.3, 0.5], [0.7, 0.5]], sigma=np.full((2, 2), 0.1), pi=[0.5, 0.5]
    ... )
    >>> with pm.Model() as model:
    ...     v = pymc_ebm.visible("v", experts, n_particles=10)
    ...     h = pymc_ebm.hidden("h", experts, v)
    ...     step = pymc_ebm.UniGaussGibbs([v, h], rng=0)
    >>> point = model.initial_point()
    >>> new_point, stats = step.step(point)
    >>> new_point["v_interval__"].shape, new_point["h"].shape
    ((10, 2), (10, 2))
    >>> sorted(stats[0])
    ['active_experts', 'jump_accept', 'tune']
    """

    name = "unigauss_gibbs"
    stats_dtypes_shapes = {
        "tune": (bool, []),
        "active_experts": (np.float64, []),
        "jump_accept": (np.float64, []),
    }
    _state_class = StepMethodState

    def __init__(
        self,
        vars: Sequence[Variable] | Variable | None = None,
        *,
        model: pm.Model | None = None,
        rng: RandomGenerator = None,
        initial_point: PointType | None = None,
        compile_kwargs: dict | None = None,
        blocked: bool = True,
        mode_jumps: bool = True,
    ) -> None:
        model = pm.modelcontext(model)
        self.mode_jumps = bool(mode_jumps)
        vars = accepted_vars(model, vars, _refusal_reason, "UniGaussGibbs")
        self.vars = get_value_vars_from_user_vars(vars, model)
        self.groups = _make_groups(model, self.vars, compile_kwargs)
        self.blocked = blocked
        self.rng = get_random_generator(rng)
        self.tune = True

    def step(self, point: PointType) -> tuple[PointType, StatsType]:
        """One sweep over every group of variables; returns a new point."""
        new = dict(point)
        n_active = 0.0
        n_rows = 0
        jump_accepted = 0.0
        n_jumps = 0
        for group in self.groups:
            kernel = group.kernel
            low, high = kernel.energy.domain
            value = point[group.v_name]
            v = to_box(value, low, high) if group.interval else value
            if self.mode_jumps and group.update_v and (group.update_h or group.h_name is None):
                v, accept = kernel.jump(v, self.rng)
                jump_accepted += accept
                n_jumps += 1
            if group.update_h or group.h_name is None:
                h = kernel.sample_hidden(v, self.rng)
                if group.update_h:
                    new[group.h_name] = h.astype(point[group.h_name].dtype)
            else:
                h = point[group.h_name]
            if group.update_v:
                x = kernel.sample_visible(h, self.rng)
                x = from_box(x, low, high) if group.interval else x
                new[group.v_name] = x.astype(value.dtype, copy=False)
            n_active += float(np.count_nonzero(h))
            n_rows += h.shape[0]
        stats = {
            "tune": bool(self.tune),
            "active_experts": n_active / n_rows,
            "jump_accept": jump_accepted / n_jumps if n_jumps else np.nan,
        }
        return new, [stats]

    @staticmethod
    def competence(var: Variable, has_grad: bool = False) -> Competence:
        """``IDEAL`` exactly where the constructor accepts ``var``, else ``INCOMPATIBLE``.

        PyMC passes the random variable only: the model is found by
        :func:`pymc_ebm.model.terms.model_of` (the one on the context stack,
        or the one ``var`` was registered in, so ``pm.sample(model=model)``
        needs no ``with model:``). Where no model holding ``var`` is found
        the answer is ``INCOMPATIBLE`` (PyMC then uses its own exact steps).
        """
        if not isinstance(energy_of(var), UniGauss) or role_of(var) not in ("visible", "hidden"):
            return Competence.INCOMPATIBLE
        model = model_of(var)
        if model is None or _refusal_reason(model, var) is not None:
            return Competence.INCOMPATIBLE
        return Competence.IDEAL


def _visible_and_hidden(model: pm.Model, rv: Variable) -> tuple[Variable | None, Variable | None]:
    """The model's visible variable of ``rv`` (a visible or hidden variable) and its hidden one."""
    v = rv if role_of(rv) == "visible" else resolve(model, partner_of(rv))
    if v is None:
        return None, None
    return v, resolve(model, partner_of(v))


def _refusal_reason(model: pm.Model, rv: Variable) -> str | None:
    """Why :class:`UniGaussGibbs` cannot sample ``rv`` in ``model``; ``None`` when it can.

    The one check behind both ``UniGaussGibbs.competence`` and its
    constructor, so that ``pm.sample`` never assigns the step to a variable
    the constructor then refuses. The step is exact only for a free visible
    variable registered over a :class:`~pymc_ebm.UniGauss` energy (interval
    transform or none), with its hidden states free (when it has any), and
    no model term other than the registered energy depending on either.
    """
    if not isinstance(energy_of(rv), UniGauss) or role_of(rv) not in ("visible", "hidden"):
        return (
            f"UniGaussGibbs can only sample variables registered by pymc_ebm.visible or "
            f"pymc_ebm.hidden over a UniGauss energy, got {rv.name!r}"
        )
    if rv not in model.free_RVs:
        return f"{rv.name!r} is not a free variable of the model"
    v, h = _visible_and_hidden(model, rv)
    if v is None or role_of(v) != "visible" or energy_of(v) is not energy_of(rv):
        return f"the visible variable of {rv.name!r} is not in the model"
    if v not in model.free_RVs:
        return f"the visible variable {v.name!r} is not a free variable of the model"
    if partner_of(v) is not None and (h is None or h not in model.free_RVs):
        return f"the hidden variable of {v.name!r} is not a free variable of the model"
    if role_of(rv) == "hidden" and h is not rv:
        return f"{rv.name!r} is not the hidden variable of {v.name!r}"
    transform = model.rvs_to_transforms.get(v)
    if transform is not None and not isinstance(transform, IntervalTransform):
        return (
            f"UniGaussGibbs needs the visible {v.name!r} to use the interval transform "
            f"(or none), got {type(transform).__name__}"
        )
    potential = energy_potential(model, v)
    if potential is None:
        return f"the energy potential of {v.name!r} is not in the model"
    other = other_terms(model, {v} if h is None else {v, h}, exclude={potential})
    if other:
        return (
            f"UniGaussGibbs draws exact conditionals of the uni-gauss energy only, but "
            f"{other[0]!r} also depends on {v.name!r}" + ("" if h is None else f" or {h.name!r}")
        )
    return None


def _make_groups(
    model: pm.Model, value_vars: list[Variable], compile_kwargs: dict | None
) -> list[_Group]:
    """Pair each visible with its hidden states, refusing what :func:`_refusal_reason` refuses."""
    rvs = [model.values_to_rvs[value] for value in value_vars]
    for rv in rvs:
        reason = _refusal_reason(model, rv)
        if reason is not None:
            raise ValueError(reason)
    visibles: list[Variable] = []
    for rv in rvs:
        v, _ = _visible_and_hidden(model, rv)
        if v not in visibles:
            visibles.append(v)
    groups = []
    for v in visibles:
        _, h = _visible_and_hidden(model, v)
        groups.append(
            _Group(
                kernel=UniGaussKernel(energy_of(v), compile_kwargs),
                v_name=model.rvs_to_values[v].name,
                h_name=None if h is None else model.rvs_to_values[h].name,
                interval=model.rvs_to_transforms.get(v) is not None,
                update_v=v in rvs,
                update_h=h is not None and h in rvs,
            )
        )
    return groups


def register() -> None:
    """Put :class:`UniGaussGibbs` first in PyMC's step-method list (idempotent).

    ``pm.sample`` keeps the first of equally competent step methods, so this
    makes it win over ``BinaryGibbsMetropolis`` and NUTS for uni-gauss models.
    """
    for i in reversed(range(len(STEP_METHODS))):
        if getattr(STEP_METHODS[i], "__qualname__", None) == UniGaussGibbs.__qualname__ and (
            STEP_METHODS[i].__module__ == UniGaussGibbs.__module__
        ):
            del STEP_METHODS[i]
    STEP_METHODS.insert(0, UniGaussGibbs)


register()
