"""Figures of the arm study (:mod:`pymc_ebm_demos.arm`), from its arrays and results.

Drawn with the helpers of :mod:`pymc_ebm_demos.plotting` (no pyplot).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from pymc_ebm.datasets import link_lengths
from pymc_ebm_demos.plotting import savefig, subplots

__all__ = ["bias_figure", "imputation_figure", "link_lengths_figure", "training_figure"]


def link_lengths_figure(
    arms: np.ndarray, arms_missing: np.ndarray, lengths: np.ndarray, path: str | Path
) -> Path:
    """Histograms of the link lengths of fantasies (complete and 10 %-missing training).

    Parameters
    ----------
    arms, arms_missing : ndarray, shape (..., 15)
        Fantasies of the two models.
    lengths : ndarray, shape (4,)
        True link lengths.
    path : path
        PNG file to write.

    Returns
    -------
    Path
    """
    fig, axes = subplots(1, len(lengths), figsize=(3.2 * len(lengths), 2.8), sharey=True)
    for link, ax in enumerate(np.atleast_1d(axes)):
        for values, label in (
            (link_lengths(arms)[..., link].ravel(), "complete data"),
            (link_lengths(arms_missing)[..., link].ravel(), "10 % missing"),
        ):
            ax.hist(values, bins=40, density=True, histtype="step", label=label)
        ax.axvline(lengths[link], color="k", lw=1, label="true length")
        ax.set_title(f"link {link + 1}")
        ax.set_xlabel("length in fantasies")
    np.atleast_1d(axes)[0].legend(fontsize=7)
    return savefig(fig, path)


def bias_figure(table: pd.DataFrame, path: str | Path) -> Path:
    """Bias of each unit against the bias its learned link combination implies.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`~pymc_ebm_demos.arm.bias_table`.
    path : path
        PNG file to write.

    Returns
    -------
    Path
    """
    fig, ax = subplots(figsize=(4, 4))
    fitted = table["residual"] < 0.1
    ax.scatter(table["implied_bias"][fitted], table["bias"][fitted], label="residual < 0.1")
    ax.scatter(
        table["implied_bias"][~fitted], table["bias"][~fitted], marker="x", label="residual ≥ 0.1"
    )
    low = float(min(table["bias"].min(), table["implied_bias"].min())) - 0.5
    high = float(max(table["bias"].max(), table["implied_bias"].max())) + 0.5
    ax.plot([low, high], [low, high], color="k", lw=0.8)
    ax.set_xlabel("implied bias  −Σ_l a_kl l_l²")
    ax.set_ylabel("learned bias b_k")
    ax.legend(fontsize=8)
    return savefig(fig, path)


def imputation_figure(imputation: dict[str, Any], path: str | Path) -> Path:
    """True against imputed values of the missing entries, with 90 % posterior intervals.

    Parameters
    ----------
    imputation : dict
        :func:`~pymc_ebm_demos.arm.heldout_imputation`.
    path : path
        PNG file to write.

    Returns
    -------
    Path
    """
    missing = np.isnan(imputation["observed"])
    truth = imputation["truth"][missing]
    filled = imputation["filled"][missing]
    lower, upper = imputation["lower"][missing], imputation["upper"][missing]
    fig, ax = subplots(figsize=(4.5, 4.5))
    # a two-mode posterior can have its mean outside its central interval: draw both
    ax.vlines(truth, lower, upper, lw=0.6, alpha=0.6, label="90 % interval")
    ax.plot(truth, filled, "o", ms=3, label="posterior mean")
    ax.legend(fontsize=8)
    span = [float(truth.min()) - 0.5, float(truth.max()) + 0.5]
    ax.plot(span, span, color="k", lw=0.8)
    ax.set_xlabel("true value")
    ax.set_ylabel("posterior mean (90 % interval)")
    ax.set_title("held-out arms, missing entries")
    return savefig(fig, path)


def training_figure(history: xr.Dataset, history_missing: xr.Dataset, path: str | Path) -> Path:
    """Energy gap and acceptance during training, complete and incomplete data.

    Parameters
    ----------
    history, history_missing : xarray.Dataset
        ``ContrastiveDivergence.history`` of the two runs.
    path : path
        PNG file to write.

    Returns
    -------
    Path
    """
    fig, axes = subplots(1, 2, figsize=(9, 3))
    for hist, label in ((history, "complete data"), (history_missing, "10 % missing")):
        window = max(1, hist.sizes["update"] // 50)
        gap = hist["energy_gap"].rolling(update=window, min_periods=1).mean()
        axes[0].plot(hist["update"], gap, label=label)
        axes[1].plot(
            hist["update"], hist["stat_accept"].rolling(update=window).mean(), label=label
        )
    axes[0].set_title("energy gap (negatives − data)")
    axes[1].set_title("HMC acceptance")
    for ax in axes:
        ax.set_xlabel("update")
        ax.legend(fontsize=8)
    return savefig(fig, path)
