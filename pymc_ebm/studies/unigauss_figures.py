"""Figures of the 24-cluster study (matplotlib, written as PNG).

The figures are made with :class:`matplotlib.figure.Figure`, not pyplot, so
drawing a figure leaves matplotlib's backend alone (a notebook keeps its
inline backend). Trace and rank plots are drawn by arviz-plots, which uses
pyplot; :func:`save` closes them after writing the PNG.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import arviz as az
import arviz_plots as azp
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Ellipse, Rectangle

from pymc_ebm.datasets import grid_centres
from pymc_ebm.energies.unigauss import UniGauss

__all__ = [
    "cell_shares",
    "experts",
    "fantasies",
    "free_energy",
    "mixing",
    "mixing_panels",
    "save",
    "trace_and_rank",
    "training",
]

_ORIENTATION_COLOURS = {"vertical": "C0", "horizontal": "C1", "blob": "0.5"}


def _subplots(*args, figsize: tuple[float, float], **kwargs):
    """A new Figure (no pyplot) and its axes, like ``pyplot.subplots``."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*args, **kwargs)


def _square(ax) -> None:
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")


def experts(X: np.ndarray, energy: UniGauss, path: Path) -> None:
    """Data and each learned Gaussian as a 2σ ellipse (opacity = mixing proportion).

    Ellipses are coloured by orientation: vertical stripes (narrow in x),
    horizontal stripes (narrow in y) and the rest.
    """
    from pymc_ebm.studies.unigauss_clusters import expert_orientation

    fig, ax = _subplots(figsize=(5.5, 5.5))
    ax.scatter(X[:, 0], X[:, 1], s=4, color="0.3", zorder=3)
    mu, sigma, pi = energy.mu.get_value(), energy.sigma, energy.pi
    kinds = expert_orientation(energy)
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
    fig.savefig(path, dpi=110, bbox_inches="tight")


def free_energy(X: np.ndarray, energy: UniGauss, path: Path, n_grid: int = 200) -> None:
    """Free energy on the unit square with the data on top."""
    grid = (np.arange(n_grid) + 0.5) / n_grid
    gx, gy = np.meshgrid(grid, grid)
    values = energy.energy_fn()(np.c_[gx.ravel(), gy.ravel()]).reshape(gx.shape)
    fig, ax = _subplots(figsize=(5.5, 5))
    image = ax.imshow(values, origin="lower", extent=(0, 1, 0, 1), cmap="viridis_r")
    fig.colorbar(image, ax=ax, label="free energy F(v)")
    ax.scatter(X[:, 0], X[:, 1], s=2, color="white")
    _square(ax)
    ax.set_title("free energy (low = likely)")
    fig.savefig(path, dpi=110, bbox_inches="tight")


def fantasies(X: np.ndarray, samples: np.ndarray, path: Path, max_points: int = 6000) -> None:
    """Fantasies from pm.sample against the grid, the missing centre circled."""
    points = samples.reshape(-1, 2)
    rng = np.random.default_rng(0)
    if len(points) > max_points:
        points = points[rng.choice(len(points), max_points, replace=False)]
    fig, axes = _subplots(1, 2, figsize=(10, 5))
    axes[0].scatter(X[:, 0], X[:, 1], s=4, color="0.3")
    axes[0].set_title("training data (24 clusters)")
    axes[1].scatter(points[:, 0], points[:, 1], s=2, alpha=0.3, color="C0")
    axes[1].set_title("fantasies from pm.sample")
    for ax in axes:
        ax.scatter(*grid_centres().T, marker="+", color="k", s=30)
        ax.add_patch(Circle((2 / 6, 3 / 6), 0.06, fill=False, color="C3", lw=2))
        _square(ax)
    fig.savefig(path, dpi=110, bbox_inches="tight")


def training(history, path: Path, window: int = 50) -> None:
    """Mean data and negative free energies over training, and their gap.

    The gap is drawn raw and as a running mean over ``window`` updates; a
    dashed line marks where a new phase (longer chains) starts, when the
    history has a ``phase`` coordinate.
    """
    fig, axes = _subplots(1, 2, figsize=(10, 3.5))
    update = history["update"].values
    axes[0].plot(update, history["energy_data"], label="data", lw=0.8)
    axes[0].plot(update, history["energy_negative"], label="negatives", lw=0.8)
    axes[0].set_ylabel("mean free energy")
    gap = np.asarray(history["energy_gap"], dtype=float)
    axes[1].plot(update, gap, lw=0.4, color="0.7", label="per update")
    if len(gap) >= window:
        smooth = np.convolve(gap, np.ones(window) / window, mode="valid")
        axes[1].plot(update[window - 1 :], smooth, color="C3", label=f"mean of {window}")
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
    fig.savefig(path, dpi=110, bbox_inches="tight")


def cell_shares(panels: Mapping[str, np.ndarray], path: Path) -> None:
    """Share of each grid cell (5×5 heat maps, one per entry of ``panels``), missing cell boxed."""
    fig, axes = _subplots(1, len(panels), figsize=(3.6 * len(panels), 3.6), squeeze=False)
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
    fig.savefig(path, dpi=110, bbox_inches="tight")


def trace_and_rank(posterior: xr.Dataset, height: float = 2.8, width: float = 11.0):
    """Trace and rank plot of every scalar variable of ``posterior``, one line of panels each.

    ``posterior`` holds variables of shape ``(chain, draw)``; the panels are
    :func:`arviz_plots.plot_trace` and :func:`arviz_plots.plot_rank` side by
    side (fractional-rank Δ-ECDF: if the chains sample the same
    distribution, every chain's ranks are uniform and its curve stays near
    zero; a chain stuck in one mode bends far away and is flagged).

    Parameters
    ----------
    posterior : xarray.Dataset
        Scalar variables with dimensions ``(chain, draw)``.
    height, width : float
        Inches per line of panels, and the figure's width.

    Returns
    -------
    arviz_plots.PlotCollection
        Its ``viz["plot"][name].sel(column="trace" or "rank")`` are the axes;
        save it with :func:`save`.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from pymc_ebm.studies.unigauss_figures import save, trace_and_rank
    >>> draws = np.random.default_rng(0).uniform(size=(2, 50))
    >>> pc = trace_and_rank(xr.Dataset({"x": (("chain", "draw"), draws)}))
    >>> pc.viz["plot"]["x"].sel(column="rank").item().get_xlabel()
    'Fractional ranks'
    >>> save(pc, None)
    """
    sizes = posterior.sizes
    posterior = posterior.assign_coords(
        chain=np.arange(sizes["chain"]), draw=np.arange(sizes["draw"])
    )
    pc = azp.combine_plots(
        xr.DataTree.from_dict({"posterior": posterior}),
        plots=[(azp.plot_trace, {"visuals": {"trace": {"linewidth": 0.7}}}), (azp.plot_rank, {})],
        plot_names=["trace", "rank"],
        backend="matplotlib",
        figure_kwargs={
            "figsize": (width, height * len(posterior.data_vars)),
            "layout": "constrained",
        },
    )
    # the p-value of the multi-chain uniformity test sits at a data height that
    # can be far off the curves' range: pin it to the panel's top left corner
    texts = pc.viz.children.get("p_value_text_rank")
    for name in posterior.data_vars if texts is not None else ():
        if name in texts.data_vars:
            text = texts[name].item()
            text.set_transform(pc.viz["plot"][name].sel(column="rank").item().transAxes)
            text.set_position((0.02, 0.9))
    return pc


def save(pc, path: Path | None) -> None:
    """Write an arviz-plots figure as PNG (unless ``path`` is None) and close it in pyplot."""
    figure = pc.viz["figure"].item()
    if path is not None:
        figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)  # arviz-plots draws with pyplot; a notebook shows the PNG instead


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
    save(pc, path)


def mixing(gibbs, default, path: Path) -> None:
    """Traces and rank plots of ``v[0, 0]``: UniGaussGibbs vs NUTS + BinaryGibbsMetropolis."""
    mixing_panels({"UniGaussGibbs": gibbs, "NUTS + BinaryGibbs": default}, path)
