"""Figures of the 4-squares study (matplotlib, written as PNG).

The figures are drawn from arrays, results and the trained energy, with the
helpers of :mod:`pymc_ebm_demos.plotting` (no pyplot, except for the trace
and rank plots of :func:`mixing`, drawn by arviz-plots and closed after
writing the PNG).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import xarray as xr
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from pymc_ebm import Energy
from pymc_ebm.datasets import FOUR_SQUARE_CENTRES, square_index
from pymc_ebm_demos.plotting import (
    plot_running_mean,
    save_collection,
    savefig,
    subplots,
    trace_and_rank,
)

__all__ = [
    "data_and_fantasies",
    "energy_landscape",
    "mixing",
    "square_masses",
    "top_units",
    "training",
]

LIMITS = (-2.0, 2.0)


def _squares(ax, side: float, color: str = "k") -> None:
    for centre in FOUR_SQUARE_CENTRES:
        ax.add_patch(Rectangle(centre - side / 2, side, side, fill=False, color=color, lw=1))
    ax.set_xlim(*LIMITS)
    ax.set_ylim(*LIMITS)
    ax.set_aspect("equal")


def _grid(n_grid: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cell midpoints of an ``n_grid × n_grid`` grid on the box, as meshgrid and rows."""
    edges = np.linspace(*LIMITS, n_grid + 1)
    mid = 0.5 * (edges[:-1] + edges[1:])
    gx, gy = np.meshgrid(mid, mid)  # rows: y, columns: x (for imshow)
    return gx, gy, np.c_[gx.ravel(), gy.ravel()]


def data_and_fantasies(X: np.ndarray, samples: np.ndarray, side: float, path: Path) -> None:
    """Training data next to fantasies drawn by NUTS from the learned energy.

    The titles give the fraction of points inside the squares.
    """
    points = samples.reshape(-1, 2)
    inside = float(np.mean(square_index(points, side=side) >= 0))
    rng = np.random.default_rng(0)
    if len(points) > 5000:
        points = points[rng.choice(len(points), 5000, replace=False)]
    fig, axes = subplots(1, 2, figsize=(10, 5))
    axes[0].scatter(X[:, 0], X[:, 1], s=2, color="0.3")
    axes[0].set_title(f"data: uniform in 4 squares ({len(X)} points)")
    axes[1].scatter(points[:, 0], points[:, 1], s=2, alpha=0.3, color="C0")
    axes[1].set_title(f"fantasies (pm.sample, NUTS): {100 * inside:.1f} % inside")
    for ax in axes:
        _squares(ax, side)
    savefig(fig, path)


def energy_landscape(
    X: np.ndarray, energy: Energy, path: Path, n_grid: int = 200, side: float = 0.8
) -> None:
    """The learned energy on the box, and the normalised density with each square's mass.

    Left: ``E(v) − min E`` (low = likely) with the data and the squares.
    Right: ``log10 p(v)``, normalised by quadrature on the same grid, with
    the exact probability mass of each square and of the rest of the box.
    """
    gx, gy, points = _grid(n_grid)
    values = np.asarray(energy.energy_fn()(points), dtype=float).reshape(gx.shape)
    relative = values - values.min()
    cell = ((LIMITS[1] - LIMITS[0]) / n_grid) ** 2
    log_p = -values - np.log(np.exp(-(values - values.min())).sum() * cell) + values.min()
    mass = np.exp(log_p) * cell
    index = square_index(points, side=side).reshape(gx.shape)

    fig, axes = subplots(1, 2, figsize=(12, 5))
    extent = (*LIMITS, *LIMITS)
    image = axes[0].imshow(relative, origin="lower", extent=extent, cmap="viridis_r")
    axes[0].contour(
        gx,
        gy,
        relative,
        levels=np.arange(2, relative.max(), 4),
        colors="w",
        linewidths=0.4,
        alpha=0.6,
    )
    fig.colorbar(image, ax=axes[0], label="E(v) − min E")
    axes[0].scatter(X[::4, 0], X[::4, 1], s=1, color="k", alpha=0.5)
    axes[0].set_title("learned energy (low = likely)")

    log10_p = log_p / np.log(10)
    top = float(log10_p.max())
    image = axes[1].imshow(
        log10_p, origin="lower", extent=extent, cmap="magma", vmin=top - 8, vmax=top
    )
    fig.colorbar(image, ax=axes[1], label="log10 p(v)")
    for k, centre in enumerate(FOUR_SQUARE_CENTRES):
        share = float(mass[index == k].sum())
        axes[1].text(
            centre[0],
            centre[1] + side / 2 + 0.08,
            f"{100 * share:.1f} %",
            ha="center",
            va="bottom",
            color="w",
            fontsize=10,
            fontweight="bold",
        )
    outside = float(mass[index < 0].sum())
    axes[1].set_title("exact density and the mass of each square")
    axes[1].text(
        0.0,
        LIMITS[0] + 0.08,
        f"outside the squares: {100 * outside:.1f} %",
        ha="center",
        va="bottom",
        color="w",
        fontsize=9,
    )
    for ax in axes:
        _squares(ax, side, color="w" if ax is axes[1] else "k")
    savefig(fig, path)


def training(history, path: Path, window: int = 100, target_accept: float = 0.65) -> None:
    """Energy gap, acceptance rate and step size of the negative phase over training.

    Each panel shows the value per update (grey) and its running mean over
    ``window`` updates; the acceptance panel marks the target the step size
    is adapted to, and the step size is on a log scale.
    """
    fig, axes = subplots(1, 3, figsize=(14, 3.6))
    update = history["update"].values
    panels = [
        ("energy_gap", "mean E(negatives) − mean E(data)"),
        ("stat_accept", "acceptance probability (per-row test)"),
    ]
    for ax, (name, label) in zip(axes[:2], panels, strict=True):
        plot_running_mean(ax, update, history[name], window, lw=0.3, color="0.75")
        ax.set_ylabel(label)
    axes[0].axhline(0, color="k", lw=0.5)
    axes[1].axhline(target_accept, color="k", ls="--", lw=0.8, label=f"target {target_accept}")
    axes[1].set_ylim(0, 1)
    axes[2].plot(update, history["stat_step_size"], lw=0.8, color="C0")
    axes[2].set_yscale("log")
    axes[2].set_ylabel("leapfrog step size ε")
    axes[0].set_title("energy gap")
    axes[1].set_title("acceptance of the HMC shortcut")
    axes[2].set_title("step size (dual averaging)")
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=8, loc="lower right")
    for ax in axes:
        ax.set_xlabel("update")
        ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))
    fig.tight_layout()
    savefig(fig, path)


def top_units(maps: np.ndarray, scales: np.ndarray, path: Path, side: float = 0.8) -> None:
    """The energy each top unit contributes, ``s_k a_k(v)``, on the box (one map per unit).

    ``maps`` has shape ``(n_grid, n_grid, n_top)``: each unit's contribution
    at the cell midpoints of a grid on the box, rows ``y`` and columns ``x``
    (:func:`~pymc_ebm_demos.four_squares.unit_energy_maps`); ``scales`` are
    the units' learned scales ``s_k``, shape ``(n_top,)``. Each map is
    centred on the unit's median contribution over the box: red where the
    unit adds energy (a violated constraint), blue where it takes energy away
    (a familiar feature). Each map has its own symmetric colour range; the
    title gives ``s_k``, the most a sigmoid unit can contribute. Units are
    ordered by how much their contribution varies over the box.
    """
    maps = np.asarray(maps)
    contributions = maps.reshape(-1, maps.shape[-1])  # (n, n_top)
    n_top = contributions.shape[1]
    n_cols = min(8, n_top)
    n_rows = int(np.ceil(n_top / n_cols))
    fig, axes = subplots(n_rows, n_cols, figsize=(1.9 * n_cols, 2.0 * n_rows), squeeze=False)
    order = np.argsort(np.ptp(contributions, axis=0))[::-1]  # most varied first
    for ax, k in zip(axes.ravel(), order, strict=False):
        values = maps[..., k]
        centred = values - np.median(values)
        bound = max(float(np.abs(centred).max()), 1e-12)
        ax.imshow(
            centred,
            origin="lower",
            extent=(*LIMITS, *LIMITS),
            cmap="RdBu_r",
            vmin=-bound,
            vmax=bound,
        )
        _squares(ax, side)
        ax.set_title(f"unit {k}: s = {scales[k]:+.1f}", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes.ravel()[n_top:]:
        ax.set_axis_off()
    fig.tight_layout()
    savefig(fig, path)


def mixing(
    samples: np.ndarray,
    quadrants: np.ndarray,
    path: Path,
    row: int = 0,
    n_sequences: int = 4,
    side: float = 0.8,
) -> None:
    """Why R-hat per row is large, and how well NUTS mixes inside one square.

    ``samples`` has shape ``(chain, draw, row, 2)`` and ``quadrants`` shape
    ``(chain, draw, row)``: the index (0-3) of each draw's quadrant
    (:func:`~pymc_ebm_demos.four_squares.quadrant`). Trace and rank plots
    (arviz-plots) of ``v_x``, two lines of panels. Top: one row in each
    PyMC chain; the chains started at different points of the box and sit
    in different squares. Bottom: as many chain-row sequences as there are
    chains (at most ``n_sequences``) that all stay in the same square,
    treated as the chains (trace zoomed on the first 100 draws); their
    ranks are uniform when they sample the same distribution. When too few
    sequences stay in one square, the bottom line is left out and the title
    says so. ``side`` (of the squares) sets the vertical range of the
    bottom trace.
    """
    samples = np.asarray(samples)
    quad = np.asarray(quadrants)
    stays = np.all(quad == quad[:, :1, :], axis=1)  # (chain, row)
    counts = [int(np.sum(stays & (quad[:, 0, :] == k))) for k in range(4)]
    square = int(np.argmax(counts))
    chain_idx, row_idx = np.nonzero(stays & (quad[:, 0, :] == square))
    wanted = min(n_sequences, samples.shape[0])
    dims = ("chain", "draw")
    lines = {f"v[{row}, x] in each PyMC chain": (dims, samples[:, :, row, 0])}
    centre = FOUR_SQUARE_CENTRES[square]
    in_square = f"v_x of {wanted} sequences in the square ({centre[0]:+.0f}, {centre[1]:+.0f})"
    if wanted >= 2 and len(chain_idx) >= wanted:
        picks = np.linspace(0, len(chain_idx) - 1, wanted).astype(int)
        lines[in_square] = (dims, samples[chain_idx[picks], :, row_idx[picks], 0])
    pc = trace_and_rank(xr.Dataset(lines), height=3.2)
    top = pc.viz["plot"][f"v[{row}, x] in each PyMC chain"].sel(column="trace").item()
    top.set_ylim(*LIMITS)
    top.axhline(0, color="0.6", lw=0.8, ls=":")
    if in_square in lines:
        bottom = pc.viz["plot"][in_square].sel(column="trace").item()
        bottom.set_xlim(0, min(samples.shape[1], 100))
        bottom.set_ylim(centre[0] - side / 2 - 0.15, centre[0] + side / 2 + 0.15)
    else:  # e.g. an untrained energy: every sequence crosses the gaps
        pc.viz["figure"].item().suptitle(f"fewer than {wanted} sequences stay in one square")
    save_collection(pc, path)


def square_masses(tracks: Mapping[str, object], path: Path) -> None:
    """Exact mass of each square over training, one panel per training method.

    ``tracks`` maps a label to the Dataset of
    :func:`~pymc_ebm_demos.four_squares.fit_tracked` (``square_share`` per
    square: shares of the mass inside the squares; ``inside_fraction``).
    Four panels are laid out 2 × 2, fewer in one line.
    """
    n_cols = 2 if len(tracks) == 4 else len(tracks)
    n_rows = int(np.ceil(len(tracks) / n_cols))
    fig, axes = subplots(
        n_rows, n_cols, figsize=(5.2 * n_cols, 3.4 * n_rows), squeeze=False, sharey=True
    )
    for ax, (label, track) in zip(axes.ravel(), tracks.items(), strict=False):
        update = track["update"].values
        for k, square in enumerate(track["square"].values):
            ax.plot(update, track["square_share"].values[:, k], color=f"C{k}", label=square)
        ax.plot(
            update,
            track["inside_fraction"].values,
            color="k",
            ls="--",
            label="inside (of the box)",
        )
        ax.axhline(0.25, color="0.6", lw=0.8, ls=":")
        ax.set_ylim(0, 1)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("update")
        ax.xaxis.set_major_locator(MaxNLocator(5, integer=True))
    for ax in axes.ravel()[len(tracks) :]:
        ax.set_axis_off()
    for ax in axes[:, 0]:
        ax.set_ylabel("share of the mass in the squares")
    axes[0, -1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    savefig(fig, path)
