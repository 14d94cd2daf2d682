"""Figures of the learning-rule comparison (matplotlib Figure, written as PNG)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from pymc_ebm_demos.plotting import savefig, subplots

__all__ = ["curves", "densities"]

PROBLEM_TITLES = {
    "clusters": "24 clusters, 15 uni-gauss experts",
    "squares": "four squares, MLPEnergy",
}


def curves(
    curves: xr.DataArray,
    labels: Mapping[str, str],
    path: str | Path,
    true_log_density: Mapping[str, float] | None = None,
) -> Figure:
    """Held-out log-likelihood against updates, one panel per problem, mean ± sd over seeds.

    ``curves`` is over ``(problem, rule, seed, update)``; ``labels`` names
    each rule in the legend; ``true_log_density`` maps a problem to the
    held-out log-likelihood of the data's own density, drawn as a dotted line.
    """
    problems = list(curves["problem"].values)
    fig, axes = subplots(
        1, len(problems), figsize=(5.5 * len(problems), 4.2), layout="constrained"
    )
    axes = np.atleast_1d(axes)
    for ax, name in zip(axes, problems, strict=True):
        panel = curves.sel(problem=name).dropna("update", how="all")
        for rule in panel["rule"].values:
            seeds = panel.sel(rule=rule)
            mean, sd = seeds.mean("seed"), seeds.std("seed", ddof=1)
            style = {"color": "black", "lw": 2.2} if rule == "ml" else {"lw": 1.4}
            (line,) = ax.plot(panel["update"], mean, label=labels[str(rule)], **style)
            ax.fill_between(
                panel["update"], mean - sd, mean + sd, color=line.get_color(), alpha=0.15
            )
        if name in (true_log_density or {}):
            ax.axhline(true_log_density[name], color="grey", ls=":", label="true density")
        ax.set_title(PROBLEM_TITLES.get(name, name))
        ax.set_xlabel("updates")
        ax.set_ylabel("held-out log-likelihood (nats / point)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower right")
    n_seeds = curves.sizes["seed"]
    fig.suptitle(f"Exact held-out log-likelihood (quadrature), mean ± sd over {n_seeds} seeds")
    savefig(fig, path, tight=False)
    return fig


def densities(grids: Mapping, labels: Mapping[str, str], path: str | Path) -> Figure:
    """The learned densities ``exp(-E)/Z`` of the first seed, one row per problem.

    ``grids`` maps ``(problem, rule)`` to a :class:`~pymc_ebm.GridDensity`;
    ``labels`` names each rule in the column titles.
    """
    problems = list(dict.fromkeys(p for p, _ in grids))
    rules = list(dict.fromkeys(r for _, r in grids))
    fig, axes = subplots(
        len(problems),
        len(rules),
        figsize=(2.3 * len(rules), 2.4 * len(problems)),
        layout="constrained",
        squeeze=False,
    )
    axes = np.asarray(axes)
    for i, name in enumerate(problems):
        for j, rule in enumerate(rules):
            grid, ax = grids[(name, rule)], axes[i, j]
            edges = grid.edges
            ax.pcolormesh(edges[0], edges[1], np.sqrt(grid.density.T), cmap="magma")
            ax.set_aspect("equal")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(labels[rule], fontsize=9)
        axes[i, 0].set_ylabel(PROBLEM_TITLES.get(name, name), fontsize=8)
    fig.suptitle("Learned densities (first seed; colour: square root of the density)")
    savefig(fig, path, tight=False)
    return fig
