"""Annealed importance sampling (AIS) of the log partition function of an energy.

AIS (Neal 2001) moves a batch of independent chains from a normalised base
density ``p₀`` to the unnormalised target ``f(x) = exp(-E(x))`` through the
geometric path ``f_β(x) ∝ p₀(x)^(1-β) f(x)^β``, ``0 = β₀ < β₁ < … < β_T = 1``.
Chain ``i`` starts from an exact draw of ``p₀`` and accumulates the log weight

``log w_i = Σ_t (β_t - β_{t-1}) r(x_{t-1}),   r(x) = -E(x) - log p₀(x)``

where ``x_t`` is the chain after a Markov transition that leaves ``f_{β_t}``
invariant; ``E[w] = Z`` exactly, for any number of temperatures. The
transition is one Hamiltonian Monte Carlo trajectory per chain with a
Metropolis test per chain (the package's HMC kernel,
:func:`~pymc_ebm.step_methods.hmc_kernel.build_kernel`), compiled once with
``β`` and the step size as inputs and applied to the whole
``(n_runs, dim)`` batch at every temperature.

The chains run in whitened coordinates ``z``: ``x = m + L z`` for a Gaussian
base ``N(m, L Lᵀ)`` fitted to data (``p₀`` is then ``N(0, I)`` in ``z``), and
``x = low + (high - low) · sigmoid(z)`` for the uniform base on an energy's
box (``p₀`` is then the standard logistic in ``z``, and the chains never leave
the box). The Jacobian of the map cancels in ``r``.

The step size is tuned, one value per temperature, on a separate pilot run
of fewer chains (towards an acceptance rate of 0.8) and then frozen: the
transitions of the reported chains do not depend on their own states, so
their weights stay independent and unbiased.

References
----------
.. [1] Neal, R. M. (2001). Annealed importance sampling. *Statistics and
   Computing* 11, 125-139.
.. [2] Salakhutdinov, R. and Murray, I. (2008). On the quantitative analysis
   of deep belief networks. *ICML*.
.. [3] Grosse, R. B., Ghahramani, Z. and Adams, R. P. (2015). Sandwiching the
   marginal likelihood using bidirectional Monte Carlo. arXiv:1511.02543
   (the sigmoid schedule).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pytensor
import pytensor.tensor as pt
from pytensor.tensor.variable import TensorVariable
from scipy.special import logsumexp

from pymc_ebm import backends
from pymc_ebm._validation import (
    check_shape,
    finite_float,
    float_array,
    positive_int,
    real_array,
    renamed,
)
from pymc_ebm.energies.base import Energy
from pymc_ebm.progress import ProgressBar
from pymc_ebm.step_methods.hmc_kernel import build_kernel, init, potential_from_fn

__all__ = ["AISRun", "GaussianBase", "UniformBoxBase", "annealed_importance_sampling", "schedule"]

TARGET_ACCEPT = 0.8
"""Acceptance rate the pilot run tunes the step size towards."""
PILOT_WARMUP = 20
"""Transitions at the first temperature that settle the pilot's step size."""
SIGMOID_SHARPNESS = 4.0
"""``δ`` of the sigmoid schedule (Grosse et al. 2015)."""
LOG_2PI = float(np.log(2.0 * np.pi))


# -- base densities, in whitened coordinates z ---------------------------------------------
class GaussianBase:
    """Gaussian base ``N(mean, cov)``, fitted to data with :meth:`fit`; ``x = mean + L z``.

    Parameters
    ----------
    mean : array_like, shape (dim,)
    cov : array_like, shape (dim, dim)
        Symmetric positive definite.
    """

    name = "gaussian"

    def __init__(self, mean: npt.ArrayLike, cov: npt.ArrayLike) -> None:
        self.mean = float_array("mean", mean, ndim=1)
        cov = float_array("cov", cov, ndim=2)
        check_shape("cov", cov, (len(self.mean), len(self.mean)))
        if len(self.mean) < 1:
            raise ValueError("mean must have at least one entry (one per dimension)")
        if not np.allclose(cov, cov.T):
            raise ValueError("the base covariance cov must be symmetric")
        try:
            self.chol = np.linalg.cholesky(cov)
        except np.linalg.LinAlgError as err:
            raise ValueError("the base covariance must be positive definite") from err
        self.dim = self.mean.shape[0]

    @classmethod
    def fit(cls, data: npt.ArrayLike, dim: int) -> GaussianBase:
        """Mean and covariance of ``data`` (shape ``(n, dim)``, ``n >= 2``), with a small ridge.

        The rows must vary along every dimension (centred ``data`` of rank
        ``dim``, judged with each column scaled to unit spread): a singular
        covariance would make the base miss whole directions of the target,
        which the ridge would hide. ``ValueError`` otherwise. The ridge is
        ``1e-6`` of the mean variance, or of each dimension's own variance
        where the mean would swamp it (dimensions of very different spread).
        """
        data = real_array("data", data)
        if data.ndim != 2 or data.shape[1] != dim or data.shape[0] < 2:
            raise ValueError(f"data must have shape (n, {dim}) with n >= 2, got {data.shape}")
        if not np.all(np.isfinite(data)):
            raise ValueError("data must be finite")
        centred = data - data.mean(axis=0)
        spread = np.sqrt(np.mean(centred**2, axis=0))
        rank = int(np.linalg.matrix_rank(centred / np.where(spread > 0, spread, 1.0)))
        if rank < dim:
            raise ValueError(
                f"data must vary along all {dim} dimensions to fit AIS's Gaussian base, but its "
                f"{data.shape[0]} rows span only {rank} (the rank of the centred data): the "
                "base covariance would be singular and AIS confidently wrong; give data that "
                "spans the space (at least dim + 1 rows in general position)"
            )
        cov = np.atleast_2d(np.cov(data, rowvar=False))
        ridge = 1e-6 * max(float(np.trace(cov)) / dim, 1e-12)
        if ridge > 1e-3 * np.min(np.diag(cov)):  # it would swamp a dimension of small spread
            ridge = 1e-6 * np.diag(cov)
        return cls(data.mean(axis=0), cov + np.diag(np.broadcast_to(ridge, (dim,))))

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` exact draws of the base, in ``z``."""
        return rng.standard_normal((n, self.dim))

    def values(self) -> dict[str, np.ndarray]:
        """Numerical values of the symbolic parameters :meth:`to_x` uses."""
        log_det = np.asarray(np.sum(np.log(np.diag(self.chol))))
        return {"mean": self.mean, "chol_t": self.chol.T.copy(), "log_det": log_det}

    def to_x(
        self, z: TensorVariable, params: dict[str, TensorVariable]
    ) -> tuple[TensorVariable, TensorVariable]:
        """``x(z)`` and the base's log density there, ``log p₀(x(z)) = log q₀(z) - log|det L|``.

        ``params`` holds shared variables with :meth:`values` (not constants:
        the compiled graph is the same for all data, and is reused).
        """
        x = params["mean"] + pt.dot(z, params["chol_t"])
        return x, self.log_q0(z) - params["log_det"]

    def log_q0(self, z: TensorVariable) -> TensorVariable:
        """Log density of the base in ``z`` (standard normal), per row."""
        dim = pt.cast(z.shape[1], z.dtype)  # symbolic: one compiled graph for every dim
        return -0.5 * pt.sum(z**2, axis=1) - 0.5 * LOG_2PI * dim


class UniformBoxBase:
    """Uniform base on a box; ``x = low + (high - low) · sigmoid(z)``.

    Parameters
    ----------
    low, high : array_like, shape (dim,)
    """

    name = "uniform"

    def __init__(self, low: npt.ArrayLike, high: npt.ArrayLike) -> None:
        self.low = float_array("low", low, ndim=1)
        high = float_array("high", high, ndim=1)
        check_shape("high", high, self.low.shape)
        if len(self.low) < 1 or np.any(self.low >= high):
            raise ValueError("low must be smaller than high on every dimension (at least one)")
        with np.errstate(over="ignore"):
            self.width = high - self.low
        if not np.all(np.isfinite(self.width)):
            raise ValueError("high - low overflows: the box is too wide")
        self.dim = self.low.shape[0]

    def draw(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` exact draws of the base, in ``z`` (standard logistic)."""
        return rng.logistic(size=(n, self.dim))

    def values(self) -> dict[str, np.ndarray]:
        """Numerical values of the symbolic parameters :meth:`to_x` uses."""
        log_volume = np.asarray(np.sum(np.log(self.width)))
        return {"low": self.low, "width": self.width, "log_volume": log_volume}

    def to_x(
        self, z: TensorVariable, params: dict[str, TensorVariable]
    ) -> tuple[TensorVariable, TensorVariable]:
        """``x(z)`` and the base's log density there, ``log p₀(x(z)) = -log(box volume)``."""
        x = params["low"] + params["width"] * pt.sigmoid(z)
        return x, pt.zeros_like(z[:, 0]) - params["log_volume"]

    def log_q0(self, z: TensorVariable) -> TensorVariable:
        """Log density of the standard logistic in ``z``, per row."""
        return pt.sum(-pt.softplus(z) - pt.softplus(-z), axis=1)


Base = GaussianBase | UniformBoxBase


# -- the schedule -----------------------------------------------------------------------------
def schedule(n_temperatures: int, kind: str = "sigmoid") -> np.ndarray:
    """Inverse temperatures ``0 = β₀ < … < β_T = 1``, shape ``(n_temperatures + 1,)``.

    Parameters
    ----------
    n_temperatures : int
        ``T``, the number of steps along the path (at least 1).
    kind : {"sigmoid", "linear"}
        ``"sigmoid"`` (Grosse et al. 2015, ``δ = 4``) takes smaller steps at
        both ends of the path; ``"linear"`` equal steps.

    Examples
    --------
    >>> from pymc_ebm.evaluation.ais import schedule
    >>> schedule(4, "linear").tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    >>> betas = schedule(4)
    >>> float(betas[0]), float(betas[-1]), bool(betas[2] == 0.5)
    (0.0, 1.0, True)
    """
    n_temperatures = positive_int("n_temperatures", n_temperatures)
    t = np.linspace(0.0, 1.0, n_temperatures + 1)
    if kind == "linear":
        return t
    if kind == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-SIGMOID_SHARPNESS * (2.0 * t - 1.0)))
        return (s - s[0]) / (s[-1] - s[0])
    raise ValueError(f"schedule must be 'sigmoid' or 'linear', got {kind!r}")


# -- the compiled transition ---------------------------------------------------------------
_Compiled = tuple[Callable[..., list[np.ndarray]], Callable[[np.ndarray], np.ndarray], dict]
_CACHE: weakref.WeakKeyDictionary[Energy, dict[tuple[str, int], _Compiled]] = (
    weakref.WeakKeyDictionary()
)
"""Compiled transitions by energy, base kind and trajectory length (the energy's and the
base's parameters are shared variables, so one compilation serves every later call)."""


def _compiled(
    energy: Energy, base: Base, n_leapfrog: int
) -> tuple[Callable[..., list[np.ndarray]], Callable[[np.ndarray], np.ndarray]]:
    """The compiled functions of :func:`_compile`, from the cache, with ``base``'s values set."""
    per_energy = _CACHE.setdefault(energy, {})
    key = (base.name, n_leapfrog)
    if key not in per_energy:
        per_energy[key] = _compile(energy, base, n_leapfrog)
    transition, ratio, params = per_energy[key]
    for name, value in base.values().items():
        params[name].set_value(np.asarray(value, dtype=params[name].dtype))
    return transition, ratio


def _compile(energy: Energy, base: Base, n_leapfrog: int) -> _Compiled:
    """``transition(z, xi, log_u, beta, eps) -> (z', r(z'), accepted)``, ``r(z)``, base params."""
    floatx = pytensor.config.floatX
    params = {
        name: pytensor.shared(np.asarray(value, dtype=floatx), name=f"base.{name}")
        for name, value in base.values().items()
    }

    def log_ratio(z: TensorVariable) -> TensorVariable:
        x, log_p0 = base.to_x(z, params)
        return -energy.energy(x) - log_p0  # r = log f - log p₀, the same in x and in z

    beta = pt.scalar("beta", dtype=floatx)

    def potential(qs: list[TensorVariable]) -> TensorVariable:
        return -base.log_q0(qs[0]) - beta * log_ratio(qs[0])  # U_β(z), per row

    z0 = pt.matrix("z", dtype=floatx)
    xi = pt.matrix("xi", dtype=floatx)
    log_u = pt.vector("log_u", dtype=floatx)
    eps = pt.scalar("eps", dtype=floatx)
    kernel = build_kernel(potential_from_fn(potential), n_steps=n_leapfrog)
    new, info = kernel(init(kernel, [z0]), [xi], log_u, eps)
    z_new = new.position[0]
    transition = backends.function(
        [z0, xi, log_u, beta, eps],
        [z_new, log_ratio(z_new), pt.cast(info.accepted, floatx)],
    )
    transition.trust_input = True
    z_in = pt.matrix("z", dtype=floatx)
    ratio = backends.function([z_in], log_ratio(z_in))
    return transition, ratio, params


@dataclass(frozen=True)
class AISRun:
    """What one AIS run returns (see :func:`annealed_importance_sampling`).

    Attributes
    ----------
    log_weights : ndarray, shape (n_runs,)
        Final log importance weight of each run (``E[exp(log_weights)] = Z``).
    betas : ndarray, shape (n_temperatures + 1,)
        The inverse temperatures.
    step_sizes : ndarray, shape (n_temperatures - 1,)
        Leapfrog step size used at ``β_1 … β_{T-1}`` (the transitions).
    acceptance : ndarray, shape (n_temperatures - 1,)
        Mean acceptance rate of the chains at each transition.
    """

    log_weights: np.ndarray
    betas: np.ndarray
    step_sizes: np.ndarray
    acceptance: np.ndarray


def _anneal(
    transition: Callable[..., list[np.ndarray]],
    ratio: Callable[[np.ndarray], np.ndarray],
    z: np.ndarray,
    betas: np.ndarray,
    step_sizes: np.ndarray | None,
    rng: np.random.Generator,
    bar: ProgressBar,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run the chains ``z`` along ``betas``; tune the step size on the way if none is given.

    Returns the log weights, the step sizes used and the acceptance rates.
    """
    n, dim = z.shape
    n_trans = len(betas) - 2
    tune = step_sizes is None
    eps_used = np.empty(n_trans)
    accept_rate = np.empty(n_trans)
    eps = 0.5 * dim**-0.25

    floatx = pytensor.config.floatX

    def move(z: np.ndarray, beta: float, eps: float) -> tuple[np.ndarray, np.ndarray, float]:
        z, r, accepted = transition(  # trust_input: every argument in floatX
            z,
            rng.standard_normal((n, dim)).astype(floatx),
            np.log(rng.uniform(size=n)).astype(floatx),
            np.asarray(beta, dtype=floatx),
            np.asarray(eps, dtype=floatx),
        )
        return z, r, float(np.mean(accepted))

    z = z.astype(floatx)
    r = ratio(z)
    log_w = np.zeros(n)
    if tune and n_trans > 0:
        for _ in range(PILOT_WARMUP):
            z, r, acc = move(z, betas[1], eps)
            eps *= np.exp(acc - TARGET_ACCEPT)
    acc = float("nan")  # no transition at T = 1
    for t in range(1, len(betas)):
        log_w += (betas[t] - betas[t - 1]) * r
        if t == len(betas) - 1:
            bar.advance(acc)  # the last temperature only adds to the weights
            break
        step = eps if tune else step_sizes[t - 1]
        z, r, acc = move(z, betas[t], step)
        eps_used[t - 1], accept_rate[t - 1] = step, acc
        if tune:
            eps *= np.exp(acc - TARGET_ACCEPT)
        bar.advance(acc)
    return log_w, eps_used, accept_rate


def annealed_importance_sampling(
    energy: Energy,
    base: Base,
    *,
    n_runs: int = 256,
    n_temperatures: int = 1000,
    n_leapfrog: int = 10,
    step_size: float | None = None,
    n_pilot_runs: int | None = None,
    schedule_kind: str = "sigmoid",
    random_seed: int | np.random.Generator | None = None,
    progressbar: bool = True,
    n_chains: int | None = None,
    n_pilot_chains: int | None = None,
) -> AISRun:
    """Annealed importance sampling from ``base`` to ``exp(-E)`` with HMC transitions.

    Prefer :func:`pymc_ebm.log_partition` with ``method="ais"``, which picks
    the base and summarises the weights; this is the engine.

    Parameters
    ----------
    energy : Energy
        The target ``exp(-E(x))``, ``x`` of shape ``(dim,)``.
    base : GaussianBase or UniformBoxBase
        The normalised start of the path.
    n_runs : int, default 256
        Independent annealing runs (chains, one importance weight each).
    n_temperatures : int, default 1000
        ``T``: steps along the path (``T - 1`` HMC transitions).
    n_leapfrog : int, default 10
        Leapfrog steps per HMC trajectory.
    step_size : float, optional
        A fixed leapfrog step size (in whitened coordinates). Default: tuned
        per temperature on a pilot run, then frozen.
    n_pilot_runs : int, optional
        Runs of the pilot that tunes the step size (default ``max(16, n_runs // 4)``).
    schedule_kind : {"sigmoid", "linear"}
        See :func:`schedule`.
    random_seed : int or numpy.random.Generator, optional
        Seeds the base draws, momenta and Metropolis tests.
    progressbar : bool, default True
        Show a rich progress bar over the temperatures (one for the pilot run,
        one for the reported runs), counting ``n_temperatures`` each.
    n_chains, n_pilot_chains : int, optional
        Deprecated spellings of ``n_runs`` and ``n_pilot_runs``.

    Returns
    -------
    AISRun
    """
    if not isinstance(energy, Energy):
        raise TypeError(f"energy must be an Energy, got {type(energy).__name__}")
    if not isinstance(base, GaussianBase | UniformBoxBase):
        raise TypeError(
            f"base must be a GaussianBase or UniformBoxBase, got {type(base).__name__}"
        )
    if base.dim != energy.dim:
        raise ValueError(f"base must have the energy's dim {energy.dim}, got dim {base.dim}")
    n_runs = renamed("n_runs", n_runs, 256, "n_chains", n_chains)
    n_pilot_runs = renamed("n_pilot_runs", n_pilot_runs, None, "n_pilot_chains", n_pilot_chains)
    n_runs = positive_int("n_runs", n_runs)
    n_temperatures = positive_int("n_temperatures", n_temperatures)
    n_leapfrog = positive_int("n_leapfrog", n_leapfrog)
    n_pilot = positive_int(
        "n_pilot_runs", max(16, n_runs // 4) if n_pilot_runs is None else n_pilot_runs
    )
    betas = schedule(n_temperatures, schedule_kind)
    n_trans = n_temperatures - 1
    steps = None
    if step_size is not None:
        step = finite_float("step_size", step_size, low=0.0, low_open=True)
        steps = np.full(n_trans, step)
    rng = np.random.default_rng(random_seed)
    transition, ratio = _compiled(energy, base, n_leapfrog)
    if steps is None:
        label = "AIS pilot temperatures (step size)"
        with ProgressBar(n_temperatures, label, "accept", ".2f", enabled=progressbar) as bar:
            _, steps, _ = _anneal(
                transition, ratio, base.draw(rng, n_pilot), betas, None, rng, bar
            )
    with ProgressBar(
        n_temperatures, "AIS temperatures", "accept", ".2f", enabled=progressbar
    ) as bar:
        log_w, steps, accept = _anneal(
            transition, ratio, base.draw(rng, n_runs), betas, steps, rng, bar
        )
    return AISRun(log_weights=log_w, betas=betas, step_sizes=steps, acceptance=accept)


def summarise_log_weights(log_weights: np.ndarray) -> tuple[float, float, float]:
    """Log-mean-exp of the weights, its delta-method standard error, and the weights' ESS.

    ``log Ẑ = log mean(w)``; ``se(log Ẑ) ≈ sd(w) / (mean(w) √n)`` (delta
    method, ``sd`` with ``ddof=1``); ``ESS = (Σw)² / Σw²``.

    Examples
    --------
    >>> import numpy as np
    >>> from pymc_ebm.evaluation.ais import summarise_log_weights
    >>> log_z, se, ess = summarise_log_weights(np.log([1.0, 1.0, 1.0, 1.0]))
    >>> float(log_z), float(se), float(ess)
    (0.0, 0.0, 4.0)
    """
    log_weights = np.asarray(log_weights, dtype=float)
    n = log_weights.shape[0]
    log_z = float(logsumexp(log_weights) - np.log(n))
    w = np.exp(log_weights - log_weights.max())
    se = float(np.std(w, ddof=1) / (np.mean(w) * np.sqrt(n))) if n > 1 else float("inf")
    ess = float(np.sum(w) ** 2 / np.sum(w**2))
    return log_z, se, ess
