"""Figures of the 4-squares study (matplotlib, written as PNG)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from pymc_ebm.datasets import FOUR_SQUARE_CENTRES  # noqa: E402
from pymc_ebm.energies.base import Energy  # noqa: E402

__all__ = ["data_and_fantasies", "energy_landscape", "training"]

LIMITS = (-2.0, 2.0)


def _squares(ax, side: float) -> None:
    for centre in FOUR_SQUARE_CENTRES:
        ax.add_patch(Rectangle(centre - side / 2, side, side, fill=False, color="k", lw=1))
    ax.set_xlim(*LIMITS)
    ax.set_ylim(*LIMITS)
    ax.set_aspect("equal")


def data_and_fantasies(X: np.ndarray, samples: np.ndarray, side: float, path: Path) -> None:
    """Training data next to fantasies drawn by NUTS from the learned energy."""
    points = samples.reshape(-1, 2)
    rng = np.random.default_rng(0)
    if len(points) > 5000:
        points = points[rng.choice(len(points), 5000, replace=False)]
    fig, axes = plt.subplots(1, 2, figsize=(10, 5))
    axes[0].scatter(X[:, 0], X[:, 1], s=2, color="0.3")
    axes[0].set_title("data: uniform in 4 squares")
    axes[1].scatter(points[:, 0], points[:, 1], s=2, alpha=0.3, color="C0")
    axes[1].set_title("fantasies (pm.sample, NUTS)")
    for ax in axes:
        _squares(ax, side)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def energy_landscape(X: np.ndarray, energy: Energy, path: Path, n_grid: int = 200) -> None:
    """The learned energy on the box."""
    grid = np.linspace(*LIMITS, n_grid)
    gx, gy = np.meshgrid(grid, grid)
    values = energy.energy_fn()(np.c_[gx.ravel(), gy.ravel()]).reshape(gx.shape)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    image = ax.imshow(values, origin="lower", extent=(*LIMITS, *LIMITS), cmap="viridis_r")
    fig.colorbar(image, ax=ax, label="E(v)")
    ax.scatter(X[::4, 0], X[::4, 1], s=1, color="white")
    ax.set_title("learned energy")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def training(history, path: Path) -> None:
    """Energy gap, acceptance rate and step size of the negative phase over training."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.5))
    update = history["update"].values
    axes[0].plot(update, history["energy_gap"], lw=0.5)
    axes[0].set_ylabel("negative − data energy")
    axes[1].plot(update, history["stat_accept"], lw=0.5)
    axes[1].set_ylabel("acceptance (HMC shortcut)")
    axes[2].plot(update, history["stat_step_size"], lw=0.8)
    axes[2].set_ylabel("leapfrog step size")
    for ax in axes:
        ax.set_xlabel("update")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
