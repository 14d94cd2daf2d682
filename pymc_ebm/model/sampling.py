"""Drawing fantasies from an energy with PyMC's samplers."""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Sequence
from typing import Any

import pymc as pm
from pymc.step_methods.compound import BlockedStep, CompoundStep
from pymc.util import get_random_generator
from xarray import DataTree

from pymc_ebm._validation import non_negative_int, positive_int, renamed
from pymc_ebm.energies.base import Energy
from pymc_ebm.model.registration import hidden, visible

__all__ = ["sample_fantasies"]

#: ``pm.sample``'s external NUTS samplers.
EXTERNAL_NUTS = ("nutpie", "numpyro", "blackjax")


def sample_fantasies(
    energy: Energy,
    draws: int = 1000,
    chains: int = 4,
    n_particles: int = 1,
    random_seed: Any = None,
    var_name: str = "v",
    nuts_sampler: str = "pymc",
    hidden_name: str | None = None,
    *,
    n_chains: int | None = None,
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
    n_particles : int, default 1
        Independent rows ("fantasy particles") inside each PyMC chain.
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
    n_chains : int, optional
        Deprecated spelling of ``n_particles`` (a ``DeprecationWarning``).
    **pm_sample_kwargs
        Anything else ``pm.sample`` takes (``tune``, ``cores``...). ``step`` may
        be a step-method class (built inside the model, over every variable,
        e.g. ``step=pm.NUTS``) or a callable ``f(model)`` returning a step method,
        since the model is built here.

    Returns
    -------
    xarray.DataTree
        ``posterior[var_name]`` has shape ``(chains, draws, n_particles, dim)``.

    Raises
    ------
    ValueError
        For ``draws``, ``chains`` or ``n_particles`` not a positive integer,
        ``tune`` negative, a ``random_seed`` PyMC cannot seed from, or an
        unknown ``nuts_sampler``, before anything is compiled.
    TypeError
        For an ``energy`` that is not an :class:`~pymc_ebm.Energy`, or a
        ``step`` that is neither a step-method class nor a callable.

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
    spelling = "n_particles" if n_chains is None else "n_chains"
    n_particles = renamed("n_particles", n_particles, 1, "n_chains", n_chains)
    positive_int(spelling, n_particles)
    step = pm_sample_kwargs.pop("step", None)
    check_sample_args(
        draws=draws,
        chains=chains,
        tune=pm_sample_kwargs.get("tune"),
        cores=pm_sample_kwargs.get("cores"),
        random_seed=random_seed,
        step=step,
    )
    with pm.Model() as model:
        v = visible(var_name, energy, n_particles=n_particles)
        if hidden_name is not None:
            hidden(hidden_name, energy, v)
    pm_sample_kwargs["nuts_sampler"] = nuts_sampler
    return sample_model(
        model, step=step, draws=draws, chains=chains, random_seed=random_seed, **pm_sample_kwargs
    )


STEP_ALLOWED = (
    "a step-method class (e.g. pm.NUTS or pymc_ebm.ShortRunHMC) or a callable "
    "f(model) returning a step method or a list of them"
)


def check_sample_args(
    *,
    draws: Any,
    chains: Any,
    tune: Any = None,
    cores: Any = None,
    random_seed: Any = None,
    step: Any = None,
) -> None:
    """Check the ``pm.sample`` arguments of a function that builds its own model.

    Called before the model is built, so that a bad argument costs no
    compilation and no tuning. ``step`` must be a class or a factory: the
    model is built inside the function, so a step method built beforehand
    would belong to another model.

    Raises
    ------
    ValueError
        For ``draws`` or ``chains`` not a positive integer, ``tune`` not a
        non-negative integer, ``cores`` not ``None`` or a positive integer, and
        a ``random_seed`` PyMC cannot seed from.
    TypeError
        For a ``step`` that is neither a step-method class nor a callable.

    Examples
    --------
    >>> check_sample_args(draws=0, chains=2)
    Traceback (most recent call last):
    ...
    ValueError: draws must be a positive integer, got 0
    """
    positive_int("draws", draws)
    positive_int("chains", chains)
    if tune is not None:
        non_negative_int("tune", tune)
    if cores is not None:
        positive_int("cores", cores)
    seed_message = (
        "random_seed must be None, a non-negative integer, a sequence of them, or a "
        f"numpy Generator or BitGenerator, got {random_seed!r}"
    )
    if isinstance(random_seed, bool | str | bytes | float):
        raise ValueError(seed_message)
    try:
        get_random_generator(random_seed)  # PyMC's own reading of a seed (a copy: no draw)
    except (TypeError, ValueError) as err:
        raise ValueError(seed_message) from err
    if isinstance(step, type):
        if not issubclass(step, BlockedStep | CompoundStep):
            raise TypeError(f"step must be {STEP_ALLOWED}, got the class {step.__name__}")
    elif isinstance(step, BlockedStep | CompoundStep) or (
        isinstance(step, Sequence) and not isinstance(step, str)
    ):
        raise TypeError(
            f"step must be {STEP_ALLOWED}, got {type(step).__name__}: the model is built "
            "here, so a step method built beforehand belongs to another model"
        )
    elif step is not None and not callable(step):
        raise TypeError(f"step must be {STEP_ALLOWED}, got {step!r}")


def _is_steps(value: Any) -> bool:
    """Whether ``value`` is a step method or a non-empty list of them."""
    if isinstance(value, BlockedStep | CompoundStep):
        return True
    return (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and len(value) > 0
        and all(isinstance(v, BlockedStep | CompoundStep) for v in value)
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
    Convergence checks are on by default only with several chains (ArviZ's
    0/0 warning on a hidden state that never changes is silenced). PyMC's
    progress bar needs matplotlib: without it, sampling goes on without the bar
    (a ``UserWarning``).
    Sampling happens inside the model's context, as a user would write it.
    """
    with model:
        if isinstance(step, type):
            step = step()
        elif callable(step) and not hasattr(step, "step"):
            step = step(model)
            if not _is_steps(step):
                raise TypeError(
                    f"step must be {STEP_ALLOWED}; the callable returned {type(step).__name__}"
                )
    if step is not None:
        pm_sample_kwargs["step"] = step
    nuts_sampler = pm_sample_kwargs.get("nuts_sampler", "pymc")
    if nuts_sampler != "pymc":
        check_external_nuts(model, nuts_sampler, step)
    pm_sample_kwargs.setdefault("compute_convergence_checks", chains > 1)
    bar = pm_sample_kwargs.get("progressbar", True)
    if bar and importlib.util.find_spec("matplotlib") is None:
        # PyMC's rich progress bar takes its colours from matplotlib, which is not a
        # dependency of PyMC nor of this package: without it the bar would crash pm.sample.
        warnings.warn(
            "PyMC's progress bar needs matplotlib, which is not installed: sampling without "
            "it (pass progressbar=False to silence this warning)",
            UserWarning,
            stacklevel=3,
        )
        pm_sample_kwargs["progressbar"] = False
    with model, warnings.catch_warnings():
        if model.discrete_value_vars:
            # A hidden state that never changes in any chain (an expert never active for a
            # row) has a 0/0 R-hat in ArviZ's convergence check: undefined, not poor mixing.
            warnings.filterwarnings(
                "ignore",
                r"(invalid value|divide by zero) encountered in scalar divide",
                RuntimeWarning,
                r"arviz_stats(\.|$)",
            )
        return pm.sample(draws=draws, chains=chains, random_seed=random_seed, **pm_sample_kwargs)
