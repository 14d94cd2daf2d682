"""The 24-cluster study: 15 uni-gauss experts learn a 5×5 grid with one cell missing.

Shared by ``python -m pymc_ebm_demos unigauss`` and the case-study notebook
``case_studies/02_unigauss_clusters``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pymc as pm
import xarray as xr

from pymc_ebm import ContrastiveDivergence, UniGauss, UniGaussGibbs, grid_density, hidden, visible
from pymc_ebm.datasets import grid_centres, grid_clusters
from pymc_ebm.evaluation.diagnostics import DiagnosticsSummary, summary
from pymc_ebm.step_methods import UniGaussKernel
from pymc_ebm_demos.summaries import spread, write_summary

__all__ = [
    "SUMMARY_DESCRIPTION",
    "StudySettings",
    "cell_shares",
    "cell_switch_rate",
    "exact_cell_shares",
    "expert_orientation",
    "fantasy_metrics",
    "headline",
    "initial_experts",
    "meets_target",
    "mean_log_likelihood",
    "one_sweep_moves",
    "run",
    "sample_experts",
    "seed_table",
    "train",
    "train_once",
]

MISSING = (2 / 6, 3 / 6)


@dataclass(frozen=True)
class StudySettings:
    """Sizes and training recipe of the study; :meth:`quick` shrinks them for tests.

    ``seed`` sets the data, the initial experts and the samplers of the run
    whose fantasies and figures are shown (0, the first of the robustness
    seeds, not one picked for its result); ``robustness_seeds`` are the seeds
    :func:`seed_table` (and the demo's ``per_seed`` table, with the median and
    range beside the shown run's figures) trains on. The recipe: experts of initial width
    ``sigma0`` and mixing proportion ``pi0``, ``cd1_updates`` of CD-1, then
    ``long_updates`` of CD-``long_k`` at a third of the learning rate, then
    ``pcd_updates`` of PCD-1 with mode jumps (persistent chains that move
    between the cells) at the same rate; ``restarts`` runs from other starts,
    the one with the best exact training log-likelihood kept.

    The recipe's measured effect over seeds 0-9, and what else was tried,
    are in the case study ``case_studies/02_unigauss_clusters``, section 8.
    """

    n_data: int = 300
    n_experts: int = 15
    sigma0: float = 0.3
    pi0: float = 0.5
    cd1_updates: int = 2000
    long_updates: int = 1000
    long_k: int = 10
    long_persistent: bool = False
    long_mode_jumps: bool = False
    pcd_updates: int = 100
    restarts: int = 1
    learning_rate: float = 0.01
    batch_size: int = 100
    draws: int = 1000
    tune: int = 200
    chains: int = 4
    n_chains: int = 25
    seed: int = 0
    robustness_seeds: tuple[int, ...] = tuple(range(10))
    compare_draws: int = 500
    compare_rows: int = 4
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def quick(cls) -> StudySettings:
        """Small sizes that run in seconds (for tests and ``--quick``)."""
        return cls(
            cd1_updates=150,
            long_updates=50,
            long_k=3,
            draws=200,
            tune=50,
            n_chains=10,
            compare_draws=60,
            compare_rows=2,
            pcd_updates=20,
            robustness_seeds=(0, 1, 2),
        )


def initial_experts(X: np.ndarray, settings: StudySettings, restart: int = 0) -> UniGauss:
    """Experts on randomly chosen data points, broad, mixing proportions 0.5, uniform on [0,1]².

    Restart 0 draws the points with ``settings.seed``, restart ``r > 0`` with
    the seed sequence ``[settings.seed, r]``.
    """
    rng = np.random.default_rng(settings.seed if restart == 0 else [settings.seed, restart])
    rows = rng.choice(len(X), settings.n_experts, replace=False)
    sigma = np.full((settings.n_experts, 2), settings.sigma0)
    pi = np.full(settings.n_experts, settings.pi0)
    return UniGauss(X[rows], sigma, pi, low=0.0, high=1.0)


def train_once(
    X: np.ndarray, settings: StudySettings, restart: int = 0
) -> tuple[UniGauss, xr.Dataset, float]:
    """One run from one start: CD-1, CD-``long_k``, then PCD-1 with mode jumps, with Adam.

    Returns the trained experts, the concatenated history and the training time.
    """
    experts = initial_experts(X, settings, restart)
    started = time.perf_counter()
    histories = []
    phases = [
        (1, settings.cd1_updates, settings.learning_rate, False, False),
        (
            settings.long_k,
            settings.long_updates,
            settings.learning_rate / 3,
            settings.long_persistent,
            settings.long_mode_jumps,
        ),
        (1, settings.pcd_updates, settings.learning_rate / 3, True, True),
    ]
    for phase, (k, n_updates, lr, persistent, mode_jumps) in enumerate(phases):
        if n_updates == 0:
            continue
        trainer = ContrastiveDivergence(
            experts,
            sampler="gibbs",
            k=k,
            batch_size=settings.batch_size,
            learning_rate=lr,
            optimizer="adam",
            persistent=persistent,
            step_kwargs={"mode_jumps": mode_jumps},
            random_seed=int(
                np.random.SeedSequence([settings.seed, restart, phase]).generate_state(1)[0]
            ),
        )
        history = trainer.fit(X, n_updates=n_updates, progressbar=False)
        histories.append(history.assign_coords(phase=("update", np.full(n_updates, phase))))
    history = xr.concat(histories, dim="update")
    history = history.assign_coords(update=np.arange(history.sizes["update"]))
    return experts, history, time.perf_counter() - started


def train(X: np.ndarray, settings: StudySettings) -> tuple[UniGauss, xr.Dataset, float]:
    """``settings.restarts`` runs of :func:`train_once`; keeps the best exact log-likelihood.

    Each restart starts from other experts (:func:`initial_experts`) and
    other sampler seeds; the run kept is the one whose mean training
    log-likelihood, with ``log Z`` by quadrature (:func:`mean_log_likelihood`),
    is highest: model selection by the training criterion, which never looks
    at the missing cell. The history gets ``restart_log_likelihood``
    (dimension ``restart``) and the attribute ``restart_chosen``.

    Returns the chosen experts, its history and the training time of all runs.
    """
    runs, seconds = [], 0.0
    for restart in range(settings.restarts):
        experts, history, run_seconds = train_once(X, settings, restart)
        runs.append((mean_log_likelihood(experts, X, n_grid=400), experts, history))
        seconds += run_seconds
    log_likelihoods = np.array([run[0] for run in runs])
    best = int(np.argmax(log_likelihoods))
    _, experts, history = runs[best]
    history = history.assign(restart_log_likelihood=("restart", log_likelihoods))
    history.attrs["restart_chosen"] = best
    return experts, history, seconds


def cell_shares(samples: np.ndarray) -> np.ndarray:
    """Share of the points whose nearest grid centre is each of the 25 centres, shape (25,)."""
    centres = grid_centres()
    points = np.asarray(samples).reshape(-1, 2)
    nearest = np.argmin(((points[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    return np.bincount(nearest, minlength=len(centres)) / len(points)


def fantasy_metrics(samples: np.ndarray, shares: np.ndarray | None = None) -> dict[str, float]:
    """``missing_cell_ratio`` and ``present_cells_covered`` of fantasies (any shape (..., 2)).

    ``missing_cell_ratio`` is the share of the missing cell over the mean
    share of the 24 present cells (1: filled in as much as an average cell);
    ``present_cells_covered`` counts the present cells holding at least 1 %.
    Pass ``shares`` (shape (25,), e.g. :func:`exact_cell_shares`) instead of
    samples to get the same numbers for given cell shares.
    """
    if shares is None:
        shares = cell_shares(samples)
    missing = int(np.argmin(((grid_centres() - np.asarray(MISSING)) ** 2).sum(-1)))
    present = np.delete(shares, missing)
    return {
        "missing_cell_ratio": float(shares[missing] / present.mean()),
        "present_cells_covered": int(np.sum(present >= 0.01)),
    }


def sample_experts(
    experts: UniGauss,
    settings: StudySettings,
    *,
    n_chains: int,
    draws: int,
    default_steps: bool = False,
    seed_offset: int = 0,
    mode_jumps: bool = True,
):
    """Fantasies with ``pm.sample``: UniGaussGibbs (chosen by PyMC) or PyMC's default steps.

    ``default_steps=True`` builds the joint model ``p(v, h)`` and hands PyMC
    the steps it assigns without pymc_ebm: NUTS on ``v`` and
    BinaryGibbsMetropolis on ``h``. ``mode_jumps=False`` (ignored with
    ``default_steps``) passes ``UniGaussGibbs(mode_jumps=False)``, the plain
    blocked Gibbs chain, instead of letting PyMC pick the step (which has the
    mode jumps on).

    Returns the DataTree and the seconds ``pm.sample`` took (compilation,
    tuning and draws).
    """
    with pm.Model():
        v = visible("v", experts, n_particles=n_chains)
        h = hidden("h", experts, v)
        if default_steps:
            step = [pm.NUTS([v]), pm.BinaryGibbsMetropolis([h])]
        elif not mode_jumps:
            step = UniGaussGibbs([v, h], mode_jumps=False)
        else:
            step = None
        started = time.perf_counter()
        idata = pm.sample(
            draws=draws,
            tune=settings.tune,
            chains=settings.chains,
            cores=1,
            step=step,
            random_seed=settings.seed + 100 + seed_offset,
            progressbar=False,
            compute_convergence_checks=False,
        )
    return idata, time.perf_counter() - started


def _cell_index(x: np.ndarray) -> np.ndarray:
    """Index 0..4 of the nearest grid line ``(i + 1)/6`` of each coordinate."""
    return np.clip(np.rint(np.asarray(x) * 6.0).astype(int), 1, 5) - 1


def exact_cell_shares(experts: UniGauss, n_grid: int = 1000) -> np.ndarray:
    """Exact mass of the 25 grid cells under the model, by quadrature, shape (25,).

    The cells are those of :func:`cell_shares` (the points nearest to each
    centre: rectangles on a regular grid), ordered like
    :func:`~pymc_ebm.datasets.grid_centres`. The density is normalised on
    ``n_grid × n_grid`` cells of the unit square
    (:func:`~pymc_ebm.evaluation.quadrature.grid_density`); the cell width must be well
    below the experts' smallest σ.
    """
    grid = grid_density(experts, n_points=n_grid)
    mass = grid.density * np.outer(np.diff(grid.edges[0]), np.diff(grid.edges[1]))
    one_hot = [np.eye(5)[_cell_index(points)] for points in grid.points]  # (n_grid, 5) each
    return (one_hot[0].T @ mass @ one_hot[1]).ravel()


def mean_log_likelihood(experts: UniGauss, X: np.ndarray, n_grid: int = 1000) -> float:
    """Exact mean ``log p(x)`` of the rows of ``X``, with ``log Z`` by 2-D quadrature."""
    log_z = grid_density(experts, n_points=n_grid).log_z
    return float(-np.mean(experts.energy_fn()(np.asarray(X, dtype=float))) - log_z)


def expert_orientation(experts: UniGauss, ratio: float = 4.0) -> np.ndarray:
    """``"vertical"``, ``"horizontal"`` or ``"blob"`` for each expert, shape (n_experts,).

    A vertical stripe is narrow in x (``σ_x · ratio < σ_y``): it pins the
    first coordinate to one grid column and leaves the second free; a
    horizontal stripe does the same for a grid row.
    """
    sigma = experts.sigma
    return np.where(
        sigma[:, 0] * ratio < sigma[:, 1],
        "vertical",
        np.where(sigma[:, 1] * ratio < sigma[:, 0], "horizontal", "blob"),
    )


def one_sweep_moves(
    experts: UniGauss,
    v: np.ndarray,
    n_repeats: int = 1,
    random_seed: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Chance that one plain blocked Gibbs sweep moves each point to another grid cell.

    Each row of ``v`` (shape ``(n, 2)``) is swept ``n_repeats`` times
    independently (``h | v``, then ``v | h``, no mode jump); the result, shape
    ``(n,)``, is the fraction of sweeps that end nearest to another centre
    than they started.
    """
    rng = np.random.default_rng(random_seed)
    start = np.repeat(np.asarray(v, dtype=float).reshape(-1, 2), n_repeats, axis=0)
    end, _ = UniGaussKernel(experts).sweep(start, rng)
    before, after = _cell_index(start), _cell_index(end)
    moved = np.any(before != after, axis=1)
    return moved.reshape(-1, n_repeats).mean(axis=1)


def cell_switch_rate(samples: np.ndarray) -> float:
    """Fraction of consecutive draws whose nearest grid centre differs.

    ``samples`` has shape ``(chain, draw, row, 2)`` (a ``pm.sample`` posterior
    of ``v``); every row of every chain is one Markov chain.
    """
    cells = _cell_index(samples)
    cell = cells[..., 0] * 5 + cells[..., 1]
    return float(np.mean(np.diff(cell, axis=1) != 0))


def ess_per_second(idata, seconds: float) -> float:
    """Median bulk ESS of ``v`` per second of sampling."""
    return float(np.median(summary(idata, var_names=["v"]).variables["ess_bulk"]) / seconds)


def meets_target(metrics: dict[str, float]) -> bool:
    """The study's target: missing-cell ratio at least 0.5 and all 24 present cells covered."""
    return bool(metrics["missing_cell_ratio"] >= 0.5 and metrics["present_cells_covered"] == 24)


def seed_table(
    settings: StudySettings, trained: dict[int, UniGauss] | None = None
) -> list[dict[str, Any]]:
    """Train on each of ``settings.robustness_seeds``; exact cell masses of each model.

    For every seed ``s`` the data, the initial experts and the samplers follow
    ``s`` (``replace(settings, seed=s)``); ``trained`` maps seeds already
    trained to their experts. Returns one row per seed: ``seed``,
    ``missing_cell_ratio`` and ``present_cells_covered`` of the exact cell
    masses (:func:`exact_cell_shares`), ``log_likelihood`` (mean training
    log-likelihood, :func:`mean_log_likelihood`) and ``meets_target``.
    """
    rows = []
    for seed in settings.robustness_seeds:
        X = grid_clusters(settings.n_data, missing=MISSING, random_seed=seed)
        experts = (trained or {}).get(seed)
        if experts is None:
            experts, _, _ = train(X, replace(settings, seed=seed))
        metrics = fantasy_metrics(None, shares=exact_cell_shares(experts))
        rows.append(
            {
                "seed": seed,
                **metrics,
                "log_likelihood": mean_log_likelihood(experts, X),
                "meets_target": meets_target(metrics),
            }
        )
    return rows


SUMMARY_DESCRIPTION = {
    "seed": "seed of the run shown (data, initial experts, samplers): its fantasies, figures "
    "and single-seed figures below",
    "robustness_seeds": "the seeds the recipe is trained on again for the *_over_seeds "
    "figures and per_seed (the shown run is reused when among them)",
    "missing_cell_ratio": "fantasies' share of the empty cell over the mean share of the 24 "
    "present cells (1: filled as much as an average cell), from the pm.sample draws",
    "present_cells_covered": "present cells holding at least 1 % of the fantasies (of 24)",
    "missing_cell_ratio_exact": "missing_cell_ratio of the trained density itself (cell "
    "masses by quadrature), shown run",
    "missing_cell_ratio_exact_over_seeds": "median, min and max of missing_cell_ratio_exact "
    "over the robustness seeds",
    "present_cells_covered_exact": "present cells with at least 1 % of the exact mass, shown run",
    "present_cells_covered_exact_over_seeds": "median, min and max of "
    "present_cells_covered_exact over the robustness seeds",
    "log_likelihood": "exact mean log p(x) of the training data, nats per point (log Z by "
    "quadrature), shown run",
    "log_likelihood_over_seeds": "median, min and max of log_likelihood over the robustness seeds",
    "meets_target": "whether the shown run meets the study's target: "
    "missing_cell_ratio_exact >= 0.5 and all 24 present cells covered",
    "seeds_meeting_target": "how many robustness seeds meet the target",
    "n_seeds": "number of robustness seeds",
    "rhat_max": "largest R-hat of the fantasies' coordinates (chains of pm.sample)",
    "ess_bulk_min": "smallest bulk effective sample size of the fantasies' coordinates",
    "train_seconds": "seconds of training of the shown run (all restarts)",
    "sample_seconds": "seconds of pm.sample for the fantasies (compilation and tuning included)",
    "n_fantasies": "number of fantasy points (chains x draws x rows)",
    "final_energy_gap": "mean energy of the data minus that of the negatives over the last "
    "100 updates",
    "per_seed": "one row per robustness seed: seed, missing_cell_ratio and "
    "present_cells_covered of the exact cell masses, log_likelihood, meets_target",
    "ess_per_second_gibbs": "median bulk ESS per second of UniGaussGibbs (mode jumps on)",
    "ess_per_second_default": "median bulk ESS per second of PyMC's default steps (NUTS on v, "
    "BinaryGibbsMetropolis on h)",
    "ess_per_second_ratio": "ess_per_second_gibbs / ess_per_second_default",
}
"""What each key of the demo's ``summary.json`` means (its ``description`` entry)."""


def headline(result: dict[str, Any]) -> str:
    """The summary's main figures as a small table: the shown run beside the robustness seeds.

    Each line gives a figure of the run shown (seed ``result["seed"]``), then
    its median and range over ``result["robustness_seeds"]``.
    """
    rows = [
        ("missing-cell ratio (exact)", "missing_cell_ratio_exact", ".2f"),
        ("present cells covered (exact)", "present_cells_covered_exact", ".0f"),
        ("training log-likelihood", "log_likelihood", ".3f"),
    ]
    seeds = result["robustness_seeds"]
    lines = [
        f"{'':31}{'seed ' + str(result['seed']):>9}   median [min, max] over seeds "
        f"{seeds[0]}-{seeds[-1]} ({len(seeds)} runs)"
    ]
    for label, key, fmt in rows:
        over = result[f"{key}_over_seeds"]
        lines.append(
            f"{label:31}{result[key]:>9{fmt}}   {over['median']:{fmt}} "
            f"[{over['min']:{fmt}}, {over['max']:{fmt}}]"
        )
    lines.append(
        f"{'meets the target':31}{'yes' if result['meets_target'] else 'no':>9}   "
        f"{result['seeds_meeting_target']} of {result['n_seeds']} seeds"
    )
    return "\n".join(lines)


def run(
    out_dir: str | Path, quick: bool = False, compare: bool = True, seed: int | None = None
) -> dict[str, Any]:
    """Train, sample fantasies, diagnose, draw figures, write ``summary.json``.

    Parameters
    ----------
    out_dir : path
        Where figures and ``summary.json`` go (created).
    quick : bool
        Use :meth:`StudySettings.quick`.
    compare : bool
        Also time PyMC's default NUTS + BinaryGibbsMetropolis on the same model.
    seed : int, optional
        Seed of the run whose fantasies and figures are shown (default:
        :class:`StudySettings`', 0); the robustness table (:func:`seed_table`,
        ``per_seed`` in the summary) trains on ``settings.robustness_seeds``,
        and the summary gives the median and range over them beside the
        shown run's figures (``*_over_seeds``, printed by :func:`headline`).

    Returns
    -------
    dict
        The summary written to ``summary.json``.
    """
    from pymc_ebm_demos import unigauss_figures as figures

    settings = StudySettings.quick() if quick else StudySettings()
    if seed is not None:
        settings = replace(settings, seed=seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    X = grid_clusters(settings.n_data, missing=MISSING, random_seed=settings.seed)
    experts, history, train_seconds = train(X, settings)
    idata, sample_seconds = sample_experts(
        experts, settings, n_chains=settings.n_chains, draws=settings.draws
    )
    diagnostics: DiagnosticsSummary = summary(idata, var_names=["v"])
    fantasies = idata.posterior["v"].values
    per_seed = seed_table(settings, trained={settings.seed: experts})
    exact = fantasy_metrics(None, exact_cell_shares(experts))
    result: dict[str, Any] = {
        "seed": settings.seed,
        "robustness_seeds": [row["seed"] for row in per_seed],
        **fantasy_metrics(fantasies),
        "missing_cell_ratio_exact": exact["missing_cell_ratio"],
        "missing_cell_ratio_exact_over_seeds": spread(r["missing_cell_ratio"] for r in per_seed),
        "present_cells_covered_exact": exact["present_cells_covered"],
        "present_cells_covered_exact_over_seeds": spread(
            r["present_cells_covered"] for r in per_seed
        ),
        "log_likelihood": mean_log_likelihood(experts, X),
        "log_likelihood_over_seeds": spread(r["log_likelihood"] for r in per_seed),
        "meets_target": meets_target(exact),
        "seeds_meeting_target": sum(row["meets_target"] for row in per_seed),
        "n_seeds": len(per_seed),
        "rhat_max": diagnostics.rhat_max,
        "ess_bulk_min": diagnostics.ess_bulk_min,
        "train_seconds": train_seconds,
        "sample_seconds": sample_seconds,
        "n_fantasies": int(np.prod(fantasies.shape[:-1])),
        "final_energy_gap": float(history["energy_gap"][-100:].mean()),
        "per_seed": per_seed,
    }
    print(diagnostics)
    if compare:
        gibbs, gibbs_s = sample_experts(
            experts,
            settings,
            n_chains=settings.compare_rows,
            draws=settings.compare_draws,
            seed_offset=1,
        )
        default, default_s = sample_experts(
            experts,
            settings,
            n_chains=settings.compare_rows,
            draws=settings.compare_draws,
            default_steps=True,
            seed_offset=2,
        )
        result["ess_per_second_gibbs"] = ess_per_second(gibbs, gibbs_s)
        result["ess_per_second_default"] = ess_per_second(default, default_s)
        result["ess_per_second_ratio"] = result["ess_per_second_gibbs"] / max(
            result["ess_per_second_default"], 1e-12
        )
        figures.mixing(gibbs, default, out / "mixing.png")
    figures.experts(X, experts, expert_orientation(experts), out / "experts.png")
    figures.free_energy(X, experts, out / "free_energy.png")
    figures.fantasies(X, fantasies, out / "fantasies.png")
    figures.training(history, out / "training.png")
    result = write_summary(out / "summary.json", result, SUMMARY_DESCRIPTION)
    print(json.dumps(result, indent=2))
    print(headline(result))
    return result
