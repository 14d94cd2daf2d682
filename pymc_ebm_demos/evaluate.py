"""Learning rules compared exactly: held-out log-likelihood curves on the 2-D problems.

Contrastive divergence never computes the log-likelihood it approximately
climbs. In two dimensions ``log Z`` is exact by quadrature
(:func:`pymc_ebm.log_partition` with ``method="quadrature"``), so the
held-out log-likelihood (:func:`pymc_ebm.log_likelihood`) of a model being
learned can be followed every few hundred updates, and so can that of true
maximum likelihood, whose model term ``⟨∂E/∂θ⟩_p`` is computed exactly on the
grid (:class:`~pymc_ebm.training.exact_gradient.MaximumLikelihood`).

Two problems, each with the same data, held-out data, initial parameters and
optimiser (Adam) for every rule of a seed:

* ``"clusters"``: 15 uni-gauss experts on the 24 clusters of
  :mod:`pymc_ebm_demos.unigauss_clusters`;
* ``"squares"``: the network of deterministic hidden units
  (:class:`~pymc_ebm.MLPEnergy`) on the four squares of
  :mod:`pymc_ebm_demos.four_squares`.

Six rules (:data:`RULES`), all one update per minibatch of 100 rows:

========== ==================================================================
rule       negative samples
========== ==================================================================
cd1        CD-1: one Gibbs sweep from the data (clusters); one HMC transition
           of one leapfrog step, i.e. Metropolis-adjusted Langevin (squares)
cd10       CD-10: ten such sweeps / transitions from the data
pcd        persistent CD: one sweep (clusters) or one 10-step HMC trajectory
           (squares) from the chains of the previous update
hmc        the lecture's HMC shortcut: from the data, momentum drawn once,
           10 leapfrog steps, a Metropolis test (:class:`~pymc_ebm.ShortRunHMC`)
online_hmc the lecture's online HMC: from the data, 30 leapfrog steps with the
           momentum renewed every 5 (``renew_momentum=5``)
ml         none: the exact model term on the quadrature grid
========== ==================================================================

The measured curves (full size, seeds 0-2) and what they say are in the case
study ``case_studies/07_how_good_is_the_model``, section 5.

Shared by ``python -m pymc_ebm_demos evaluate`` and the case study
``case_studies/07_how_good_is_the_model``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from pymc_ebm import (
    ContrastiveDivergence,
    Energy,
    MLPEnergy,
    grid_density,
    log_likelihood,
    log_partition,
)
from pymc_ebm.datasets import four_squares, grid_clusters
from pymc_ebm.training import NonFiniteUpdateError
from pymc_ebm.training.exact_gradient import MaximumLikelihood
from pymc_ebm_demos import unigauss_clusters
from pymc_ebm_demos.four_squares import BOX
from pymc_ebm_demos.summaries import write_summary

__all__ = [
    "PROBLEMS",
    "SUMMARY_DESCRIPTION",
    "RULES",
    "EvaluateSettings",
    "Problem",
    "compare",
    "densities",
    "held_out",
    "make_problem",
    "make_trainer",
    "run",
    "summarise",
    "table",
    "train_rule",
]

RULES = ("cd1", "cd10", "pcd", "hmc", "online_hmc", "ml")
PROBLEMS = ("clusters", "squares")
RULE_LABELS = {
    "cd1": "CD-1",
    "cd10": "CD-10",
    "pcd": "persistent CD",
    "hmc": "HMC shortcut",
    "online_hmc": "online HMC",
    "ml": "maximum likelihood",
}
SQUARE_SIDE = 0.8


@dataclass(frozen=True)
class EvaluateSettings:
    """Sizes of the comparison; :meth:`quick` shrinks them for tests.

    ``n_updates``, ``learning_rate`` and ``n_grid_train``/``n_grid_eval``
    (quadrature cells per dimension for the ML gradient and for ``log Z``)
    are per problem. The clusters have a standard deviation of 0.0067: on
    cells of width ``1/300`` (scoring) or ``1/100`` (ML gradient) the
    midpoint rule is exact to far below 0.01 nats, or a relative 3e-4, for
    Gaussian bumps of that width (its error falls like ``exp(-2π²σ²/h²)``).
    The network's ML gradient uses 48² cells of width 1/12 (a network with
    sigmoid units is smooth on that scale).
    """

    seeds: tuple[int, ...] = (0, 1, 2)
    n_updates: dict[str, int] = field(default_factory=lambda: {"clusters": 2000, "squares": 2000})
    every: int = 250
    rules: tuple[str, ...] = RULES
    problems: tuple[str, ...] = PROBLEMS
    n_test: int = 2000
    batch_size: int = 100
    learning_rate: dict[str, float] = field(
        default_factory=lambda: {"clusters": 0.01, "squares": 0.03}
    )
    step_size: float = 0.05
    hidden: tuple[int, ...] = (32, 16)
    n_grid_train: dict[str, int] = field(default_factory=lambda: {"clusters": 100, "squares": 48})
    n_grid_eval: dict[str, int] = field(default_factory=lambda: {"clusters": 300, "squares": 200})

    @classmethod
    def quick(cls, seed: int = 0) -> EvaluateSettings:
        """Two seeds, short runs, small network (for tests and ``--quick``)."""
        return cls(
            seeds=(seed, seed + 1),
            n_updates={"clusters": 100, "squares": 100},
            every=100,
            n_test=500,
            hidden=(16, 8),
            n_grid_train={"clusters": 64, "squares": 48},
            n_grid_eval={"clusters": 200, "squares": 100},
        )

    def with_seed(self, seed: int) -> EvaluateSettings:
        """The same settings with seeds ``seed, seed + 1, ...`` (as many as before)."""
        return replace(self, seeds=tuple(seed + i for i in range(len(self.seeds))))


@dataclass(frozen=True)
class Problem:
    """One problem at one seed: training and held-out data, and a fresh initial energy."""

    name: str
    seed: int
    X: np.ndarray
    X_test: np.ndarray
    settings: EvaluateSettings

    def initial_energy(self) -> Energy:
        """The initial parameters of this seed (the same for every rule)."""
        if self.name == "clusters":
            # 15 experts of width 0.2 on random data points (the measured runs; the
            # 24-cluster study itself now starts wider)
            study = unigauss_clusters.StudySettings(seed=self.seed, sigma0=0.2, pi0=0.5)
            return unigauss_clusters.initial_experts(self.X, study)
        return MLPEnergy(2, hidden=self.settings.hidden, box=BOX, random_seed=self.seed)


def make_problem(name: str, seed: int, settings: EvaluateSettings) -> Problem:
    """Data of ``name`` (``"clusters"``: 300 rows; ``"squares"``: 2000) and held-out data.

    The held-out rows (``settings.n_test``) are drawn with seed ``seed + 1000``.
    """
    if name == "clusters":
        missing = unigauss_clusters.MISSING
        X = grid_clusters(300, missing=missing, random_seed=seed)
        X_test = grid_clusters(settings.n_test, missing=missing, random_seed=seed + 1000)
    elif name == "squares":
        X = four_squares(2000, side=SQUARE_SIDE, random_seed=seed)
        X_test = four_squares(settings.n_test, side=SQUARE_SIDE, random_seed=seed + 1000)
    else:
        raise ValueError(f"problem must be one of {PROBLEMS}, got {name!r}")
    return Problem(name, seed, X, X_test, settings)


def make_trainer(problem: Problem, rule: str, energy: Energy):
    """The trainer of ``rule`` (see the module docstring) for ``energy``, with Adam."""
    settings = problem.settings
    common = {
        "batch_size": settings.batch_size,
        "learning_rate": settings.learning_rate[problem.name],
        "optimizer": "adam",
        "random_seed": problem.seed,
    }
    if rule == "ml":
        return MaximumLikelihood(energy, n_points=settings.n_grid_train[problem.name], **common)
    hmc = {"step_size": settings.step_size}
    gibbs = problem.name == "clusters"
    options: dict[str, dict[str, Any]] = {
        "cd1": {"k": 1, "step_kwargs": {"mode_jumps": False} if gibbs else {**hmc, "n_steps": 1}},
        "cd10": {
            "k": 10,
            "step_kwargs": {"mode_jumps": False} if gibbs else {**hmc, "n_steps": 1},
        },
        "pcd": {
            "k": 1,
            "persistent": True,
            "step_kwargs": {"mode_jumps": False} if gibbs else {**hmc, "n_steps": 10},
        },
        "hmc": {"k": 1, "sampler": "hmc", "step_kwargs": {**hmc, "n_steps": 10}},
        "online_hmc": {
            "k": 1,
            "sampler": "hmc",
            "step_kwargs": {**hmc, "n_steps": 30, "renew_momentum": 5},
        },
    }
    if rule not in options:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    kwargs = {"sampler": "gibbs" if gibbs else "hmc", **options[rule]}
    return ContrastiveDivergence(energy, **kwargs, **common)


def held_out(problem: Problem, energy: Energy) -> float:
    """Exact mean held-out log-likelihood (``log Z`` by quadrature), nats per point."""
    log_z = log_partition(
        energy, "quadrature", n_points=problem.settings.n_grid_eval[problem.name]
    )
    return log_likelihood(energy, problem.X_test, log_z).mean


def train_rule(problem: Problem, rule: str) -> tuple[xr.DataArray, Energy, float]:
    """Train from the seed's initial energy with ``rule``, scoring held-out data every few updates.

    Returns the curve (held-out log-likelihood over ``update``, the number
    of updates done, from 0), the trained energy and the training seconds
    (scoring excluded). An update that fails (non-finite) ends the run; the
    rest of the curve is NaN.
    """
    settings = problem.settings
    n_updates = settings.n_updates[problem.name]
    if n_updates % settings.every:
        raise ValueError(f"n_updates={n_updates} must be a multiple of every={settings.every}")
    energy = problem.initial_energy()
    trainer = make_trainer(problem, rule, energy)
    checkpoints = np.arange(0, n_updates + 1, settings.every)
    scores = np.full(len(checkpoints), np.nan)
    scores[0] = held_out(problem, energy)
    seconds = 0.0
    for i in range(1, len(checkpoints)):
        started = time.perf_counter()
        try:
            trainer.fit(problem.X, n_updates=settings.every, progressbar=False)
        except NonFiniteUpdateError:
            break
        seconds += time.perf_counter() - started
        scores[i] = held_out(problem, energy)
    curve = xr.DataArray(scores, coords={"update": checkpoints}, dims="update")
    return curve, energy, seconds


def compare(settings: EvaluateSettings) -> tuple[xr.DataArray, dict[str, Any]]:
    """Every rule on every problem and seed.

    Returns the curves, a DataArray over ``(problem, rule, seed, update)``
    (updates past a problem's length are NaN), and for each problem the
    final models of the first seed (key ``(problem, rule)``) and the seconds
    of each run (key ``(problem, rule, seed)``).
    """
    longest = max(settings.n_updates[p] for p in settings.problems)
    updates = np.arange(0, longest + 1, settings.every)
    curves = xr.DataArray(
        np.full(
            (len(settings.problems), len(settings.rules), len(settings.seeds), len(updates)),
            np.nan,
        ),
        coords={
            "problem": list(settings.problems),
            "rule": list(settings.rules),
            "seed": list(settings.seeds),
            "update": updates,
        },
        dims=("problem", "rule", "seed", "update"),
        name="held_out_log_likelihood",
    )
    extras: dict[str, Any] = {"models": {}, "seconds": {}}
    for name in settings.problems:
        for seed in settings.seeds:
            problem = make_problem(name, seed, settings)
            for rule in settings.rules:
                curve, energy, seconds = train_rule(problem, rule)
                curves.loc[name, rule, seed, curve["update"]] = curve.values
                extras["seconds"][(name, rule, seed)] = seconds
                if seed == settings.seeds[0]:
                    extras["models"][(name, rule)] = energy
    return curves, extras


def summarise(curves: xr.DataArray, settings: EvaluateSettings) -> dict[str, Any]:
    """Final held-out log-likelihood per problem and rule: mean and sd over seeds, gap to ML.

    The gap is paired by seed (``rule − ml`` at the same seed, then mean and
    sd over seeds); ``closest_to_ml`` is the rule other than ML with the
    smallest mean absolute gap. Standard deviations use ``ddof=1``.
    """
    result: dict[str, Any] = {}
    for name in settings.problems:
        final = curves.sel(problem=name, update=settings.n_updates[name])
        rules: dict[str, Any] = {}
        for rule in settings.rules:
            values = final.sel(rule=rule).values
            entry: dict[str, Any] = {
                "final_mean": float(np.mean(values)),
                "final_sd": float(np.std(values, ddof=1)),
                "per_seed": [float(v) for v in values],
            }
            if "ml" in settings.rules:
                gap = values - final.sel(rule="ml").values
                entry["gap_to_ml_mean"] = float(np.mean(gap))
                entry["gap_to_ml_sd"] = float(np.std(gap, ddof=1))
            rules[rule] = entry
        summary: dict[str, Any] = {
            "rules": rules,
            "initial_mean": float(curves.sel(problem=name, update=0).mean()),
            "n_updates": settings.n_updates[name],
        }
        if "ml" in settings.rules:
            others = [r for r in settings.rules if r != "ml"]
            summary["closest_to_ml"] = min(others, key=lambda r: abs(rules[r]["gap_to_ml_mean"]))
        if name == "squares":
            summary["data_log_density"] = float(-np.log(4 * SQUARE_SIDE**2))
        result[name] = summary
    return result


def densities(models: dict[tuple[str, str], Energy], n_points: int = 240) -> dict:
    """Normalised densities of the final models on a grid, for the figure.

    240 points per side: at full size a trained model's peaks are too narrow for 120
    (``grid_density`` refuses a marginal that falls by more than 2 nats per cell).
    """
    return {key: grid_density(energy, n_points=n_points) for key, energy in models.items()}


SUMMARY_DESCRIPTION = {
    "seeds": "the seeds every rule is trained on (data, initial model, samplers)",
    "every": "updates between two held-out log-likelihood evaluations (curves.nc)",
    "problems": "per problem (clusters, squares): n_updates, initial_mean (held-out "
    "log-likelihood of the start, nats per point), closest_to_ml (the rule whose mean gap to "
    "maximum likelihood is smallest), data_log_density (squares: that of the true density), "
    "and per rule final_mean, final_sd (over seeds), per_seed, gap_to_ml_mean, gap_to_ml_sd "
    "(rule minus ML at the same seed)",
    "train_seconds": "mean training seconds per problem/rule over the seeds",
    "seconds": "seconds of the whole comparison",
}
"""What each key of the demo's ``summary.json`` means (its ``description`` entry)."""


def run(out_dir: str | Path, quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Compare the rules, draw the curves and the learned densities, write ``summary.json``.

    Parameters
    ----------
    out_dir : path
        Where ``curves.png``, ``densities.png``, ``curves.nc`` and ``summary.json`` go.
    quick : bool
        Use :meth:`EvaluateSettings.quick` (two seeds, 100 updates).
    seed : int
        The first seed; the runs use ``seed, seed + 1, seed + 2`` (quick: two).

    Returns
    -------
    dict
        The summary written to ``summary.json``: settings, and per problem
        ``rules`` (``final_mean``, ``final_sd``, ``per_seed``,
        ``gap_to_ml_mean``, ``gap_to_ml_sd``), ``closest_to_ml``.
    """
    from pymc_ebm_demos import evaluate_figures as figures

    settings = EvaluateSettings.quick(seed) if quick else EvaluateSettings().with_seed(seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    curves, extras = compare(settings)
    result: dict[str, Any] = {
        "seeds": list(settings.seeds),
        "every": settings.every,
        "problems": summarise(curves, settings),
        "train_seconds": {
            f"{p}/{r}": float(np.mean([extras["seconds"][(p, r, s)] for s in settings.seeds]))
            for p in settings.problems
            for r in settings.rules
        },
        "seconds": time.perf_counter() - started,
    }
    curves.to_dataset().to_netcdf(out / "curves.nc")
    figures.curves(
        curves,
        RULE_LABELS,
        out / "curves.png",
        true_log_density={"squares": -np.log(4 * SQUARE_SIDE**2)},
    )
    figures.densities(densities(extras["models"]), RULE_LABELS, out / "densities.png")
    result = write_summary(out / "summary.json", result, SUMMARY_DESCRIPTION)
    print(table(result))
    return result


def table(result: dict[str, Any]) -> str:
    """The final held-out log-likelihoods as a text table (rule × problem, mean ± sd)."""
    problems = list(result["problems"])
    rules = list(result["problems"][problems[0]]["rules"])
    lines = [f"{'rule':<20}" + "".join(f"{p:>28}" for p in problems)]
    for rule in rules:
        cells = []
        for p in problems:
            entry = result["problems"][p]["rules"][rule]
            gap = entry.get("gap_to_ml_mean", np.nan)
            cells.append(f"{entry['final_mean']:8.3f} ± {entry['final_sd']:.3f} (gap {gap:+.3f})")
        lines.append(f"{RULE_LABELS[rule]:<20}" + "".join(f"{c:>28}" for c in cells))
    return "\n".join(lines)
