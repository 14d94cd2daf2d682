"""Filling in the missing entries of a data matrix from an energy's conditional densities."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pymc as pm
from xarray import DataTree

from pymc_ebm.energies.base import Energy
from pymc_ebm.model.registration import check_observed, visible
from pymc_ebm.model.sampling import check_sample_args, sample_model

__all__ = ["impute"]


def impute(
    energy: Energy,
    X: npt.ArrayLike,
    *,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    step: Any = None,
    random_seed: Any = None,
    progressbar: bool = True,
    var_name: str = "x",
    **pm_sample_kwargs: Any,
) -> tuple[np.ndarray, DataTree]:
    """Sample the missing (``NaN``) entries of ``X`` given its observed ones; fill in their means.

    Builds a model with ``pymc_ebm.visible(var_name, energy, observed=X)``
    (each incomplete row's missing entries drawn from ``p(missing | observed)
    ∝ exp(-E(row))``, rows independent), samples it with ``pm.sample`` and
    replaces each ``NaN`` by its posterior mean.

    Parameters
    ----------
    energy : Energy
        The energy of a data row.
    X : array_like, shape (n_rows, dim)
        Data with ``NaN`` for missing entries (masked entries of a masked
        array count as missing); see :func:`pymc_ebm.visible` for what is
        refused.
    draws, tune, chains, random_seed, progressbar
        As in ``pm.sample`` (whose progress bar needs matplotlib: without
        it, a ``UserWarning`` and no bar).
    step : step method, class or callable, optional
        As in :func:`pymc_ebm.sample_fantasies`: a step-method class (built
        inside the model over every free variable, e.g. ``pymc_ebm.ShortRunHMC``),
        a callable ``f(model)`` returning a step method, or ``None`` for
        PyMC's choice (NUTS).
    var_name : str, default "x"
        Name of the completed matrix in the posterior; the sampled missing
        entries are ``f"{var_name}_missing"``.
    **pm_sample_kwargs
        Anything else ``pm.sample`` takes (``cores``, ``target_accept``...).

    Returns
    -------
    filled : ndarray, shape (n_rows, dim)
        ``X`` as float64 with each missing entry replaced by its posterior
        mean; observed entries are exactly those of ``X``.
    idata : xarray.DataTree
        ``posterior[var_name]`` has shape ``(chains, draws, n_rows, dim)``
        (observed entries constant), ``posterior[f"{var_name}_missing"]``
        shape ``(chains, draws, n_incomplete_rows, max_missing_per_row)``.

    Raises
    ------
    ValueError
        For a bad ``X``, as :func:`pymc_ebm.visible` with ``observed``, and
        for bad ``pm.sample`` arguments (``draws`` or ``chains`` not a
        positive integer, ``tune`` negative, a ``random_seed`` PyMC cannot
        seed from), before anything is compiled.
    TypeError
        For an ``energy`` that is not an :class:`~pymc_ebm.Energy`, or a
        ``step`` that is neither a step-method class nor a callable.

    Examples
    --------
    >>> import numpy as np, pymc_ebm
    >>> experts = pymc_ebm.Gaussian(np.zeros((2, 2)), np.ones((2, 2)))
    >>> X = np.array([[0.5, np.nan], [np.nan, -1.0]])
    >>> filled, idata = pymc_ebm.impute(
    ...     experts, X, draws=100, tune=100, chains=1, random_seed=0, progressbar=False
    ... )
    >>> filled.shape, filled[0, 0], filled[1, 1], idata.posterior["x"].shape
    ((2, 2), np.float64(0.5), np.float64(-1.0), (1, 100, 2, 2))
    """
    check_sample_args(
        draws=draws,
        chains=chains,
        tune=tune,
        cores=pm_sample_kwargs.get("cores"),
        random_seed=random_seed,
        step=step,
    )
    data = check_observed(energy, X)
    with pm.Model() as model:
        visible(var_name, energy, observed=data)
    idata = sample_model(
        model,
        step=step,
        draws=draws,
        chains=chains,
        random_seed=random_seed,
        tune=tune,
        progressbar=progressbar,
        **pm_sample_kwargs,
    )
    missing = np.isnan(data)
    means = idata.posterior[var_name].mean(dim=("chain", "draw")).values
    filled = data.copy()
    filled[missing] = means[missing]
    return filled, idata
