"""Figures of the learning-rule comparison (matplotlib Figure, written as PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

__all__ = ["curves", "densities"]

PROBLEM_TITLES = {
    "clusters": "24 clusters, 15 uni-gauss experts",
    "squares": "four squares, MLPEnergy",
}


def curves(curves: xr.DataArray, settings: Any, path: str | Path) -> Figure:
    """Held-out log-likelihood against updates, one panel per problem, mean ± sd over seeds."""
    from pymc_ebm.studies.evaluate import RULE_LABELS, SQUARE_SIDE

    problems = list(curves["problem"].values)
    fig = Figure(figsize=(5.5 * len(problems), 4.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(problems)))
    for ax, name in zip(axes, problems, strict=True):
        panel = curves.sel(problem=name).dropna("update", how="all")
        for rule in panel["rule"].values:
            seeds = panel.sel(rule=rule)
            mean, sd = seeds.mean("seed"), seeds.std("seed", ddof=1)
            style = {"color": "black", "lw": 2.2} if rule == "ml" else {"lw": 1.4}
            (line,) = ax.plot(panel["update"], mean, label=RULE_LABELS[str(rule)], **style)
            ax.fill_between(
                panel["update"], mean - sd, mean + sd, color=line.get_color(), alpha=0.15
            )
        if name == "squares":
            ax.axhline(-np.log(4 * SQUARE_SIDE**2), color="grey", ls=":", label="true density")
        ax.set_title(PROBLEM_TITLES.get(name, name))
        ax.set_xlabel("updates")
        ax.set_ylabel("held-out log-likelihood (nats / point)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower right")
    n_seeds = curves.sizes["seed"]
    fig.suptitle(f"Exact held-out log-likelihood (quadrature), mean ± sd over {n_seeds} seeds")
    fig.savefig(path, dpi=110)
    return fig


def densities(grids: dict, settings: Any, path: str | Path) -> Figure:
    """The learned densities ``exp(-E)/Z`` of the first seed, one row per problem."""
    from pymc_ebm.studies.evaluate import RULE_LABELS

    problems = list(dict.fromkeys(p for p, _ in grids))
    rules = list(dict.fromkeys(r for _, r in grids))
    fig = Figure(figsize=(2.3 * len(rules), 2.4 * len(problems)), layout="constrained")
    axes = np.asarray(fig.subplots(len(problems), len(rules), squeeze=False))
    for i, name in enumerate(problems):
        for j, rule in enumerate(rules):
            grid, ax = grids[(name, rule)], axes[i, j]
            edges = grid.edges
            ax.pcolormesh(edges[0], edges[1], np.sqrt(grid.density.T), cmap="magma")
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(RULE_LABELS[rule], fontsize=9)
        axes[i, 0].set_ylabel(PROBLEM_TITLES.get(name, name), fontsize=8)
    fig.suptitle("Learned densities (first seed; colour: square root of the density)")
    fig.savefig(path, dpi=110)
    return fig
