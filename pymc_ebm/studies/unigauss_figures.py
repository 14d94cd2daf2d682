"""Figures of the 24-cluster study (matplotlib, written as PNG)."""

from __future__ import annotations

from pathlib import Path

import arviz as az
import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Ellipse  # noqa: E402

from pymc_ebm.datasets import grid_centres  # noqa: E402
from pymc_ebm.energies.unigauss import UniGauss  # noqa: E402

__all__ = ["experts", "fantasies", "free_energy", "mixing", "training"]


def _square(ax) -> None:
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")


def experts(X: np.ndarray, energy: UniGauss, path: Path) -> None:
    """Data and each learned Gaussian as a 2σ ellipse (opacity = mixing proportion)."""
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(X[:, 0], X[:, 1], s=4, color="0.4", label="data")
    mu, sigma, pi = energy.mu.get_value(), energy.sigma, energy.pi
    for m, s, p in zip(mu, sigma, pi, strict=True):
        ax.add_patch(
            Ellipse(m, 4 * s[0], 4 * s[1], fill=False, color="C3", alpha=float(0.2 + 0.8 * p))
        )
    _square(ax)
    ax.set_title(f"{energy.n_experts} learned uni-gauss experts (2σ)")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def free_energy(X: np.ndarray, energy: UniGauss, path: Path, n_grid: int = 200) -> None:
    """Free energy on the unit square with the data on top."""
    grid = (np.arange(n_grid) + 0.5) / n_grid
    gx, gy = np.meshgrid(grid, grid)
    values = energy.energy_fn()(np.c_[gx.ravel(), gy.ravel()]).reshape(gx.shape)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    image = ax.imshow(values, origin="lower", extent=(0, 1, 0, 1), cmap="viridis_r")
    fig.colorbar(image, ax=ax, label="free energy F(v)")
    ax.scatter(X[:, 0], X[:, 1], s=2, color="white")
    _square(ax)
    ax.set_title("free energy (low = likely)")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def fantasies(X: np.ndarray, samples: np.ndarray, path: Path, max_points: int = 6000) -> None:
    """Fantasies from pm.sample against the grid, the missing centre circled."""
    points = samples.reshape(-1, 2)
    rng = np.random.default_rng(0)
    if len(points) > max_points:
        points = points[rng.choice(len(points), max_points, replace=False)]
    fig, axes = plt.subplots(1, 2, figsize=(10, 5))
    axes[0].scatter(X[:, 0], X[:, 1], s=4, color="0.3")
    axes[0].set_title("training data (24 clusters)")
    axes[1].scatter(points[:, 0], points[:, 1], s=2, alpha=0.3, color="C0")
    axes[1].set_title("fantasies from pm.sample")
    for ax in axes:
        ax.scatter(*grid_centres().T, marker="+", color="k", s=30)
        ax.add_patch(plt.Circle((2 / 6, 3 / 6), 0.06, fill=False, color="C3", lw=2))
        _square(ax)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def training(history, path: Path) -> None:
    """Mean data and negative free energies over training, and their gap."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    update = history["update"].values
    axes[0].plot(update, history["energy_data"], label="data", lw=0.8)
    axes[0].plot(update, history["energy_negative"], label="negatives", lw=0.8)
    axes[0].set_ylabel("mean free energy")
    axes[0].legend()
    axes[1].plot(update, history["energy_gap"], lw=0.5)
    axes[1].axhline(0, color="k", lw=0.5)
    axes[1].set_ylabel("negative − data")
    for ax in axes:
        ax.set_xlabel("update")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def mixing(gibbs, default, path: Path) -> None:
    """Trace of one visible entry and rank histograms: UniGaussGibbs vs NUTS + BinaryGibbs."""
    fig, axes = plt.subplots(2, 2, figsize=(10, 6))
    for row, (name, idata) in enumerate(
        [("UniGaussGibbs", gibbs), ("NUTS + BinaryGibbs", default)]
    ):
        trace = idata.posterior["v"].values[:, :, 0, 0]
        for chain in trace:
            axes[row, 0].plot(chain, lw=0.5)
        axes[row, 0].set_title(f"{name}: trace of v[0, 0]")
        ranks = az.ess(idata, var_names=["v"], method="bulk")["v"].values.ravel()
        axes[row, 1].hist(ranks, bins=10, color="C0" if row == 0 else "C1")
        axes[row, 1].set_title(f"{name}: bulk ESS of the visibles")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
