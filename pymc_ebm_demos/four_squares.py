"""The 4-squares study: a network of deterministic hidden units learned with the HMC shortcut.

Shared by ``python -m pymc_ebm_demos four-squares`` and the case-study
notebook ``case_studies/03_four_squares``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytensor
import pytensor.tensor as pt
import xarray as xr
from scipy.special import logsumexp

from pymc_ebm import BoxJump, ContrastiveDivergence, MLPEnergy, backends, sample_fantasies
from pymc_ebm.datasets import FOUR_SQUARE_CENTRES, four_squares, square_index
from pymc_ebm.evaluation.diagnostics import summary
from pymc_ebm.step_methods import hmc_with_box_jumps
from pymc_ebm_demos.summaries import write_summary

__all__ = [
    "SUMMARY_DESCRIPTION",
    "SquaresSettings",
    "box_starts",
    "exact_metrics",
    "exact_metrics_fn",
    "fantasy_metrics",
    "fit_tracked",
    "make_trainer",
    "quadrant",
    "ridge_heights",
    "run",
    "seed_table",
    "fantasy_steps",
    "sample_fantasies_from_box",
    "square_switches",
    "train",
    "unit_energies",
    "unit_energy_maps",
    "within_square_diagnostics",
]

BOX = (-2.0, 2.0)
_SQUARE_LABELS = [f"({x:+.0f}, {y:+.0f})" for x, y in FOUR_SQUARE_CENTRES]


@dataclass(frozen=True)
class SquaresSettings:
    """Sizes of the study; :meth:`quick` shrinks them for tests."""

    n_data: int = 2000
    side: float = 0.8
    hidden: tuple[int, ...] = (32, 16)
    activation: str = "sigmoid"
    n_updates: int = 20000
    batch_size: int = 100
    learning_rate: float = 0.01
    n_steps: int = 10
    persistent: bool = True
    box_jumps: bool = True
    step_size: float = 0.1
    draws: int = 1000
    tune: int = 300
    chains: int = 4
    n_chains: int = 100
    seed: int = 0
    robustness_seeds: tuple[int, ...] = (0, 1, 2, 3, 4)

    @classmethod
    def quick(cls, seed: int = 0) -> SquaresSettings:
        """Small sizes that run in seconds (for tests and ``--quick``)."""
        return cls(
            n_updates=150,
            draws=100,
            tune=100,
            n_chains=10,
            hidden=(16, 8),
            seed=seed,
            robustness_seeds=(seed, seed + 1),
        )


def make_trainer(
    settings: SquaresSettings,
    *,
    step_kwargs: dict[str, Any] | None = None,
    persistent: bool = False,
    box_jumps: bool = False,
) -> tuple[MLPEnergy, ContrastiveDivergence]:
    """The network and its trainer, as :func:`train` builds them, before any update.

    ``step_kwargs`` are merged over the settings' ``n_steps`` and
    ``step_size`` for :class:`~pymc_ebm.ShortRunHMC` (e.g. ``{"n_steps": 30,
    "renew_momentum": 5}`` for the lecture's online HMC learning procedure);
    ``persistent=True`` keeps the negative chains between updates;
    ``box_jumps=True`` adds :class:`~pymc_ebm.BoxJump` moves after each HMC
    draw (:func:`~pymc_ebm.step_methods.hmc_with_box_jumps`). Calling
    ``fit`` on the trainer several times continues the same run: ``fit(X, a)``
    then ``fit(X, b)`` gives the parameters of ``fit(X, a + b)``.
    """
    net = MLPEnergy(
        2,
        hidden=settings.hidden,
        activation=settings.activation,
        box=BOX,
        random_seed=settings.seed,
    )
    trainer = ContrastiveDivergence(
        net,
        sampler=hmc_with_box_jumps if box_jumps else "hmc",
        k=1,
        batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        optimizer="adam",
        persistent=persistent,
        step_kwargs={
            "n_steps": settings.n_steps,
            "step_size": settings.step_size,
            **(step_kwargs or {}),
        },
        random_seed=settings.seed,
    )
    return net, trainer


def train(X: np.ndarray, settings: SquaresSettings) -> tuple[MLPEnergy, xr.Dataset, float]:
    """Train the network: the settings' negative phase, HMC (+ box jumps, persistent chains).

    With ``persistent=False, box_jumps=False`` this is the lecture's HMC
    shortcut (momentum once, a few leapfrog steps from each datavector); the
    defaults keep the chains and add box jumps, so that the negative samples
    move between the squares and the learned masses of the squares balance.
    """
    net, trainer = make_trainer(
        settings, persistent=settings.persistent, box_jumps=settings.box_jumps
    )
    started = time.perf_counter()
    history = trainer.fit(X, n_updates=settings.n_updates, progressbar=False)
    return net, history, time.perf_counter() - started


def fantasy_metrics(samples: np.ndarray, side: float) -> dict[str, Any]:
    """``inside_fraction`` and ``square_shares`` of fantasies (any shape ``(..., 2)``)."""
    index = square_index(samples, side=side)
    inside = index >= 0
    shares = np.bincount(index[inside], minlength=4) / max(int(inside.sum()), 1)
    return {"inside_fraction": float(inside.mean()), "square_shares": shares.tolist()}


def exact_metrics_fn(
    net: MLPEnergy, side: float, n_grid: int = 400
) -> Callable[[], dict[str, Any]]:
    """Compile once, then compute :func:`exact_metrics` of the net's current parameters.

    The returned function re-reads the shared parameters at every call, so it
    can follow the model during training at the cost of one energy
    evaluation on the grid.
    """
    low, high = BOX
    edges = np.linspace(low, high, n_grid + 1)
    mid = 0.5 * (edges[:-1] + edges[1:])
    gx, gy = np.meshgrid(mid, mid, indexing="ij")
    points = np.c_[gx.ravel(), gy.ravel()]
    index = square_index(points, side=side)
    evaluate = net.energy_fn()

    def metrics() -> dict[str, Any]:
        neg_energy = -np.asarray(evaluate(points), dtype=float)
        weights = np.exp(neg_energy - logsumexp(neg_energy))  # cell masses, summing to 1
        per_square = np.bincount(index[index >= 0], weights=weights[index >= 0], minlength=4)
        inside = float(per_square.sum())
        return {
            "inside_fraction": inside,
            "square_shares": (per_square / max(inside, 1e-300)).tolist(),
        }

    return metrics


def exact_metrics(net: MLPEnergy, side: float, n_grid: int = 400) -> dict[str, Any]:
    """``inside_fraction`` and ``square_shares`` of the model itself, by quadrature.

    The same numbers as :func:`fantasy_metrics`, but from the exact density
    ``exp(-E) / Z`` on ``n_grid × n_grid`` equal cells of the box (midpoint
    rule, as :func:`~pymc_ebm.evaluation.quadrature.grid_density`): what the model
    believes, whatever a sampler manages to reach. With ``n_grid`` a multiple
    of 20 (cells of width ``4 / n_grid``) the edges of squares of side 0.8
    fall on cell edges.
    """
    return exact_metrics_fn(net, side, n_grid)()


def fit_tracked(
    trainer: ContrastiveDivergence,
    X: np.ndarray,
    n_updates: int,
    every: int,
    side: float,
    n_grid: int = 200,
) -> tuple[xr.Dataset, xr.Dataset]:
    """``trainer.fit`` in blocks of ``every`` updates, with the exact square masses after each.

    Returns the trainer's history (all updates so far) and a Dataset over
    ``update`` (the number of updates done at each checkpoint) with
    ``inside_fraction`` and ``square_share`` (dimension ``square``), from
    :func:`exact_metrics_fn` on an ``n_grid × n_grid`` grid. The parameters
    end as those of ``trainer.fit(X, n_updates)``.
    """
    if n_updates % every:
        raise ValueError(f"n_updates={n_updates} must be a multiple of every={every}")
    metrics = exact_metrics_fn(trainer.energy, side, n_grid)
    done = trainer.history.sizes.get("update", 0)
    checkpoints, inside, shares = [], [], []
    for _ in range(n_updates // every):
        trainer.fit(X, n_updates=every, progressbar=False)
        done += every
        result = metrics()
        checkpoints.append(done)
        inside.append(result["inside_fraction"])
        shares.append(result["square_shares"])
    track = xr.Dataset(
        {
            "inside_fraction": ("update", np.array(inside)),
            "square_share": (("update", "square"), np.array(shares)),
        },
        coords={"update": np.array(checkpoints), "square": _SQUARE_LABELS},
    )
    return trainer.history, track


def ridge_heights(net: MLPEnergy, n_points: int = 401) -> pd.DataFrame:
    """Energy barriers between neighbouring squares, along the lines joining their centres.

    For each pair of neighbouring squares: the energy at the two centres
    (``floor_a``, ``floor_b``) and the highest energy on the straight
    segment between them (``ridge``), all relative to the lower floor, and
    ``barrier = ridge − max(floor_a, floor_b)``, the climb out of the
    shallower square. The straight line crosses the gap at right angles, so
    its highest point is close to the lowest pass.
    """
    evaluate = net.energy_fn()
    t = np.linspace(0.0, 1.0, n_points)[:, None]
    rows = []
    for a, b in [(0, 1), (0, 2), (1, 3), (2, 3)]:
        ca, cb = FOUR_SQUARE_CENTRES[a], FOUR_SQUARE_CENTRES[b]
        line = np.asarray(evaluate(ca + t * (cb - ca)), dtype=float)
        fa, fb = float(line[0]), float(line[-1])
        low = min(fa, fb)
        rows.append(
            {
                "squares": f"{_SQUARE_LABELS[a]} - {_SQUARE_LABELS[b]}",
                "floor_a": fa - low,
                "floor_b": fb - low,
                "ridge": float(line.max()) - low,
                "barrier": float(line.max()) - max(fa, fb),
            }
        )
    return pd.DataFrame(rows).set_index("squares")


def unit_energies(net: MLPEnergy, points: np.ndarray) -> np.ndarray:
    """Energy contributed by each top unit, ``s_k a_k(v)``, shape ``(n, n_top)``.

    Their sum over ``k`` is ``E(v)``.
    """
    v = pt.matrix("v", dtype=pytensor.config.floatX)
    fn = backends.function([v], net.activities(v) * net.scale)
    return np.asarray(fn(np.asarray(points, dtype=pytensor.config.floatX)))


def unit_energy_maps(net: MLPEnergy, n_grid: int = 80) -> np.ndarray:
    """:func:`unit_energies` on an ``n_grid × n_grid`` grid of the box, one map per top unit.

    Shape ``(n_grid, n_grid, n_top)``, at the cell midpoints, rows ``y`` and
    columns ``x`` (as ``imshow`` draws them with ``origin="lower"``): the maps of
    :func:`~pymc_ebm_demos.four_squares_figures.top_units`.
    """
    edges = np.linspace(*BOX, n_grid + 1)
    mid = 0.5 * (edges[:-1] + edges[1:])
    gx, gy = np.meshgrid(mid, mid)
    return unit_energies(net, np.c_[gx.ravel(), gy.ravel()]).reshape(n_grid, n_grid, -1)


def quadrant(points: np.ndarray) -> np.ndarray:
    """Index (0-3) of the quadrant of each point, numbered like the squares' centres.

    ``points`` has any shape ``(..., 2)``; the result has shape ``(...)``.
    The quadrants are the basins of the four squares, split by the gaps
    along ``x = 0`` and ``y = 0``, so every point, inside a square or not,
    belongs to one.
    """
    points = np.asarray(points)
    return 2 * (points[..., 0] > 0).astype(int) + (points[..., 1] > 0).astype(int)


def square_switches(samples: np.ndarray) -> dict[str, float]:
    """How often the rows of a ``pm.sample`` posterior cross a gap between squares.

    ``samples`` has shape ``(chain, draw, row, 2)``; each row of each chain
    is one Markov chain. Returns ``switches_per_draw`` (fraction of
    consecutive draws in different quadrants), ``sequences_switching``
    (fraction of the chain-row sequences that ever change quadrant) and
    ``rows_one_square`` (fraction of rows whose chains all stay in one and
    the same quadrant).
    """
    quad = quadrant(samples)  # (chain, draw, row)
    changed = np.diff(quad, axis=1) != 0
    first = quad[:, :1, :]
    return {
        "switches_per_draw": float(changed.mean()),
        "sequences_switching": float(changed.any(axis=1).mean()),
        "rows_one_square": float(np.all(quad == first[:1], axis=(0, 1)).mean()),
    }


def within_square_diagnostics(samples: np.ndarray) -> pd.DataFrame:
    """R-hat and ESS computed within each square, with the chain-row sequences as chains.

    A PyMC chain's rows are independent Markov chains. Every sequence
    ``samples[chain, :, row]`` (shape ``(chain, draw, row, 2)``) that stays
    in one quadrant for all its draws is assigned to that square; for each
    square, the sequences assigned to it are taken as the chains of one
    ArviZ diagnosis (rank-normalised split R-hat, bulk ESS) of ``v_x`` and
    ``v_y``. R-hat near 1 says that the sequences agree on the distribution
    inside the square, i.e. each one explores its square. Returns one row
    per square (``n_sequences``, ``rhat_x``, ``rhat_y``, ``ess_bulk_x``,
    ``ess_bulk_y``, ``ess_per_sequence``: the smaller bulk ESS over the
    number of sequences).
    """
    import arviz as az

    samples = np.asarray(samples)
    quad = quadrant(samples)
    stays = np.all(quad == quad[:, :1, :], axis=1)  # (chain, row)
    rows = []
    for k in range(len(FOUR_SQUARE_CENTRES)):
        chain_idx, row_idx = np.nonzero(stays & (quad[:, 0, :] == k))
        record: dict[str, Any] = {"square": _SQUARE_LABELS[k]}
        record["n_sequences"] = len(chain_idx)
        if len(chain_idx) >= 2:
            sequences = samples[chain_idx, :, row_idx, :]  # (sequence, draw, 2)
            rhat = np.asarray(az.rhat(sequences))
            ess = np.asarray(az.ess(sequences, method="bulk"))
            record.update(
                rhat_x=float(rhat[0]),
                rhat_y=float(rhat[1]),
                ess_bulk_x=float(ess[0]),
                ess_bulk_y=float(ess[1]),
                ess_per_sequence=float(ess.min() / len(chain_idx)),
            )
        rows.append(record)
    return pd.DataFrame(rows).set_index("square")


def box_starts(settings: SquaresSettings) -> np.ndarray:
    """Starting points of the fantasy rows, uniform in the box: shape ``(chains, n_chains, 2)``."""
    rng = np.random.default_rng(settings.seed + 2)
    low, high = BOX
    return np.stack(
        [
            rng.uniform(low + 0.05, high - 0.05, size=(settings.n_chains, 2))
            for _ in range(settings.chains)
        ]
    )


def fantasy_steps(model: pm.Model) -> list:
    """NUTS and :class:`~pymc_ebm.BoxJump` on the model's visible, one compound step.

    NUTS moves the rows within a square but rarely crosses the high-energy
    gaps between squares; the box jumps (uniform proposals on the box, each
    accepted by the energy difference) move rows between squares in
    proportion to their masses. Both leave ``p(v)`` invariant, so their
    composition does too, and the chains mix across the squares.
    """
    v = model["v"]
    return [pm.NUTS([v], model=model), BoxJump([v], model=model)]


def sample_fantasies_from_box(net: MLPEnergy, settings: SquaresSettings):
    """Fantasies with NUTS plus box jumps, every row starting at a uniform point of the box.

    See :func:`fantasy_steps`; the uniform starts make the chains of a row
    start in different squares, so R-hat checks that they mix across them.
    """
    return sample_fantasies(
        net,
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        n_particles=settings.n_chains,
        step=fantasy_steps,
        init="adapt_diag",
        initvals=[{"v": start} for start in box_starts(settings)],
        cores=1,
        random_seed=settings.seed + 1,
        progressbar=False,
    )


def seed_table(
    settings: SquaresSettings, trained: dict[int, MLPEnergy] | None = None
) -> list[dict[str, Any]]:
    """Train on each of ``settings.robustness_seeds``; exact masses of each learned density.

    For every seed the data, the initial network and the samplers follow the
    seed (``replace(settings, seed=s)``); ``trained`` maps seeds whose
    network is already trained to it. Returns one row per seed: ``seed``,
    ``inside_fraction_exact``, ``square_shares_exact`` (quadrature, as
    :func:`exact_metrics`) and ``meets_target`` (inside at least 0.9 and
    every share in 0.15-0.35).
    """
    rows = []
    for seed in settings.robustness_seeds:
        net = (trained or {}).get(seed)
        if net is None:
            X = four_squares(settings.n_data, side=settings.side, random_seed=seed)
            net, _, _ = train(X, replace(settings, seed=seed))
        exact = exact_metrics(net, settings.side)
        shares = exact["square_shares"]
        rows.append(
            {
                "seed": seed,
                "inside_fraction_exact": exact["inside_fraction"],
                "square_shares_exact": shares,
                "meets_target": bool(
                    exact["inside_fraction"] >= 0.9 and all(0.15 <= x <= 0.35 for x in shares)
                ),
            }
        )
    return rows


SUMMARY_DESCRIPTION = {
    "seed": "seed of the run shown (data, initial network, samplers)",
    "inside_fraction": "share of the fantasies (pm.sample draws) inside one of the four squares",
    "square_shares": "share of each square among the fantasies inside a square (sums to 1)",
    "inside_fraction_exact": "inside_fraction of the learned density itself (quadrature)",
    "square_shares_exact": "square_shares of the learned density itself (quadrature)",
    "accept_mean": "mean acceptance rate of the training's HMC negatives over the last "
    "tenth of the updates",
    "step_size_final": "HMC step size of the training's negative phase at the last update",
    "rhat_max": "largest R-hat of the fantasies' coordinates (chains of pm.sample)",
    "ess_bulk_min": "smallest bulk effective sample size of the fantasies' coordinates",
    "train_seconds": "seconds of training of the shown run",
    "per_seed": "one row per robustness seed: seed, inside_fraction_exact, "
    "square_shares_exact and meets_target (inside at least 0.9, every share in 0.15-0.35)",
    "seeds_meeting_target": "how many robustness seeds meet the target",
}
"""What each key of the demo's ``summary.json`` means (its ``description`` entry)."""


def run(out_dir: str | Path, quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Train, sample fantasies (NUTS + box jumps), diagnose, draw figures, write ``summary.json``.

    Parameters
    ----------
    out_dir : path
        Where figures and ``summary.json`` go (created).
    quick : bool
        Use :meth:`SquaresSettings.quick`.
    seed : int, default 0
        Seeds the data, the initial network and the samplers of the run whose
        fantasies and figures are shown; the robustness table
        (:func:`seed_table`, ``per_seed`` in the summary) trains again on
        each of ``settings.robustness_seeds`` (five seeds from ``seed``; two
        with ``quick``).

    Returns
    -------
    dict
        The summary written to ``summary.json``.
    """
    from pymc_ebm_demos import four_squares_figures as figures

    settings = SquaresSettings.quick(seed) if quick else SquaresSettings(seed=seed)
    if not quick:
        settings = replace(settings, robustness_seeds=tuple(range(seed, seed + 5)))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    X = four_squares(settings.n_data, side=settings.side, random_seed=settings.seed)
    net, history, train_seconds = train(X, settings)
    idata = sample_fantasies_from_box(net, settings)
    diagnostics = summary(idata, var_names=["v"])
    fantasies = idata.posterior["v"].values
    tail = max(1, history.sizes["update"] // 10)
    per_seed = seed_table(settings, trained={seed: net})
    result: dict[str, Any] = {
        "seed": seed,
        **fantasy_metrics(fantasies, settings.side),
        # what the learned density itself says (quadrature), next to the fantasies
        **{f"{key}_exact": value for key, value in exact_metrics(net, settings.side).items()},
        "accept_mean": float(history["stat_accept"][-tail:].mean()),
        "step_size_final": float(history["stat_step_size"][-1]),
        "rhat_max": diagnostics.rhat_max,
        "ess_bulk_min": diagnostics.ess_bulk_min,
        "train_seconds": train_seconds,
        "per_seed": per_seed,
        "seeds_meeting_target": sum(row["meets_target"] for row in per_seed),
    }
    print(diagnostics)
    figures.data_and_fantasies(X, fantasies, settings.side, out / "fantasies.png")
    figures.energy_landscape(X, net, out / "energy.png")
    figures.training(history, out / "training.png")
    result = write_summary(out / "summary.json", result, SUMMARY_DESCRIPTION)
    print(json.dumps(result, indent=2))
    return result
