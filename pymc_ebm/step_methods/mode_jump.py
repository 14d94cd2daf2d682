"""Independence Metropolis jumps between the modes of each row's conditional density.

Imputing a few missing entries per row from an energy of the lecture's kind
gives each row a low-dimensional posterior with several isolated modes (a
missing end joint of the arm can sit on either side of its neighbour; a heavy
tailed constraint keeps a local mode where it is badly violated). Gradient
samplers stay in the mode they start in. :class:`ModeJump` finds the modes of
every row once, by local optimisation from many starts, and then proposes
draws from a fixed mixture of Gaussians (Laplace approximations at the modes,
widened) as an independence Metropolis step. Used with NUTS in one compound
step, the chain moves between modes with the right masses.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pymc as pm
import pytensor.tensor as pt
from pymc.step_methods.compound import BlockedStep, Competence, StepMethodState
from pymc.util import get_random_generator, get_value_vars_from_user_vars
from pytensor.graph.traversal import ancestors
from scipy import optimize
from scipy.special import logsumexp

from pymc_ebm import backends
from pymc_ebm._validation import finite_float, positive_int
from pymc_ebm.model.terms import row_log_density, rows_are_independent
from pymc_ebm.step_methods.copying import ModelFreeCopy
from pymc_ebm.step_methods.untuned import UntunedStep

__all__ = ["ModeJump"]


class ModeJump(UntunedStep, ModelFreeCopy, BlockedStep):
    """Jumps between the modes of each row: independence Metropolis from a Laplace mixture.

    For a variable of shape ``(n_rows, width)`` whose rows are independent
    (row ``i`` of the log density depends on row ``i`` only, such as the
    missing entries ``f"{name}_missing"`` that :func:`pymc_ebm.visible` makes
    from data with ``NaN``), the constructor runs L-BFGS from ``n_starts``
    random starts, keeps each row's distinct local maxima of the log density
    and fits a Gaussian to each (the inverse Hessian, from finite differences
    of the gradient, its standard deviations multiplied by ``inflation``).
    Every step then proposes, per row, a draw ``x'`` from the row's mixture
    ``q`` and accepts it with probability
    ``min(1, p(x') q(x) / (p(x) q(x')))``. The proposal does not depend on the
    current state, so the step leaves every row's density invariant whatever
    modes were found; finding them all only makes it efficient. It does not
    move within a mode well: use it with NUTS in one compound step.

    Parameters
    ----------
    vars : list of TensorVariable
        One untransformed continuous variable of shape ``(n_rows, width)``.
    n_starts : int, default 32
        Random starts per row for the mode search (the initial point is one more).
    scale : float or array_like, shape (n_rows, width), default 1.0
        Standard deviation of the random starts around the initial point.
    inflation : float, default 1.5
        Factor on the Laplace standard deviations of each mixture component
        (heavier than the modes, so that the proposal covers them).
    max_modes : int, default 8
        At most this many modes per row (the highest).
    model, rng, initial_point, compile_kwargs, blocked
        As for PyMC's step methods.

    Attributes
    ----------
    modes : ndarray, shape (n_rows, max_found, width)
        The modes found (rows with fewer are padded with their first mode).
    log_weights : ndarray, shape (n_rows, max_found)
        Log mixture weights (``-inf`` for padding): half by each mode's
        Laplace mass, half shared equally, so no mode found is starved.

    Raises
    ------
    ValueError
        A variable that is not one untransformed matrix, rows that are not
        independent, or bad settings.

    Notes
    -----
    Statistics per draw: ``tune`` and ``jump_accept`` (the share of rows
    whose proposal was accepted).

    Examples
    --------
    A missing entry whose conditional density has two modes, at ``±1``:

    >>> import numpy as np, pymc as pm, pymc_ebm
    >>> link = pymc_ebm.FASConstraints([[1.0, -1.0]], [[1.0]], [-1.0], [20.0])
    >>> observed = np.array([[0.0, np.nan]] * 4)
    >>> with pm.Model() as model:
    ...     x = pymc_ebm.visible("x", link * pymc_ebm.Gaussian([[0.0, 0.0]], [[3.0, 3.0]]),
    ...                          observed=observed)
    ...     step = pymc_ebm.ModeJump([model["x_missing"]], scale=2.0, rng=0)
    >>> np.sort(step.modes[0, :, 0].round(2)).tolist()
    [-1.0, 1.0]
    """

    name = "mode_jump"
    stats_dtypes_shapes = {"tune": (bool, []), "jump_accept": (np.float64, [])}
    _state_class = StepMethodState
    _recompiled = ("_logp_fn",)

    def __init__(
        self,
        vars: list,
        *,
        n_starts: int = 32,
        scale: float | npt.ArrayLike = 1.0,
        inflation: float = 1.5,
        max_modes: int = 8,
        model: pm.Model | None = None,
        rng: Any = None,
        initial_point: dict | None = None,
        compile_kwargs: dict | None = None,
        blocked: bool = True,
    ) -> None:
        model = pm.modelcontext(model)
        n_starts = positive_int("n_starts", n_starts)
        max_modes = positive_int("max_modes", max_modes)
        self.inflation = finite_float("inflation", inflation, low=0.0, low_open=True)
        self.vars = get_value_vars_from_user_vars(vars, model)
        if (
            len(self.vars) != 1
            or self.vars[0].ndim != 2
            or model.rvs_to_transforms.get(model.values_to_rvs[self.vars[0]])
        ):
            raise ValueError("ModeJump takes one untransformed variable of shape (n_rows, width)")
        value = self.vars[0]
        point = dict(initial_point or model.initial_point())
        start = np.asarray(point[value.name], dtype=float)
        scale = np.broadcast_to(np.asarray(scale, dtype=float), start.shape)
        if not np.all(np.isfinite(scale) & (scale > 0)):
            raise ValueError(f"scale must be positive and finite, shape {start.shape}")
        row_logp = row_log_density(model, value)
        independent, why = rows_are_independent(-row_logp, [value], model.value_vars, point)
        if not independent:
            raise ValueError(f"ModeJump needs rows that are independent chains: {why}")
        self._inputs = [v for v in model.value_vars if v in set(ancestors([row_logp]))]
        self._others = {v.name: point[v.name] for v in self._inputs if v is not value}
        self._graph = (self._inputs, [row_logp, pt.grad(pt.sum(row_logp), value)])
        self._compile_kwargs = backends.compile_kwargs(compile_kwargs)
        self._logp_fn: Any = None
        self.value_name = value.name
        self.blocked = blocked
        self.rng = get_random_generator(rng)
        self.tune = True
        self._search_options = {"maxiter": 1000, "gtol": 1e-7}
        self.search_iterations = 0
        self._find_modes(start, scale, n_starts, max_modes)

    # -- the compiled row density ------------------------------------------------
    def _logp_and_grad(self, x: np.ndarray, others: dict | None = None) -> tuple:
        """Per-row log density ``(n_rows,)`` and its gradient ``(n_rows, width)``."""
        if self._logp_fn is None:
            self._logp_fn = backends.function(*self._graph, **self._compile_kwargs)
        values = others or self._others
        args = [x if v.name == self.value_name else values[v.name] for v in self._inputs]
        logp, grad = self._logp_fn(*args)
        return np.asarray(logp, dtype=float), np.asarray(grad, dtype=float)

    # -- the mode search ---------------------------------------------------------
    def _maximise(self, start: np.ndarray) -> np.ndarray:
        """Each row's local maximum from ``start`` (rows are independent: one joint L-BFGS)."""
        shape = start.shape

        def objective(flat: np.ndarray) -> tuple[float, np.ndarray]:
            logp, grad = self._logp_and_grad(flat.reshape(shape))
            if not np.all(np.isfinite(logp)):
                return np.inf, np.zeros(flat.size)
            return -float(logp.sum()), -grad.ravel()

        result = optimize.minimize(
            objective, start.ravel(), jac=True, method="L-BFGS-B", options=self._search_options
        )
        self.search_iterations += result.nit
        return result.x.reshape(shape)

    def _hessians(self, x: np.ndarray) -> np.ndarray:
        """Per-row Hessians of minus the log density, shape ``(n_rows, width, width)``."""
        n_rows, width = x.shape
        step = 1e-5 * np.maximum(1.0, np.abs(x))
        hess = np.empty((n_rows, width, width))
        for slot in range(width):
            shift = np.zeros_like(x)
            shift[:, slot] = step[:, slot]
            _, up = self._logp_and_grad(x + shift)
            _, down = self._logp_and_grad(x - shift)
            hess[:, :, slot] = -(up - down) / (2.0 * step[:, slot, None])
        return 0.5 * (hess + np.swapaxes(hess, 1, 2))

    def _find_modes(
        self, start: np.ndarray, scale: np.ndarray, n_starts: int, max_modes: int
    ) -> None:
        """Fill ``modes``, ``_chol`` (factors of the widened covariances) and ``log_weights``."""
        n_rows, width = start.shape
        rng = np.random.default_rng(self.rng.integers(2**63))
        found: list[list[tuple[float, np.ndarray, np.ndarray]]] = [[] for _ in range(n_rows)]
        for i in range(n_starts + 1):
            begin = start if i == 0 else start + scale * rng.standard_normal(start.shape)
            peak = self._maximise(begin)
            logp, _ = self._logp_and_grad(peak)
            hess = self._hessians(peak)
            for r in range(n_rows):
                eigenvalues = np.linalg.eigvalsh(hess[r])
                if not (np.isfinite(logp[r]) and eigenvalues[0] > 0):
                    continue  # not a maximum (a saddle, or the search stopped early)
                cov = np.linalg.inv(hess[r])
                chol = np.linalg.cholesky(cov)
                known = found[r]
                # the same mode as one already found: within two of its standard deviations
                if any(np.sum(np.linalg.solve(c, peak[r] - m) ** 2) < 4.0 for _, m, c in known):
                    continue
                known.append((float(logp[r]), peak[r].copy(), chol))
        if any(not modes for modes in found):
            raise ValueError(
                "ModeJump found no local maximum for some rows (an improper density?)"
            )
        n_found = min(max_modes, max(len(m) for m in found))
        self.modes = np.empty((n_rows, n_found, width))
        self._chol = np.empty((n_rows, n_found, width, width))
        self.log_weights = np.full((n_rows, n_found), -np.inf)
        for r, modes in enumerate(found):
            modes = sorted(modes, key=lambda t: -t[0])[:n_found]
            peaks = np.array([t[0] for t in modes])
            log_det = np.array([np.sum(np.log(np.diag(t[2]))) for t in modes])
            laplace = peaks + log_det  # log Laplace mass, up to a shared constant
            laplace = np.exp(laplace - logsumexp(laplace))
            weights = 0.5 * laplace + 0.5 / len(modes)
            for k in range(n_found):
                logp, peak, chol = modes[min(k, len(modes) - 1)]
                self.modes[r, k] = peak
                self._chol[r, k] = self.inflation * chol
            self.log_weights[r, : len(modes)] = np.log(weights)

    # -- the proposal ------------------------------------------------------------
    def _log_proposal(self, x: np.ndarray) -> np.ndarray:
        """``log q(x)`` per row, shape ``(n_rows,)``."""
        diff = x[:, None, :] - self.modes  # (n_rows, n_found, width)
        white = np.linalg.solve(self._chol, diff[..., None])[..., 0]
        log_det = np.sum(np.log(np.diagonal(self._chol, axis1=2, axis2=3)), axis=2)
        width = x.shape[1]
        log_density = -0.5 * np.sum(white**2, axis=2) - log_det - 0.5 * width * np.log(2.0 * np.pi)
        return logsumexp(self.log_weights + log_density, axis=1)

    def _draw(self) -> np.ndarray:
        n_rows, n_found, width = self.modes.shape
        weights = np.exp(self.log_weights)
        cumulative = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
        u = self.rng.random((n_rows, 1))
        component = np.minimum((u > cumulative).sum(axis=1), n_found - 1)
        rows = np.arange(n_rows)
        noise = self.rng.standard_normal((n_rows, width))
        return self.modes[rows, component] + np.einsum(
            "rij,rj->ri", self._chol[rows, component], noise
        )

    def step(self, point: dict) -> tuple[dict, list]:
        """One independence proposal per row."""
        x = np.asarray(point[self.value_name], dtype=float)
        others = {name: point[name] for name in self._others}
        proposal = self._draw()
        current, _ = self._logp_and_grad(x, others)
        new, _ = self._logp_and_grad(proposal, others)
        with np.errstate(invalid="ignore"):
            log_ratio = new - current + self._log_proposal(x) - self._log_proposal(proposal)
        accept = np.log(self.rng.random(x.shape[0])) < np.nan_to_num(log_ratio, nan=-np.inf)
        moved = np.where(accept[:, None], proposal, x)
        new_point = dict(point)
        new_point[self.value_name] = moved.astype(np.asarray(point[self.value_name]).dtype)
        return new_point, [{"tune": bool(self.tune), "jump_accept": float(accept.mean())}]

    @staticmethod
    def competence(var: Any, has_grad: bool = False) -> Competence:
        """Never chosen automatically (it needs a mode search the user asks for)."""
        return Competence.INCOMPATIBLE
