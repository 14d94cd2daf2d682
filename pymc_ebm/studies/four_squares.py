"""The 4-squares study: a network of deterministic hidden units learned with the HMC shortcut.

Shared by ``python -m pymc_ebm demo four-squares`` and the case-study
notebook ``case_studies/03_four_squares``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pymc as pm
import xarray as xr

from pymc_ebm.datasets import four_squares, square_index
from pymc_ebm.diagnostics import summary
from pymc_ebm.energies.mlp import MLPEnergy
from pymc_ebm.sampling import sample_fantasies
from pymc_ebm.training import ContrastiveDivergence

__all__ = ["SquaresSettings", "fantasy_metrics", "run", "train"]

BOX = (-2.0, 2.0)


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
    step_size: float = 0.1
    persistent_fraction: float = 0.0
    draws: int = 500
    tune: int = 300
    chains: int = 4
    n_chains: int = 100
    seed: int = 0

    @classmethod
    def quick(cls) -> SquaresSettings:
        """Small sizes that run in seconds (for tests and ``--quick``)."""
        return cls(n_updates=150, draws=100, tune=100, n_chains=10, hidden=(16, 8))


def train(X: np.ndarray, settings: SquaresSettings) -> tuple[MLPEnergy, xr.Dataset, float]:
    """Train the network with the HMC shortcut (momentum once, a few leapfrog steps)."""
    net = MLPEnergy(
        2,
        hidden=settings.hidden,
        activation=settings.activation,
        box=BOX,
        random_seed=settings.seed,
    )
    trainer = ContrastiveDivergence(
        net,
        sampler="hmc",
        k=1,
        batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        optimizer="adam",
        step_kwargs={"n_steps": settings.n_steps, "step_size": settings.step_size},
        random_seed=settings.seed,
    )
    started = time.perf_counter()
    history = trainer.fit(X, n_updates=settings.n_updates, progress=False)
    return net, history, time.perf_counter() - started


def fantasy_metrics(samples: np.ndarray, side: float) -> dict[str, Any]:
    """``inside_fraction`` and ``square_shares`` of fantasies (any shape ``(..., 2)``)."""
    index = square_index(samples, side=side)
    inside = index >= 0
    shares = np.bincount(index[inside], minlength=4) / max(int(inside.sum()), 1)
    return {"inside_fraction": float(inside.mean()), "square_shares": shares.tolist()}


def sample_fantasies_from_box(net: MLPEnergy, settings: SquaresSettings):
    """Fantasies with NUTS, every row starting at a uniform random point of the box.

    NUTS rarely crosses the high-energy gaps between squares, so each row
    mostly stays in the basin it starts in; starting the rows uniformly
    (rather than all at the box centre) makes the share of each square
    reflect the learned energy, not the starting point.
    """
    rng = np.random.default_rng(settings.seed + 2)
    low, high = BOX
    initvals = [
        {"v": rng.uniform(low + 0.05, high - 0.05, size=(settings.n_chains, 2))}
        for _ in range(settings.chains)
    ]
    return sample_fantasies(
        net,
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        n_chains=settings.n_chains,
        step=pm.NUTS,
        init="adapt_diag",
        initvals=initvals,
        cores=1,
        random_seed=settings.seed + 1,
        progressbar=False,
    )


def run(out_dir: str | Path, quick: bool = False) -> dict[str, Any]:
    """Train, sample fantasies with NUTS, diagnose, draw figures, write ``summary.json``.

    Parameters
    ----------
    out_dir : path
        Where figures and ``summary.json`` go (created).
    quick : bool
        Use :meth:`SquaresSettings.quick`.

    Returns
    -------
    dict
        The summary written to ``summary.json``.
    """
    from pymc_ebm.studies import four_squares_figures as figures

    settings = SquaresSettings.quick() if quick else SquaresSettings()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    X = four_squares(settings.n_data, side=settings.side, random_seed=settings.seed)
    net, history, train_seconds = train(X, settings)
    idata = sample_fantasies_from_box(net, settings)
    diagnostics = summary(idata, var_names=["v"])
    fantasies = idata.posterior["v"].values
    tail = max(1, history.sizes["update"] // 10)
    result: dict[str, Any] = {
        **fantasy_metrics(fantasies, settings.side),
        "accept_mean": float(history["stat_accept"][-tail:].mean()),
        "step_size_final": float(history["stat_step_size"][-1]),
        "rhat_max": diagnostics.rhat_max,
        "ess_bulk_min": diagnostics.ess_bulk_min,
        "train_seconds": train_seconds,
    }
    print(diagnostics)
    figures.data_and_fantasies(X, fantasies, settings.side, out / "fantasies.png")
    figures.energy_landscape(X, net, out / "energy.png")
    figures.training(history, out / "training.png")
    (out / "summary.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return result
