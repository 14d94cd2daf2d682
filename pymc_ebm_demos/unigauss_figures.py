"""Figures of the 24-cluster study (matplotlib, written as PNG).

The figures are drawn from arrays and trained experts, with the helpers of
:mod:`pymc_ebm_demos.plotting` (no pyplot, except for arviz-plots' trace and
rank plots, which :func:`~pymc_ebm_demos.plotting.save_collection` closes).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import arviz as az
import numpy as np
import xarray as xr
from matplotlib.patches import Circle, Ellipse, Rectangle

from pymc_ebm import UniGauss
from pymc_ebm.datasets import grid_centres
from pymc_ebm_demos.plotting import (
    plot_running_mean,
    save_collection,
    savefig,
    subplots,
    trace_and_rank,
)

__all__ = [
    "cell_shares",
    "experts",
    "fantasies",
    "free_energy",
    "mixing",
    "mixing_panels",
    "training",
]

_ORIENTATION_COLOURS = {"vertical": "C0", "horizontal": "C1", "blob": "0.5"}


def _square(ax) -> None:
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")


def experts(X: np.ndarray, energy: UniGauss, orientation: np.ndarray, path: Path) -> None:
    """Data and each learned Gaussian as a 2σ ellipse (opacity = mixing proportion).

    Ellipses are coloured by ``orientation``, one of ``"vertical"`` (narrow
    in x), ``"horizontal"`` (narrow in y) and ``"blob"`` per expert (shape
    ``(n_experts,)``, e.g.
    :func:`~pymc_ebm_demos.unigauss_clusters.expert_orientation`).
    """
    fig, ax = subplots(figsize=(5.5, 5.5))
    ax.scatter(X[:, 0], X[:, 1], s=4, color="0.3", zorder=3)
    mu, sigma, pi = energy.mu.get_value(), energy.sigma, energy.pi
    kinds = np.asarray(orientation)
    for m, s, p, kind in zip(mu, sigma, pi, kinds, strict=True):
        ax.add_patch(
            Ellipse(
                m,
                4 * s[0],
                4 * s[1],
                fill=False,
                lw=1.5,
                color=_ORIENTATION_COLOURS[str(kind)],
                alpha=float(0.25 + 0.75 * p),
            )
        )
        ax.plot(*m, "x", ms=4, color=_ORIENTATION_COLOURS[str(kind)])
    for kind, colour in _ORIENTATION_COLOURS.items():
        ax.plot([], [], color=colour, label=f"{kind} ({int(np.sum(kinds == kind))})")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title="2σ ellipses")
    _square(ax)
    ax.set_title(f"{energy.n_experts} learned uni-gauss experts (2σ)")
    savefig(fig, path)


def free_energy(X: np.ndarray, energy: UniGauss, path: Path, n_grid: int = 200) -> None:
    """Free energy on the unit square with the data on top."""
    grid = (np.arange(n_grid) + 0.5) / n_grid
    gx, gy = np.meshgrid(grid, grid)
    values = energy.energy_fn()(np.c_[gx.ravel(), gy.ravel()]).reshape(gx.shape)
    fig, ax = subplots(figsize=(5.5, 5))
    image = ax.imshow(values, origin="lower", extent=(0, 1, 0, 1), cmap="viridis_r")
    fig.colorbar(image, ax=ax, label="free energy F(v)")
    ax.scatter(X[:, 0], X[:, 1], s=2, color="white")
    _square(ax)
    ax.set_title("free energy (low = likely)")
    savefig(fig, path)


def fantasies(X: np.ndarray, samples: np.ndarray, path: Path, max_points: int = 6000) -> None:
    """Fantasies from pm.sample against the grid, the missing centre circled."""
    points = samples.reshape(-1, 2)
    rng = np.random.default_rng(0)
    if len(points) > max_points:
        points = points[rng.choice(len(points), max_points, replace=False)]
    fig, axes = subplots(1, 2, figsize=(10, 5))
    axes[0].scatter(X[:, 0], X[:, 1], s=4, color="0.3")
    axes[0].set_title("training data (24 clusters)")
    axes[1].scatter(points[:, 0], points[:, 1], s=2, alpha=0.3, color="C0")
    axes[1].set_title("fantasies from pm.sample")
    for ax in axes:
        ax.scatter(*grid_centres().T, marker="+", color="k", s=30)
        ax.add_patch(Circle((2 / 6, 3 / 6), 0.06, fill=False, color="C3", lw=2))
        _square(ax)
    savefig(fig, path)


def training(history, path: Path, window: int = 50) -> None:
    """Mean data and negative free energies over training, and their gap.

    The gap is drawn raw and as a running mean over ``window`` updates; a
    dashed line marks where a new phase (longer chains) starts, when the
    history has a ``phase`` coordinate.
    """
    fig, axes = subplots(1, 2, figsize=(10, 3.5))
    update = history["update"].values
    axes[0].plot(update, history["energy_data"], label="data", lw=0.8)
    axes[0].plot(update, history["energy_negative"], label="negatives", lw=0.8)
    axes[0].set_ylabel("mean free energy")
    plot_running_mean(axes[1], update, history["energy_gap"], window)
    axes[1].axhline(0, color="k", lw=0.5)
    axes[1].set_ylabel("negative − data")
    if "phase" in history.coords:
        phase = np.asarray(history["phase"])
        for start in update[1:][np.diff(phase) != 0]:
            for ax in axes:
                ax.axvline(start, color="k", ls="--", lw=0.8)
            axes[0].text(start, 0.02, " longer chains", transform=axes[0].get_xaxis_transform())
    axes[0].legend()
    axes[1].legend(fontsize=8)
    for ax in axes:
        ax.set_xlabel("update")
    savefig(fig, path)


def cell_shares(panels: Mapping[str, np.ndarray], path: Path) -> None:
    """Share of each grid cell (5×5 heat maps, one per entry of ``panels``), missing cell boxed."""
    fig, axes = subplots(1, len(panels), figsize=(3.6 * len(panels), 3.6), squeeze=False)
    top = max(float(np.max(shares)) for shares in panels.values())
    for ax, (title, shares) in zip(axes[0], panels.items(), strict=True):
        grid = np.asarray(shares).reshape(5, 5).T  # rows: y, columns: x
        image = ax.imshow(grid, origin="lower", extent=(0.5, 5.5, 0.5, 5.5), vmin=0, vmax=top)
        for (row, col), share in np.ndenumerate(grid):
            ax.text(
                col + 1,
                row + 1,
                f"{100 * share:.1f}",
                ha="center",
                va="center",
                fontsize=7,
                color="w" if share < 0.6 * top else "k",
            )
        ax.add_patch(Rectangle((1.5, 2.5), 1, 1, fill=False, color="C3", lw=2))
        ax.set_title(title)
        ax.set_xticks(range(1, 6), [f"{i}/6" for i in range(1, 6)])
        ax.set_yticks(range(1, 6), [f"{i}/6" for i in range(1, 6)])
    fig.colorbar(
        image, ax=axes[0].tolist(), label="share of the points (numbers in %)", shrink=0.8
    )
    savefig(fig, path)


def mixing_panels(samplers: Mapping[str, object], path: Path, row: int = 0, dim: int = 0) -> None:
    """Trace and rank plot of ``v[row, dim]`` for several samplers, one line of panels each.

    ``samplers`` maps a label to the DataTree of ``pm.sample``; the bulk ESS
    of the entry (ArviZ) is in each title, and faint lines mark the grid's
    columns in the traces.
    """
    lines = {}
    for name, idata in samplers.items():
        entry = idata.posterior["v"][:, :, row, dim]
        ess = az.ess(idata, var_names=["v"], method="bulk")["v"].values[row, dim]
        lines[f"{name}: v[{row}, {dim}] (bulk ESS {ess:.0f})"] = entry.drop_vars(
            [c for c in entry.coords if c not in ("chain", "draw")]
        )
    pc = trace_and_rank(xr.Dataset(lines))
    for label in lines:
        ax = pc.viz["plot"][label].sel(column="trace").item()
        ax.set_ylim(0, 1)
        for level in np.arange(1, 6) / 6:
            ax.axhline(level, color="0.85", lw=0.5, zorder=0)
    save_collection(pc, path)


def mixing(gibbs, default, path: Path) -> None:
    """Traces and rank plots of ``v[0, 0]``: UniGaussGibbs vs NUTS + BinaryGibbsMetropolis."""
    mixing_panels({"UniGaussGibbs": gibbs, "NUTS + BinaryGibbs": default}, path)
