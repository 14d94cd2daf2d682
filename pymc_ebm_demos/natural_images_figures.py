"""Figures of the natural-image study (matplotlib Figures, written as PNG; no pyplot).

Drawn from arrays and Gabor fits with the helpers of :mod:`pymc_ebm_demos.plotting`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import xarray as xr

from pymc_ebm.evaluation.gabor import GaborFit
from pymc_ebm_demos.plotting import plot_running_mean, savefig, subplots

__all__ = ["fantasies", "filters", "gabor_distribution", "tile", "topographic_map", "training"]


def tile(images: np.ndarray, cols: int | None = None, pad: int = 1) -> np.ndarray:
    """Images ``(n, h, w)`` each scaled to ``[-1, 1]`` and tiled on a grey background."""
    n, h, w = images.shape[:3]
    cols = cols or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    canvas = np.zeros((rows * (h + pad) + pad, cols * (w + pad) + pad) + images.shape[3:])
    for k, image in enumerate(images):
        r, c = divmod(k, cols)
        scale = np.abs(image).max() or 1.0
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        canvas[top : top + h, left : left + w] = image / scale
    return canvas


def _show(ax, canvas: np.ndarray) -> None:
    if canvas.ndim == 3:  # colour: map [-1, 1] to [0, 1]
        ax.imshow(np.clip(0.5 + 0.5 * canvas, 0, 1), interpolation="nearest")
    else:
        ax.imshow(canvas, cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
    ax.set_axis_off()


def filters(images: np.ndarray, path: Path, title: str, max_shown: int = 256) -> None:
    """The first ``max_shown`` images (filters or basis functions) tiled, each on its own scale."""
    images = np.asarray(images)[:max_shown]
    fig, ax = subplots(figsize=(7, 7))
    _show(ax, tile(images))
    ax.set_title(title)
    savefig(fig, path)


def fantasies(samples: np.ndarray, data: np.ndarray, path: Path) -> None:
    """Fantasy patches next to held-out data patches, pixel space, each on its own scale."""
    fig, axes = subplots(1, 2, figsize=(9, 4.5))
    for ax, images, title in zip(
        axes, (samples, data), ("fantasies (StudentTGibbs)", "held-out patches"), strict=True
    ):
        _show(ax, tile(np.asarray(images)))
        ax.set_title(title)
    savefig(fig, path)


def gabor_distribution(
    fits: Mapping[str, GaborFit], size: int, path: Path, min_r2: float = 0.8
) -> None:
    """Per model: Gabor centres (segments along the stripes), orientations, frequencies, R².

    Only fits with ``r2 >= min_r2`` enter the first three panels.
    """
    fig, axes = subplots(len(fits), 4, figsize=(13, 3.3 * len(fits)))
    axes = np.atleast_2d(axes)
    for row, (name, fit) in zip(axes, fits.items(), strict=True):
        good = fit.r2 >= min_r2
        length = np.clip(0.5 / np.maximum(fit.frequency[good], 1e-3), 0.5, size / 4)
        dx = -np.sin(fit.theta[good]) * length / 2  # along the stripes
        dy = np.cos(fit.theta[good]) * length / 2
        for x, y, u, v in zip(fit.x0[good], fit.y0[good], dx, dy, strict=True):
            row[0].plot([x - u, x + u], [y - v, y + v], color="C0", lw=1)
        row[0].set_xlim(-0.5, size - 0.5)
        row[0].set_ylim(size - 0.5, -0.5)
        row[0].set_aspect("equal")
        row[0].set_title(f"{name}: centres and orientations ({good.sum()} of {len(good)})")
        row[1].hist(np.degrees(fit.theta[good]), bins=18, range=(0, 180), color="C1")
        row[1].set_xlabel("orientation (degrees)")
        row[2].hist(fit.frequency[good], bins=20, range=(0, 0.5), color="C2")
        row[2].set_xlabel("spatial frequency (cycles / pixel)")
        row[3].hist(np.clip(fit.r2, 0, 1), bins=20, range=(0, 1), color="C3")
        row[3].axvline(min_r2, color="k", lw=0.8, ls="--")
        row[3].set_xlabel(f"Gabor R² (share ≥ {min_r2}: {fit.share(min_r2):.2f})")
    fig.tight_layout()
    savefig(fig, path)


def topographic_map(
    images: np.ndarray, fits: GaborFit, grid: tuple[int, int], path: Path, min_r2: float = 0.5
) -> None:
    """The filters in their grid positions, and their Gabor orientation on the grid.

    Grid cells whose fit has ``r2 < min_r2`` are white in the orientation panel.
    """
    rows, cols = grid
    fig, axes = subplots(1, 2, figsize=(14, 6.5 * rows / cols + 1))
    _show(axes[0], tile(np.asarray(images), cols=cols))
    axes[0].set_title("filters in their grid positions")
    orientation = np.where(fits.r2 >= min_r2, np.degrees(fits.theta), np.nan)
    shown = axes[1].imshow(
        orientation.reshape(rows, cols), cmap="hsv", vmin=0, vmax=180, interpolation="nearest"
    )
    axes[1].set_title(f"Gabor orientation (R² ≥ {min_r2})")
    axes[1].set_axis_off()
    fig.colorbar(shown, ax=axes[1], fraction=0.03, label="degrees")
    savefig(fig, path)


def training(history: xr.Dataset, path: Path, window: int = 50) -> None:
    """Energy gap (negatives − data) over training, raw and as a running mean."""
    fig, ax = subplots(figsize=(6, 3.5))
    gap = np.asarray(history["energy_gap"], dtype=float)
    plot_running_mean(ax, np.arange(len(gap)), gap, window)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("update")
    ax.set_ylabel("mean energy: negatives − data")
    ax.legend()
    savefig(fig, path)
