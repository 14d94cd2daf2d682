"""Natural image patches: a product of Student-t experts, a topographic product and FastICA.

Shared by ``python -m pymc_ebm_demos patches`` and the case studies
``case_studies/05_natural_images`` and ``06_topographic_maps``. The lecture's
recipe (Teh et al. 2003; Osindero et al. 2006): 16×16 grey patches, mean
removed and PCA-whitened (255 components), 768 Student-t experts (3×
over-complete), contrastive divergence whose negatives start at the data,
get one random momentum and follow 30 leapfrog steps (the HMC shortcut,
:class:`~pymc_ebm.ShortRunHMC`), an update every 100 patches, a little weight
decay, float32. The learned filters are judged by how well a Gabor function
fits each of them in pixel space (:mod:`pymc_ebm.evaluation.gabor`), by the kurtosis of
their outputs on held-out patches, and against scikit-learn's ``FastICA``
(complete, 255 filters) on the same whitened patches; the topographic map by
how much closer grid neighbours are in orientation and position than random
pairs. The models are also scored by their held-out log-likelihood
(:func:`score_models`): a Gaussian, the complete product of Student-t experts
on FastICA's filters (``log Z`` exact) and the learned over-complete product
(``log Z`` by annealed importance sampling).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytensor
import xarray as xr
from scipy.optimize import brentq
from scipy.special import digamma
from scipy.stats import multivariate_normal
from threadpoolctl import threadpool_limits

from pymc_ebm import (
    ContrastiveDivergence,
    Energy,
    StudentT,
    TopographicStudentT,
    log_likelihood,
    log_partition,
    sample_fantasies,
    save,
)
from pymc_ebm.datasets import Whitening, image_patches
from pymc_ebm.energies import torus_pooling
from pymc_ebm.evaluation.diagnostics import summary
from pymc_ebm.evaluation.gabor import GaborFit, fit_gabors, neighbour_ratios, output_kurtosis
from pymc_ebm_demos.summaries import write_summary

__all__ = [
    "SUMMARY_DESCRIPTION",
    "FilterQuality",
    "StudySettings",
    "basis_functions",
    "complete_pot",
    "fast_ica",
    "fantasies",
    "fantasy_summary",
    "filter_quality",
    "gaussian_log_likelihood",
    "initial_filters",
    "load_patches",
    "make_trainer",
    "run",
    "score_models",
    "train",
    "whitening_log_jacobian",
]


@dataclass(frozen=True)
class StudySettings:
    """Sizes and learning settings; :meth:`quick` shrinks them for tests.

    ``renormalize`` rescales the filters (rows of ``W``) to unit length after
    every update: the Student-t energy has a near-degenerate scale/shape
    direction (longer filters with smaller ``α`` fit almost as well), along
    which unconstrained CD drifts. ``optimizer`` at ``learning_rate`` for
    ``n_updates - final_updates`` updates, then at ``final_learning_rate``
    (``momentum`` is Adam's β1). ``blas_threads`` limits BLAS while training
    and scoring (``None``: no limit). ``ais_chains``, ``ais_temperatures``
    (sigmoid schedule) and ``ais_leapfrog`` (leapfrog steps per transition)
    set the AIS estimate of the learned product's ``log Z``
    (:func:`score_models`); ``topographic_grid`` is the topographic product's
    own grid (pools of ``pooling_size`` × ``pooling_size`` filters). The
    measurements behind the defaults are in the case studies
    ``case_studies/05_natural_images`` (section 7) and
    ``06_topographic_maps`` (section 5).
    """

    size: int = 16
    color: bool = False
    grid: tuple[int, int] = (24, 32)
    topographic_grid: tuple[int, int] = (16, 16)
    n_train: int = 50_000
    n_test: int = 10_000
    n_updates: int = 8000
    batch_size: int = 100
    n_steps: int = 30
    step_size: float = 0.1
    learning_rate: float = 0.003
    final_learning_rate: float = 0.001
    final_updates: int = 2000
    momentum: float = 0.9
    optimizer: str = "adam"
    weight_decay: float = 1e-4
    alpha0: float = 1.5
    renormalize: bool = True
    pooling_size: int = 3
    dtype: str = "float32"
    min_r2: float = 0.8
    blas_threads: int | None = 1
    fantasy_rows: int = 16
    fantasy_draws: int = 200
    ais_chains: int = 128
    ais_temperatures: int = 1000
    ais_leapfrog: int = 10
    seed: int = 0

    @property
    def n_experts(self) -> int:
        """Number of experts (filters): the grid's ``rows * cols``."""
        return self.grid[0] * self.grid[1]

    @classmethod
    def quick(cls, **changes: Any) -> StudySettings:
        """Tiny sizes that run in seconds (6×6 patches, 8×8 grid of 64 filters)."""
        base = cls(
            size=6,
            grid=(8, 8),
            topographic_grid=(8, 8),
            n_train=3000,
            n_test=1000,
            n_updates=120,
            final_updates=0,
            n_steps=10,
            fantasy_rows=8,
            fantasy_draws=50,
            ais_chains=32,
            ais_temperatures=100,
        )
        return replace(base, **changes)


def load_patches(settings: StudySettings) -> tuple[np.ndarray, np.ndarray, Whitening]:
    """Whitened patches (grey, or colour with ``settings.color``): train, held-out, whitening.

    Returns
    -------
    X_train : ndarray, shape (n_train, n_pixels - 1)
        ``n_pixels`` is ``size²``, or ``3 size²`` for colour.
    X_test : ndarray, shape (n_test, n_pixels - 1)
    whitening : Whitening
    """
    X, whitening = image_patches(
        size=settings.size,
        n=settings.n_train + settings.n_test,
        color=settings.color,
        random_seed=settings.seed,
    )
    return X[: settings.n_train], X[settings.n_train :], whitening


def initial_filters(n_filters: int, dim: int, seed: int) -> np.ndarray:
    """Random unit-norm filters, shape ``(n_filters, dim)``."""
    W = np.random.default_rng(seed).normal(size=(n_filters, dim))
    return W / np.linalg.norm(W, axis=1, keepdims=True)


def make_energy(dim: int, settings: StudySettings, topographic: bool = False) -> Energy:
    """A PoT (``StudentT``) or a topographic PoT on the settings' torus, in ``settings.dtype``."""
    grid = settings.topographic_grid if topographic else settings.grid
    n_experts = grid[0] * grid[1]
    W = initial_filters(n_experts, dim, settings.seed + int(topographic))
    alpha = np.full(n_experts, settings.alpha0)
    with pytensor.config.change_flags(floatX=settings.dtype):
        if topographic:
            V = torus_pooling(*grid, size=settings.pooling_size)
            return TopographicStudentT(W, alpha, V)
        return StudentT(W, alpha)


def _phases(settings: StudySettings) -> list[tuple[int, float]]:
    """(updates, learning rate) of the two phases: the main one, then the final one."""
    final = min(settings.final_updates, settings.n_updates)
    phases = [(settings.n_updates - final, settings.learning_rate)]
    phases.append((final, settings.final_learning_rate))
    return [(n, rate) for n, rate in phases if n > 0]


def make_trainer(
    energy: Energy,
    settings: StudySettings,
    learning_rate: float | None = None,
    random_seed: int | None = None,
    step_kwargs: dict[str, Any] | None = None,
) -> ContrastiveDivergence:
    """The study's trainer: CD with the HMC shortcut, as ``settings`` say.

    One momentum draw and ``settings.n_steps`` leapfrog steps of
    ``settings.step_size`` from each datavector (no mass adaptation), batches
    of ``settings.batch_size``, ``settings.optimizer`` at ``learning_rate``
    (default ``settings.learning_rate``), weight decay on the filters. Build
    it under ``pytensor.config.change_flags(floatX=settings.dtype)``.
    ``step_kwargs`` adds to (or overrides) the
    :class:`~pymc_ebm.ShortRunHMC` arguments.
    """
    return ContrastiveDivergence(
        energy,
        sampler="hmc",
        k=1,
        batch_size=settings.batch_size,
        learning_rate=settings.learning_rate if learning_rate is None else learning_rate,
        momentum=settings.momentum,
        optimizer=settings.optimizer,
        weight_decay=settings.weight_decay,
        step_kwargs={
            "n_steps": settings.n_steps,
            "step_size": settings.step_size,
            "adapt_mass": False,
            **(step_kwargs or {}),
        },
        random_seed=settings.seed if random_seed is None else random_seed,
    )


def train(
    energy: Energy, X: np.ndarray, settings: StudySettings
) -> tuple[xr.Dataset, float, float]:
    """Contrastive divergence with the HMC shortcut; filters renormalised if asked.

    ``settings.n_updates`` updates in all: the last ``final_updates`` of them
    at ``final_learning_rate`` (a new optimiser), the others at
    ``learning_rate``. BLAS runs on ``settings.blas_threads`` threads.

    Returns the history (dimension ``update``, coordinate ``phase``), the
    training time in seconds (compilation included) and the wall-clock
    seconds per update after the first (which compiles).
    """
    started = time.perf_counter()
    first_done, first_cpu = started, time.process_time()
    histories = []
    with (
        pytensor.config.change_flags(floatX=settings.dtype),
        threadpool_limits(limits=settings.blas_threads),
    ):
        for phase, (n_updates, rate) in enumerate(_phases(settings)):
            seed = int(np.random.SeedSequence([settings.seed, phase]).generate_state(1)[0])
            cd = make_trainer(energy, settings, learning_rate=rate, random_seed=seed)
            for update, batch in enumerate(cd.minibatches(X, n_updates)):
                cd.partial_fit(batch)
                if settings.renormalize:
                    W = energy.W.get_value()
                    energy.W.set_value(W / np.linalg.norm(W, axis=1, keepdims=True))
                if phase == 0 and update == 0:
                    first_done, first_cpu = time.perf_counter(), time.process_time()
            histories.append(cd.history.assign_coords(phase=("update", np.full(n_updates, phase))))
    finished = time.perf_counter()
    later = max(settings.n_updates - 1, 1)
    history = xr.concat(histories, dim="update")
    history = history.assign_coords(update=np.arange(history.sizes["update"]))
    history.attrs["cpu_seconds_per_update"] = (time.process_time() - first_cpu) / later
    return history, finished - started, (finished - first_done) / later


def fast_ica(X: np.ndarray, settings: StudySettings) -> tuple[np.ndarray, float]:
    """scikit-learn's FastICA, complete, on the (already white) patches.

    Returns the unmixing filters, shape ``(dim, dim)``, and the seconds taken.
    """
    from sklearn.decomposition import FastICA

    started = time.perf_counter()
    ica = FastICA(whiten=False, max_iter=1000, tol=1e-4, random_state=settings.seed)
    ica.fit(X)
    return ica.components_, time.perf_counter() - started


def basis_functions(W: np.ndarray, whitening: Whitening) -> np.ndarray:
    """Basis functions in pixel space: columns of ``W⁺`` un-whitened, shape ``(n, *patch)``.

    For a complete ``W`` (ICA) these are the mixing matrix's columns; for an
    over-complete one, the minimum-norm generative directions.
    """
    basis = np.linalg.pinv(np.asarray(W, dtype=float)).T  # (n_filters, dim)
    return whitening.as_images(basis @ whitening.inverse.T)


@dataclass(frozen=True)
class FilterQuality:
    """Gabor fits of the pixel-space filters and the kurtosis of their held-out outputs."""

    fits: GaborFit
    kurtosis: np.ndarray
    pixel_filters: np.ndarray

    def summary(self, min_r2: float) -> dict[str, float]:
        """``gabor_r2_share`` (share with R² ≥ ``min_r2``), median R², median kurtosis."""
        return {
            "gabor_r2_share": self.fits.share(min_r2),
            "gabor_r2_median": float(np.median(self.fits.r2)),
            "kurtosis_median": float(np.median(self.kurtosis)),
        }


def filter_quality(W: np.ndarray, whitening: Whitening, X_test: np.ndarray) -> FilterQuality:
    """Fit a Gabor to each filter in pixel space and measure its output kurtosis.

    Colour filters ``(size, size, 3)`` are fitted on their luminance (the
    mean of the three channels); ``pixel_filters`` keeps the colour.
    """
    W = np.asarray(W, dtype=float)
    pixels = whitening.as_images(whitening.filters_to_pixels(W))
    grey = pixels.mean(axis=3) if pixels.ndim == 4 else pixels
    return FilterQuality(fit_gabors(grey), output_kurtosis(W, X_test), pixels)


def fantasies(energy: StudentT, settings: StudySettings) -> tuple[Any, float]:
    """Fantasies of a learned PoT by ``pm.sample``, which picks :class:`~pymc_ebm.StudentTGibbs`.

    ``settings.fantasy_rows`` independent rows in each of two chains,
    ``settings.fantasy_draws`` draws after 20 tuning sweeps; each sweep draws
    every expert's auxiliary precision, then the whole patch from its
    Gaussian conditional, so the chains start far from the data and still
    mix in a few sweeps.

    Returns
    -------
    idata : xarray.DataTree
        Posterior ``v`` of shape ``(2, fantasy_draws, fantasy_rows, dim)``.
    seconds : float
        Time of ``pm.sample`` (compilation included).
    """
    started = time.perf_counter()
    with pytensor.config.change_flags(floatX=settings.dtype):
        idata = sample_fantasies(
            energy,
            draws=settings.fantasy_draws,
            tune=20,
            chains=2,
            cores=1,
            n_particles=settings.fantasy_rows,
            random_seed=settings.seed,
            progressbar=False,
            compute_convergence_checks=False,
        )
    return idata, time.perf_counter() - started


def fantasy_summary(
    idata: Any, energy: StudentT, seconds: float, X_test: np.ndarray
) -> dict[str, Any]:
    """Diagnostics of :func:`fantasies` and the kurtosis of the filters' outputs on them.

    Keys: ``fantasy_sampler`` (the step ``pm.sample`` used), ``fantasy_seconds``,
    ``fantasy_rhat_max``, ``fantasy_ess_bulk_min`` (ArviZ, over every entry of
    ``v``), ``fantasy_kurtosis_median`` (median excess kurtosis of the learned
    filters' outputs on the fantasies) and ``kurtosis_median_model_filters``
    (the same on the held-out patches ``X_test``).
    """
    diagnostics = summary(idata, var_names=["v"])
    samples = idata.posterior["v"].values.reshape(-1, X_test.shape[1])
    W = energy.W.get_value().astype(float)
    return {
        # StudentTGibbs is the step that reports the mean auxiliary precision
        "fantasy_sampler": "StudentTGibbs" if "mean_precision" in idata.sample_stats else "other",
        "fantasy_seconds": seconds,
        "fantasy_rhat_max": diagnostics.rhat_max,
        "fantasy_ess_bulk_min": diagnostics.ess_bulk_min,
        "fantasy_kurtosis_median": float(np.median(output_kurtosis(W, samples))),
        "kurtosis_median_model_filters": float(np.median(output_kurtosis(W, X_test))),
    }


def gaussian_log_likelihood(X_train: np.ndarray, X_test: np.ndarray) -> tuple[float, float]:
    """Held-out log-likelihood of ``N(mean, covariance)`` fitted to the training rows.

    The maximum-likelihood fit (sample mean, covariance with ``1/n``); on
    whitened patches this is the PCA model, the best a Gaussian can do.

    Parameters
    ----------
    X_train : ndarray, shape (n_train, dim)
        Rows the Gaussian is fitted to.
    X_test : ndarray, shape (n_test, dim)
        Held-out rows it is scored on.

    Returns
    -------
    mean, se : float
        Mean log density of the held-out rows in nats per row, and its
        standard error ``sd / √n_test``.

    Examples
    --------
    >>> import numpy as np
    >>> from pymc_ebm_demos.natural_images import gaussian_log_likelihood
    >>> X = np.random.default_rng(0).normal(size=(20_000, 3))
    >>> mean, se = gaussian_log_likelihood(X[:10_000], X[10_000:])
    >>> bool(abs(mean + 1.5 * np.log(2 * np.pi * np.e)) < 4 * se)  # minus the entropy
    True
    """
    X_train = np.asarray(X_train, dtype=float)
    cov = np.atleast_2d(np.cov(X_train, rowvar=False, bias=True))
    log_density = multivariate_normal(X_train.mean(axis=0), cov).logpdf(X_test)
    log_density = np.atleast_1d(log_density)
    return float(log_density.mean()), float(log_density.std(ddof=1) / np.sqrt(len(log_density)))


def _student_t_alpha(mean_log_term: float) -> float:
    """The ``α`` that maximises ``-α m - log Z(α)``, ``Z(α) = √(2π) Γ(α - ½) / Γ(α)``.

    The objective is concave in ``α``; its derivative ``ψ(α) - ψ(α - ½) - m``
    falls from ``+∞`` at ``α = ½`` to ``-m`` at ``∞`` (``ψ(α) - ψ(α - ½) ≈ 1/(2α)``
    for large ``α``), so the root is unique and bracketed.
    """

    def score(alpha: float) -> float:
        return float(digamma(alpha) - digamma(alpha - 0.5) - mean_log_term)

    low, high = 0.5 + 1e-12, 1.0 / mean_log_term + 1.0
    while score(high) > 0:
        high *= 2.0
    return float(brentq(score, low, high, xtol=1e-12, rtol=1e-12))


def complete_pot(W: np.ndarray, X: np.ndarray) -> StudentT:
    """A complete product of Student-t experts on filters ``W``, ``α`` by maximum likelihood.

    With ``s = W x``, ``log p(x) = log|det W| + Σ_j [-α_j log(1 + ½ s_j²) -
    log Z_j(α_j)]`` separates over the experts given ``W``: each ``α_j``
    solves ``ψ(α_j) - ψ(α_j - ½) = mean_i log(1 + ½ s_ij²)`` (the root of a
    concave 1-D objective, by :func:`scipy.optimize.brentq`). Each factor is a
    Student-t density of ``s_j`` with ``ν = 2α_j - 1`` degrees of freedom and
    scale ``√(2/ν)``: an ICA model with Student-t sources.

    Parameters
    ----------
    W : ndarray, shape (dim, dim)
        Invertible unmixing filters, e.g. FastICA's.
    X : ndarray, shape (n, dim)
        Training rows.

    Returns
    -------
    StudentT
        Float64, with ``log_partition(energy, "exact")`` available.

    Examples
    --------
    Student-t sources with ``ν = 5`` (``α = 3``) mixed by ``W⁻¹``: the fit
    recovers ``α`` from the unmixing filters.

    >>> import numpy as np
    >>> from pymc_ebm_demos.natural_images import complete_pot
    >>> rng = np.random.default_rng(0)
    >>> S = rng.standard_t(5, size=(50_000, 2)) / np.sqrt(5 / 2)
    >>> W = np.array([[1.0, 0.5], [0.0, 2.0]])
    >>> energy = complete_pot(W, S @ np.linalg.inv(W).T)
    >>> np.round(energy.alpha, 1).tolist()
    [3.0, 3.0]
    """
    W = np.asarray(W, dtype=float)
    S = np.asarray(X, dtype=float) @ W.T
    m = np.mean(np.log1p(0.5 * S**2), axis=0)
    alpha = np.array([_student_t_alpha(float(value)) for value in m])
    with pytensor.config.change_flags(floatX="float64"):
        return StudentT(W, alpha)


def whitening_log_jacobian(whitening: Whitening) -> float:
    """``log|det|`` of PCA whitening: ``-½ Σ_k log λ_k`` (``λ`` the kept variances).

    Added to a log density of whitened patches it gives the log density of
    the mean-free pixel patches, over the kept principal subspace (in its
    orthonormal coordinates ``Uᵀ x``), in nats per patch.

    Raises
    ------
    ValueError
        For a whitening other than PCA.
    """
    if whitening.method != "pca":
        raise ValueError(f"the Jacobian is defined for PCA whitening, got {whitening.method!r}")
    return float(-0.5 * np.sum(np.log(whitening.variances)))


def score_models(
    pot: StudentT,
    W_ica: np.ndarray,
    X_train: np.ndarray,
    X_test: np.ndarray,
    settings: StudySettings,
) -> dict[str, float]:
    """Held-out log-likelihood of three patch models, in nats per whitened patch.

    * ``gaussian``: ``N(mean, covariance)`` of the training rows (PCA;
      exact, :func:`gaussian_log_likelihood`);
    * ``ica``: the complete product of Student-t experts on FastICA's
      filters with maximum-likelihood ``α`` (:func:`complete_pot`;
      ``log Z`` exact, :func:`pymc_ebm.log_partition` ``"exact"``);
    * ``pot``: the learned over-complete product (a float64 copy of
      ``pot``), ``log Z`` by annealed importance sampling from a Gaussian
      fitted to ``X_train`` (``settings.ais_chains``, ``ais_temperatures``,
      ``ais_leapfrog``; step size tuned on a pilot run), scored by
      :func:`pymc_ebm.log_likelihood`.

    All three are log densities of the whitened ``dim``-dimensional rows;
    the standard errors combine the spread over held-out rows and, for the
    PoT, the AIS standard error of ``log Z`` (``log_z_pot_se``).

    Parameters
    ----------
    pot : StudentT
        The learned product, ``W`` of shape ``(n_experts, dim)``; it must be
        proper (filters spanning the space).
    W_ica : ndarray, shape (dim, dim)
        FastICA's unmixing filters.
    X_train : ndarray, shape (n_train, dim)
        Training rows: the Gaussian's and the ICA ``α``'s fit, and AIS's base.
    X_test : ndarray, shape (n_test, dim)
        Held-out rows, scored.
    settings : StudySettings
        AIS settings and seed.

    Returns
    -------
    dict
        ``log_likelihood_{gaussian,ica,pot}`` and their ``_se``,
        ``log_z_pot``, ``log_z_pot_se``, ``ais_weight_ess`` (of
        ``ais_chains``), ``ais_acceptance`` (mean HMC acceptance),
        ``ais_seconds`` (compilation included), ``ica_alpha_median``.
    """
    gauss, gauss_se = gaussian_log_likelihood(X_train, X_test)
    ica = complete_pot(W_ica, X_train)
    ica_ll = log_likelihood(ica, X_test, log_partition(ica, "exact"))
    with pytensor.config.change_flags(floatX="float64"):
        pot64 = StudentT(pot.W.get_value().astype(float), pot.alpha)
    started = time.perf_counter()
    with threadpool_limits(limits=settings.blas_threads):
        log_z = log_partition(
            pot64,
            "ais",
            data=X_train,
            n_runs=settings.ais_chains,
            n_temperatures=settings.ais_temperatures,
            n_leapfrog=settings.ais_leapfrog,
            random_seed=settings.seed,
            progressbar=False,
        )
    ais_seconds = time.perf_counter() - started
    pot_ll = log_likelihood(pot64, X_test, log_z)
    return {
        "log_likelihood_gaussian": gauss,
        "log_likelihood_gaussian_se": gauss_se,
        "log_likelihood_ica": ica_ll.mean,
        "log_likelihood_ica_se": ica_ll.se,
        "log_likelihood_pot": pot_ll.mean,
        "log_likelihood_pot_se": pot_ll.se,
        "log_z_pot": log_z.log_z,
        "log_z_pot_se": log_z.se,
        "ais_weight_ess": float(log_z.ess),
        "ais_acceptance": float(np.mean(log_z.acceptance)),
        "ais_seconds": ais_seconds,
        "ica_alpha_median": float(np.median(ica.alpha)),
    }


def _prefixed(prefix: str, values: dict[str, float]) -> dict[str, float]:
    return {f"{key}{prefix}": value for key, value in values.items()}


SUMMARY_DESCRIPTION = {
    "gabor_r2_share": "share of the learned PoT filters whose Gabor fit has R^2 "
    ">= settings.min_r2",
    "gabor_r2_median": "median R^2 of the Gabor fits of the learned PoT filters",
    "kurtosis_median": "median excess kurtosis of the learned PoT filters' outputs "
    "on held-out patches",
    "gabor_r2_share_ica": "share of the FastICA filters whose Gabor fit has R^2 "
    ">= settings.min_r2",
    "gabor_r2_median_ica": "median R^2 of the Gabor fits of the FastICA filters",
    "kurtosis_median_ica": "median excess kurtosis of the FastICA filters' outputs "
    "on held-out patches",
    "gabor_r2_share_topographic": "share of the topographic PoT filters whose Gabor fit has R^2 "
    ">= settings.min_r2",
    "gabor_r2_median_topographic": "median R^2 of the Gabor fits of the topographic PoT filters",
    "kurtosis_median_topographic": "median excess kurtosis of the topographic PoT filters' "
    "outputs on held-out patches",
    "pot_grid_neighbour_ratio": "PoT filters on their grid: mean orientation difference of "
    "grid neighbours over that of all pairs (about 1: no topography)",
    "train_seconds": "seconds of training of the PoT",
    "updates": "number of parameter updates of the PoT",
    "seconds_per_update": "wall-clock seconds per PoT update",
    "cpu_seconds_per_update": "CPU seconds per PoT update",
    "ica_seconds": "seconds of FastICA",
    "log_likelihood_gaussian": "held-out log-likelihood of a Gaussian fitted to the training "
    "patches, nats per whitened patch (exact)",
    "log_likelihood_gaussian_se": "standard error of log_likelihood_gaussian",
    "log_likelihood_ica": "held-out log-likelihood of the complete Student-t product on "
    "FastICA's filters, nats per whitened patch (exact log Z)",
    "log_likelihood_ica_se": "standard error of log_likelihood_ica",
    "log_likelihood_pot": "held-out log-likelihood of the learned PoT, nats per whitened patch "
    "(log Z by annealed importance sampling)",
    "log_likelihood_pot_se": "standard error of log_likelihood_pot (rows and AIS)",
    "log_z_pot": "AIS estimate of the learned PoT's log Z",
    "log_z_pot_se": "standard error of log_z_pot",
    "ais_weight_ess": "effective number of AIS chains (importance weights), of "
    "settings.ais_chains",
    "ais_acceptance": "mean HMC acceptance rate of the AIS transitions",
    "ais_seconds": "seconds of AIS (compilation included)",
    "ica_alpha_median": "median maximum-likelihood alpha of the FastICA product's experts",
    "whitening_log_jacobian": "log-Jacobian of the PCA whitening (adds to a whitened "
    "log-likelihood to give one per pixel patch)",
    "dtype": "floating-point type of the training (pytensor floatX)",
    "final_energy_gap": "mean energy of the data minus that of the negatives over the last "
    "50 updates",
    "settings": "the StudySettings of the run (sizes, learning settings, seed), and n_experts",
    "fantasy_sampler": "the step pm.sample chose for the fantasies (StudentTGibbs or other)",
    "fantasy_seconds": "seconds of pm.sample for the fantasies",
    "fantasy_rhat_max": "largest R-hat over the fantasies' entries",
    "fantasy_ess_bulk_min": "smallest bulk effective sample size over the fantasies' entries",
    "fantasy_kurtosis_median": "median excess kurtosis of the PoT filters' outputs on the "
    "fantasies",
    "kurtosis_median_model_filters": "the same on held-out patches (compare with "
    "fantasy_kurtosis_median)",
    "topographic_neighbour_ratio": "topographic PoT: mean orientation difference of grid "
    "neighbours over that of all pairs (well below 1: a smooth map)",
    "topographic_position_ratio": "topographic PoT: the same for the distance between Gabor "
    "centres",
    "train_seconds_topographic": "seconds of training of the topographic PoT",
    "seconds_per_update_topographic": "wall-clock seconds per topographic PoT update",
}
"""What each key of the demo's ``summary.json`` means (its ``description`` entry)."""


def run(
    out_dir: str | Path, quick: bool = False, seed: int | None = None, topographic: bool = True
) -> dict[str, Any]:
    """Train the PoT (and topographic PoT), run FastICA, judge and score, draw, write summary.json.

    Parameters
    ----------
    out_dir : path
        Where figures and ``summary.json`` go (created).
    quick : bool
        Use :meth:`StudySettings.quick`.
    seed : int, optional
        Seed of the patches, initial filters and samplers (default 0).
    topographic : bool
        Also train the topographic PoT.

    Returns
    -------
    dict
        The summary written to ``summary.json``.
    """
    from pymc_ebm_demos import natural_images_figures as figures

    settings = StudySettings.quick() if quick else StudySettings()
    if seed is not None:
        settings = replace(settings, seed=int(seed))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    X, X_test, whitening = load_patches(settings)
    pot = make_energy(X.shape[1], settings)
    history, train_seconds, seconds_per_update = train(pot, X, settings)
    pot_quality = filter_quality(pot.W.get_value(), whitening, X_test)
    W_ica, ica_seconds = fast_ica(X, settings)
    ica_quality = filter_quality(W_ica, whitening, X_test)
    scores = score_models(pot, W_ica, X, X_test, settings)
    result: dict[str, Any] = {
        **pot_quality.summary(settings.min_r2),
        **_prefixed("_ica", ica_quality.summary(settings.min_r2)),
        "pot_grid_neighbour_ratio": neighbour_ratios(pot_quality.fits, *settings.grid)[
            "orientation"
        ],
        "train_seconds": train_seconds,
        "updates": settings.n_updates,
        "seconds_per_update": seconds_per_update,
        "cpu_seconds_per_update": history.attrs["cpu_seconds_per_update"],
        "ica_seconds": ica_seconds,
        **scores,
        "whitening_log_jacobian": whitening_log_jacobian(whitening),
        "dtype": settings.dtype,
        "final_energy_gap": float(history["energy_gap"][-50:].mean()),
        "settings": {**asdict(settings), "n_experts": settings.n_experts},
    }
    figures.filters(pot_quality.pixel_filters, out / "filters.png", "PoT filters (pixel space)")
    figures.filters(
        basis_functions(pot.W.get_value(), whitening), out / "basis.png", "PoT basis functions"
    )
    figures.filters(ica_quality.pixel_filters, out / "ica_filters.png", "FastICA filters")
    figures.gabor_distribution(
        {"PoT": pot_quality.fits, "FastICA": ica_quality.fits},
        settings.size,
        out / "gabor_distribution.png",
        settings.min_r2,
    )
    figures.training(history, out / "training.png")
    save(pot, out / "pot.npz")
    idata, fantasy_seconds = fantasies(pot, settings)
    result.update(fantasy_summary(idata, pot, fantasy_seconds, X_test))
    figures.fantasies(
        whitening.as_images(whitening.unwhiten(idata.posterior["v"].values[0, -1])),
        whitening.as_images(whitening.unwhiten(X_test[: settings.fantasy_rows])),
        out / "fantasies.png",
    )
    if topographic:
        topo = make_energy(X.shape[1], settings, topographic=True)
        _, topo_seconds, topo_per_update = train(topo, X, settings)
        topo_quality = filter_quality(topo.W.get_value(), whitening, X_test)
        ratios = neighbour_ratios(topo_quality.fits, *settings.topographic_grid, min_r2=0.5)
        result.update(
            {
                **_prefixed("_topographic", topo_quality.summary(settings.min_r2)),
                "topographic_neighbour_ratio": ratios["orientation"],
                "topographic_position_ratio": ratios["position"],
                "train_seconds_topographic": topo_seconds,
                "seconds_per_update_topographic": topo_per_update,
            }
        )
        figures.topographic_map(
            topo_quality.pixel_filters,
            topo_quality.fits,
            settings.topographic_grid,
            out / "topographic_map.png",
        )
    result = write_summary(out / "summary.json", result, SUMMARY_DESCRIPTION)
    print(json.dumps({k: v for k, v in result.items() if k != "settings"}, indent=2))
    return result
