"""Drawing fantasies from an energy with PyMC's samplers."""

from __future__ import annotations

from typing import Any

import pymc as pm
from xarray import DataTree

from pymc_ebm.energies.base import Energy
from pymc_ebm.model.registration import hidden, visible

__all__ = ["sample_fantasies"]

#: ``pm.sample``'s external NUTS samplers.
EXTERNAL_NUTS = ("nutpie", "numpyro", "blackjax")


def sample_fantasies(
    energy: Energy,
    draws: int = 1000,
    chains: int = 4,
    n_chains: int = 1,
    random_seed: Any = None,
    var_name: str = "v",
    nuts_sampler: str = "pymc",
    hidden_name: str | None = None,
    **pm_sample_kwargs: Any,
) -> DataTree:
    """Sample ``p(v) ∝ exp(-E(v))`` with ``pm.sample`` and return its ArviZ DataTree.

    Builds a model with :func:`~pymc_ebm.visible` and lets PyMC choose the
    step method (NUTS for continuous energies, :class:`~pymc_ebm.UniGaussGibbs`
    for uni-gauss products, :class:`~pymc_ebm.StudentTGibbs` for Student-t
    products whose filters span the space) unless ``step`` is given.

    Parameters
    ----------
    energy : Energy
        The energy to sample.
    draws, chains : int
        As in ``pm.sample``.
    n_chains : int, default 1
        Independent rows inside each PyMC chain.
    random_seed : int or Generator, optional
        Passed to ``pm.sample``.
    var_name : str, default "v"
        Name of the visible variable in the posterior group.
    nuts_sampler : {"pymc", "nutpie", "numpyro", "blackjax"}, default "pymc"
        As in ``pm.sample``: ``"pymc"`` lets PyMC choose the step methods;
        the others hand the whole model to that package's NUTS (installed
        separately: ``pip install 'pymc-ebm[jax]'`` brings NumPyro). Those
        samplers take continuous variables only, and no ``step``.
    hidden_name : str, optional
        Also sample the experts' binary hidden states under this name
        (:func:`~pymc_ebm.hidden`, uni-gauss energies): ``p(v, h)`` instead of
        ``p(v)``. Discrete, so only with ``nuts_sampler="pymc"``.
    **pm_sample_kwargs
        Anything else ``pm.sample`` takes (``tune``, ``cores``...). ``step`` may
        be a step-method class (built inside the model, over every variable,
        e.g. ``step=pm.NUTS``) or a callable ``f(model)`` returning a step method,
        since the model is built here.

    Returns
    -------
    xarray.DataTree
        ``posterior[var_name]`` has shape ``(chains, draws, n_chains, dim)``.

    Examples
    --------
    >>> import numpy as np, pymc_ebm
    >>> experts = pymc_ebm.Gaussian(np.zeros((4, 1)), np.ones((4, 1)))
    >>> idata = pymc_ebm.sample_fantasies(
    ...     experts, draws=50, tune=50, chains=1, random_seed=1, progressbar=False
    ... )
    >>> idata.posterior["v"].shape
    (1, 50, 1, 1)
    """
    step = pm_sample_kwargs.pop("step", None)
    with pm.Model() as model:
        v = visible(var_name, energy, n_chains=n_chains)
        if hidden_name is not None:
            hidden(hidden_name, energy, v)
    pm_sample_kwargs["nuts_sampler"] = nuts_sampler
    return sample_model(
        model, step=step, draws=draws, chains=chains, random_seed=random_seed, **pm_sample_kwargs
    )


def check_external_nuts(model: pm.Model, nuts_sampler: str, step: Any = None) -> None:
    """Refuse what an external NUTS sampler (nutpie, NumPyro, BlackJAX) cannot sample.

    Raises
    ------
    ValueError
        For an unknown sampler, a ``step`` (they sample the whole model with
        their own NUTS), or a model with discrete variables (hidden states).

    Examples
    --------
    >>> import numpy as np, pymc as pm, pymc_ebm
    >>> experts = pymc_ebm.UniGauss([[0.5, 0.5]], [[0.2, 0.2]], [0.5])
    >>> with pm.Model() as model:
    ...     v = pymc_ebm.visible("v", experts)
    ...     h = pymc_ebm.hidden("h", experts, v)
    >>> try:
    ...     check_external_nuts(model, "numpyro")
    ... except ValueError as error:
    ...     print(error)  # doctest: +ELLIPSIS
    nuts_sampler='numpyro' samples continuous variables only; ... hidden states ['h']...
    """
    if nuts_sampler not in EXTERNAL_NUTS:
        raise ValueError(
            f"nuts_sampler must be 'pymc' or one of {EXTERNAL_NUTS}, got {nuts_sampler!r}"
        )
    if step is not None:
        raise ValueError(
            f"nuts_sampler={nuts_sampler!r} samples the whole model with its own NUTS; "
            "a step cannot be given with it"
        )
    discrete = [v.name for v in model.discrete_value_vars]
    if discrete:
        raise ValueError(
            f"nuts_sampler={nuts_sampler!r} samples continuous variables only; this model has "
            f"discrete hidden states {discrete}: use nuts_sampler='pymc' "
            "(PyMC assigns Gibbs steps to them)"
        )


def sample_model(
    model: pm.Model,
    step: Any = None,
    *,
    draws: int,
    chains: int,
    random_seed: Any = None,
    **pm_sample_kwargs: Any,
) -> DataTree:
    """``pm.sample`` inside ``with model:``, with ``step`` as a class, factory or instance.

    A step-method class is built inside the model over every variable
    (``step=pm.NUTS``); a callable without a ``step`` method is called as
    ``step(model)`` inside the model; anything else goes to ``pm.sample`` as it
    is; with an external ``nuts_sampler``, :func:`check_external_nuts` first.
    Convergence checks are on by default only with several chains.
    Sampling happens inside the model's context, as a user would write it.
    """
    with model:
        if isinstance(step, type):
            step = step()
        elif callable(step) and not hasattr(step, "step"):
            step = step(model)
    if step is not None:
        pm_sample_kwargs["step"] = step
    nuts_sampler = pm_sample_kwargs.get("nuts_sampler", "pymc")
    if nuts_sampler != "pymc":
        check_external_nuts(model, nuts_sampler, step)
    pm_sample_kwargs.setdefault("compute_convergence_checks", chains > 1)
    with model:
        return pm.sample(draws=draws, chains=chains, random_seed=random_seed, **pm_sample_kwargs)
