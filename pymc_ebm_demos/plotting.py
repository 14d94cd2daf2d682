"""Plotting helpers shared by the demos' figure modules (matplotlib, written as PNG).

The figures are :class:`matplotlib.figure.Figure` objects made without pyplot
(:func:`subplots`), so drawing one leaves matplotlib's backend alone (a
notebook keeps its inline backend); :func:`savefig` writes them at
:data:`DPI`. Trace and rank plots are drawn by arviz-plots, which uses
pyplot: :func:`save_collection` closes them after writing the PNG.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import arviz_plots as azp
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

__all__ = [
    "DPI",
    "plot_running_mean",
    "running_mean",
    "save_collection",
    "savefig",
    "subplots",
    "trace_and_rank",
]

DPI = 110  # dots per inch of every PNG the demos write


def subplots(
    *args: Any, figsize: tuple[float, float], layout: str | None = None, **kwargs: Any
) -> tuple[Figure, Any]:
    """A new Figure (no pyplot) and its axes, like ``pyplot.subplots``.

    Examples
    --------
    >>> from pymc_ebm_demos.plotting import subplots
    >>> fig, axes = subplots(1, 2, figsize=(4, 2))
    >>> axes.shape
    (2,)
    """
    fig = Figure(figsize=figsize, layout=layout)
    return fig, fig.subplots(*args, **kwargs)


def savefig(fig: Figure, path: str | Path, *, dpi: int = DPI, tight: bool = True) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix) at ``dpi``; returns the path.

    ``tight`` crops the figure to what is drawn (``bbox_inches="tight"``).
    """
    path = Path(path)
    fig.savefig(path, dpi=dpi, **({"bbox_inches": "tight"} if tight else {}))
    return path


def running_mean(values: np.ndarray, window: int) -> np.ndarray | None:
    """Mean of every ``window`` consecutive values (``len - window + 1`` of them), or ``None``.

    ``None`` when there are fewer than ``window`` values.

    Examples
    --------
    >>> from pymc_ebm_demos.plotting import running_mean
    >>> running_mean([1.0, 2.0, 3.0, 4.0], 2).tolist()
    [1.5, 2.5, 3.5]
    >>> running_mean([1.0], 2) is None
    True
    """
    values = np.asarray(values, dtype=float)
    if len(values) < window:
        return None
    return np.convolve(values, np.ones(window) / window, mode="valid")


def plot_running_mean(
    ax: Any,
    x: np.ndarray,
    values: np.ndarray,
    window: int,
    *,
    lw: float = 0.4,
    color: str = "0.7",
) -> None:
    """A history per update (thin, grey: ``lw``, ``color``) and its running mean (red).

    The running mean over ``window`` updates (:func:`running_mean`) is drawn
    at the last update of each window, and left out when the history is
    shorter than ``window``; the lines are labelled ``"per update"`` and
    ``"mean of {window}"``.
    """
    x = np.asarray(x)
    values = np.asarray(values, dtype=float)
    ax.plot(x, values, lw=lw, color=color, label="per update")
    smooth = running_mean(values, window)
    if smooth is not None:
        ax.plot(x[window - 1 :], smooth, color="C3", label=f"mean of {window}")


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
        save it with :func:`save_collection`.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from pymc_ebm_demos.plotting import save_collection, trace_and_rank
    >>> draws = np.random.default_rng(0).uniform(size=(2, 50))
    >>> pc = trace_and_rank(xr.Dataset({"x": (("chain", "draw"), draws)}))
    >>> pc.viz["plot"]["x"].sel(column="rank").item().get_xlabel()
    'Fractional ranks'
    >>> save_collection(pc, None)
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


def save_collection(pc, path: str | Path | None) -> None:
    """Write an arviz-plots figure as PNG (unless ``path`` is None) and close it in pyplot."""
    figure = pc.viz["figure"].item()
    if path is not None:
        savefig(figure, path)
    plt.close(figure)  # arviz-plots draws with pyplot; a notebook shows the PNG instead
