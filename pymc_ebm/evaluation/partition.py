"""``log Z`` of an energy by quadrature, in closed form, or by annealed importance sampling."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pymc_ebm._validation import renamed
from pymc_ebm.energies.base import Energy
from pymc_ebm.evaluation.ais import (
    GaussianBase,
    UniformBoxBase,
    annealed_importance_sampling,
    summarise_log_weights,
)
from pymc_ebm.evaluation.exact import exact_log_partition
from pymc_ebm.evaluation.propriety import improper_reason
from pymc_ebm.evaluation.quadrature import log_partition_quadrature

__all__ = ["LogPartition", "log_partition"]

METHODS = ("ais", "exact", "quadrature")
LOW_ESS_SHARE = 0.1
"""AIS warns when the weights' effective sample size is below this share of the runs."""


@dataclass(frozen=True)
class LogPartition:
    """An estimate of ``log Z = log ∫ exp(-E(v)) dv`` (what :func:`log_partition` returns).

    Attributes
    ----------
    log_z : float
        The estimate.
    se : float
        Its standard error: 0 for ``"exact"`` and ``"quadrature"`` (whose error
        is deterministic); for ``"ais"``, the delta-method standard error of the
        log-mean-exp of the runs' weights, ``sd(w) / (mean(w) √n_runs)``.
    method : str
        ``"ais"``, ``"exact"`` or ``"quadrature"``.
    ess : float or None
        Effective sample size of the AIS weights, ``(Σw)² / Σw²``, between 1
        and ``n_runs`` (``None`` for the other methods).
    n_runs, n_temperatures : int or None
        AIS settings (``None`` for the other methods).
    log_weights : ndarray of shape (n_runs,) or None
        The AIS runs' log weights.
    acceptance : ndarray of shape (n_temperatures - 1,) or None
        Mean HMC acceptance rate at each AIS transition.
    base : str or None
        The AIS base: ``"gaussian"`` (fitted to data) or ``"uniform"`` (the box).
    """

    log_z: float
    se: float
    method: str
    ess: float | None = None
    n_runs: int | None = None
    n_temperatures: int | None = None
    log_weights: np.ndarray | None = None
    acceptance: np.ndarray | None = None
    base: str | None = None

    def __float__(self) -> float:
        return self.log_z

    @property
    def n_chains(self) -> int | None:
        """Deprecated name of :attr:`n_runs`."""
        warnings.warn(
            "LogPartition.n_chains is deprecated and will be removed in a future release: "
            "use n_runs",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.n_runs


def _ais_base(energy: Energy, data: npt.ArrayLike | None) -> GaussianBase | UniformBoxBase:
    """Uniform on the energy's box, or a Gaussian fitted to ``data`` on the whole space."""
    reason = improper_reason(energy)
    if reason is not None:
        raise ValueError(
            f"energy is improper: {reason}, so exp(-E) has an infinite integral (log Z = +inf) "
            "that AIS would report as a finite number; confine it with a broad Gaussian "
            "expert (energy * Gaussian(...)) or a box"
        )
    if energy.domain is not None:
        if data is not None:
            raise ValueError(
                f"{type(energy).__name__} lives on a box: AIS starts from the uniform density "
                "on it; leave data out"
            )
        return UniformBoxBase(*energy.domain)
    if data is None:
        raise ValueError(
            f"{type(energy).__name__} lives on the whole space and has no box: AIS needs data "
            "(shape (n, dim)) to fit its Gaussian base"
        )
    return GaussianBase.fit(data, energy.dim)


def log_partition(
    energy: Energy,
    method: str = "ais",
    *,
    data: npt.ArrayLike | None = None,
    n_runs: int = 256,
    n_temperatures: int = 1000,
    n_leapfrog: int = 10,
    step_size: float | None = None,
    schedule: str = "sigmoid",
    random_seed: int | np.random.Generator | None = None,
    progressbar: bool = True,
    low: npt.ArrayLike | None = None,
    high: npt.ArrayLike | None = None,
    n_points: int | tuple[int, ...] = 512,
    n_chains: int | None = None,
) -> LogPartition:
    """Log partition function ``log ∫ exp(-E(v)) dv`` of an energy.

    Three methods:

    * ``"quadrature"``: midpoint rule on a grid, 1-D and 2-D only
      (:func:`~pymc_ebm.log_partition_quadrature`; ``low``, ``high``, ``n_points``).
    * ``"exact"``: closed form, for products of :class:`~pymc_ebm.Gaussian`
      experts and a complete :class:`~pymc_ebm.StudentT` (square invertible
      ``W``: ``log Z = -log|det W| + Σ_j log Z_j(α_j)``); see
      :mod:`pymc_ebm.evaluation.exact`.
    * ``"ais"``: annealed importance sampling (Neal 2001) along the geometric
      path from a normalised base to ``exp(-E)``, with one HMC trajectory per
      run and temperature, all runs in one compiled function
      (:mod:`pymc_ebm.evaluation.ais`). The base is uniform on the energy's
      box if it has one, otherwise a Gaussian fitted to ``data`` (mean and
      covariance). The estimate is the log-mean-exp of the weights (biased
      down by about ``se²/2``), its standard error is by the delta method.
      An energy known to be improper (``log Z = +inf``, see
      :func:`~pymc_ebm.evaluation.propriety.improper_reason`: filters that
      do not span the space, no box and no confining part) is refused. A
      ``UserWarning`` says when the weights' effective sample size is below
      ``LOW_ESS_SHARE`` (10 %) of ``n_runs``: a few runs then carry the
      estimate, and it and its standard error may be far off.

    Parameters
    ----------
    energy : Energy
        The energy ``E``, on vectors of shape ``(dim,)``.
    method : {"ais", "exact", "quadrature"}, default "ais"
        How to compute ``log Z`` (see above).
    data : array_like, shape (n, dim), optional
        ``"ais"`` on the whole space: data whose mean and covariance define
        the Gaussian base (e.g. the training data), varying along every
        dimension; refused for box energies.
    n_runs : int, default 256
        ``"ais"``: independent annealing runs (one importance weight each).
    n_temperatures : int, default 1000
        ``"ais"``: steps along the path (sigmoid schedule by default).
    n_leapfrog : int, default 10
        ``"ais"``: leapfrog steps per HMC trajectory.
    step_size : float, optional
        ``"ais"``: fixed leapfrog step size in whitened coordinates; default:
        tuned per temperature on a pilot run of ``max(16, n_runs // 4)``
        runs and then frozen for the reported runs.
    schedule : {"sigmoid", "linear"}, default "sigmoid"
        ``"ais"``: spacing of the inverse temperatures.
    random_seed : int or numpy.random.Generator, optional
        ``"ais"``: seeds the base draws, momenta and Metropolis tests.
    progressbar : bool, default True
        ``"ais"``: show rich progress bars over the temperatures (the pilot
        run's, then the reported runs').
    low, high : float or array_like of shape (dim,), optional
        ``"quadrature"``: the box (default: the energy's domain).
    n_points : int or tuple of int, default 512
        ``"quadrature"``: cells per dimension.
    n_chains : int, optional
        Deprecated spelling of ``n_runs``.

    Returns
    -------
    LogPartition
        ``log_z``, ``se``, and for AIS the weights' ESS, log weights and acceptance rates.

    Raises
    ------
    ValueError
        An unknown method; ``"exact"`` for an energy without closed form;
        ``"ais"`` for an energy known to be improper, on the whole space
        without ``data`` (or a box energy with ``data``), ``data`` that does
        not vary along every dimension; non-positive ``n_runs``,
        ``n_temperatures`` or ``n_leapfrog``; ``"quadrature"`` above 2-D, or
        a box whose cells overflow or cannot resolve the density.

    Warns
    -----
    UserWarning
        ``"ais"``: the weights' effective sample size is below 10 % of ``n_runs``.

    Examples
    --------
    A complete product of Student-t experts has a closed form, which
    quadrature confirms in 1-D:

    >>> import numpy as np
    >>> import pymc_ebm
    >>> experts = pymc_ebm.StudentT(W=[[2.0]], alpha=[3.0])
    >>> exact = pymc_ebm.log_partition(experts, "exact")
    >>> grid = pymc_ebm.log_partition(experts, "quadrature", low=-60, high=60, n_points=20_000)
    >>> round(exact.log_z, 4), bool(abs(exact.log_z - grid.log_z) < 1e-4)
    (-0.1827, True)

    AIS for a 2-D Gaussian product, from a Gaussian base fitted to data:

    >>> gauss = pymc_ebm.Gaussian(mu=[[0.0, 1.0], [1.0, 0.0]], sigma=[[1.0, 2.0], [1.0, 1.0]])
    >>> data = np.random.default_rng(0).normal(size=(200, 2))
    >>> ais = pymc_ebm.log_partition(gauss, "ais", data=data, n_runs=64,
    ...                              n_temperatures=20, random_seed=1, progressbar=False)
    >>> truth = pymc_ebm.log_partition(gauss, "exact").log_z
    >>> bool(abs(ais.log_z - truth) < 4 * ais.se), ais.ess > 32
    (True, True)
    """
    n_runs = renamed("n_runs", n_runs, 256, "n_chains", n_chains)
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if not isinstance(energy, Energy):
        raise TypeError(f"energy must be an Energy, got {type(energy).__name__}")
    if method != "ais" and data is not None:
        raise ValueError(f"data is for method='ais' (its Gaussian base), not {method!r}")
    if method != "quadrature" and (low is not None or high is not None):
        raise ValueError(
            f"low and high are for method='quadrature' (its box), not {method!r}: AIS and "
            "the closed forms work on the energy's own domain"
        )
    if method == "exact":
        return LogPartition(log_z=exact_log_partition(energy), se=0.0, method="exact")
    if method == "quadrature":
        log_z = log_partition_quadrature(energy, low=low, high=high, n_points=n_points)
        return LogPartition(log_z=log_z, se=0.0, method="quadrature")
    base = _ais_base(energy, data)
    run = annealed_importance_sampling(
        energy,
        base,
        n_runs=n_runs,
        n_temperatures=n_temperatures,
        n_leapfrog=n_leapfrog,
        step_size=step_size,
        schedule_kind=schedule,
        random_seed=random_seed,
        progressbar=progressbar,
    )
    log_z, se, ess = summarise_log_weights(run.log_weights)
    if ess < LOW_ESS_SHARE * len(run.log_weights):
        warnings.warn(
            f"AIS importance weights have an effective sample size of {ess:.1f} of "
            f"{len(run.log_weights)} runs (below {LOW_ESS_SHARE:.0%}): a few runs carry the "
            f"estimate log Z = {log_z:.3f} ± {se:.3f}, which may be far off; use more "
            "temperatures (n_temperatures), more runs (n_runs) or a base closer to the "
            "energy (data like its samples)",
            UserWarning,
            stacklevel=2,
        )
    return LogPartition(
        log_z=log_z,
        se=se,
        method="ais",
        ess=ess,
        n_runs=len(run.log_weights),
        n_temperatures=len(run.betas) - 1,
        log_weights=run.log_weights,
        acceptance=run.acceptance,
        base=base.name,
    )
