"""The 3-D arm of the lecture: learning link-length constraints, with and without missing inputs.

A network of squared linear filters and heavy-tailed constraint units
(:class:`~pymc_ebm.FASConstraints`, times a broad :class:`~pymc_ebm.Gaussian`
that confines the directions no constraint sees) is trained by contrastive
divergence with the HMC shortcut on arms of 5 joints and 4 links
(:func:`~pymc_ebm.datasets.arm`). Fantasies from ``pm.sample`` show whether
the links kept their lengths; the learned quadratic forms show which link
constraints each unit combined (the lecture's bias table).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from pymc_ebm.datasets import link_lengths
from pymc_ebm.energies.combine import ProductOfExperts
from pymc_ebm.energies.constraints import FASConstraints
from pymc_ebm.energies.gaussian import Gaussian
from pymc_ebm.sampling import sample_fantasies
from pymc_ebm.training import ContrastiveDivergence

__all__ = [
    "ArmSettings",
    "bias_table",
    "link_difference_operators",
    "link_length_error",
    "make_energy",
    "sample_arm_fantasies",
    "train",
]


@dataclass(frozen=True)
class ArmSettings:
    """Sizes of the study; :meth:`quick` shrinks them for tests."""

    n_data: int = 2000
    n_filters: int = 24
    n_units: int = 8
    n_updates: int = 20000
    batch_size: int = 100
    learning_rate: float = 0.01
    n_steps: int = 10
    step_size: float = 0.05
    missing_fraction: float = 0.1
    n_heldout: int = 100
    draws: int = 500
    tune: int = 500
    chains: int = 2
    n_chains: int = 20
    seed: int = 0

    @classmethod
    def quick(cls, seed: int = 0) -> ArmSettings:
        """Small sizes that run in seconds (for tests and ``--quick``)."""
        return cls(
            n_data=300, n_updates=300, n_heldout=10, draws=60, tune=60, n_chains=5, seed=seed
        )


def make_energy(X: np.ndarray, settings: ArmSettings) -> tuple[FASConstraints, ProductOfExperts]:
    """The constraint network and its product with a broad Gaussian, before training.

    The filters start random with outputs of order one on the data; the
    Gaussian starts at the data's mean with twice its standard deviation (it
    only has to confine the directions no constraint sees, such as moving
    the whole arm).

    Parameters
    ----------
    X : ndarray, shape (n, 15)
        Training arms (``NaN`` allowed: ignored for the statistics).
    settings : ArmSettings

    Returns
    -------
    constraints : FASConstraints
    energy : ProductOfExperts
        ``constraints * Gaussian``, the energy that is trained and sampled.
    """
    mean = np.nanmean(X, axis=0)
    sd = np.nanstd(X, axis=0)
    constraints = FASConstraints.random(
        X.shape[1],
        settings.n_filters,
        settings.n_units,
        scale=float(sd.mean()),
        random_seed=settings.seed,
    )
    confining = Gaussian(mu=mean[None], sigma=(2.0 * sd)[None])
    return constraints, ProductOfExperts([constraints, confining])


def train(
    X: np.ndarray, settings: ArmSettings, **trainer_kwargs: Any
) -> tuple[FASConstraints, ProductOfExperts, xr.Dataset, float]:
    """Contrastive divergence with the HMC shortcut (momentum once, ``n_steps`` leapfrog steps).

    Parameters
    ----------
    X : ndarray, shape (n, 15)
        Training arms.
    settings : ArmSettings
    **trainer_kwargs
        Extra keyword arguments of :class:`~pymc_ebm.ContrastiveDivergence`
        (e.g. the missing-input options).

    Returns
    -------
    constraints, energy, history, seconds
    """
    constraints, energy = make_energy(X, settings)
    trainer = ContrastiveDivergence(
        energy,
        sampler="hmc",
        k=1,
        batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        optimizer="adam",
        momentum=0.9,
        step_kwargs={"n_steps": settings.n_steps, "step_size": settings.step_size},
        random_seed=settings.seed,
        **trainer_kwargs,
    )
    started = time.perf_counter()
    history = trainer.fit(X, n_updates=settings.n_updates, progress=False)
    return constraints, energy, history, time.perf_counter() - started


def sample_arm_fantasies(energy: ProductOfExperts, starts: np.ndarray, settings: ArmSettings):
    """Fantasies with PyMC's NUTS, each chain's rows starting at the given arms.

    Parameters
    ----------
    energy : ProductOfExperts
    starts : ndarray, shape (chains * n_chains, 15)
        Complete arms to start from (the chains then move by themselves).
    settings : ArmSettings

    Returns
    -------
    xarray.DataTree
    """
    starts = np.asarray(starts).reshape(settings.chains, settings.n_chains, -1)
    return sample_fantasies(
        energy,
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        n_chains=settings.n_chains,
        initvals=[{"v": start} for start in starts],
        random_seed=settings.seed + 1,
        cores=1,
        progressbar=False,
    )


def link_length_error(arms: np.ndarray, lengths: np.ndarray) -> float:
    """Median over links and arms of ``|length − true| / true``.

    Parameters
    ----------
    arms : ndarray, shape (..., 15)
    lengths : ndarray, shape (4,)

    Returns
    -------
    float
    """
    return float(np.median(np.abs(link_lengths(arms) / lengths - 1.0)))


def link_difference_operators(n_joints: int = 5) -> np.ndarray:
    """``D_l`` (3 × 3 n_joints) taking joint ``l + 1`` minus joint ``l``, shape ``(n_links, 3, 3 n_joints)``.

    Examples
    --------
    >>> from pymc_ebm.studies.arm import link_difference_operators
    >>> D = link_difference_operators()
    >>> D.shape, D[0, 0, :6].tolist()
    ((4, 3, 15), [-1.0, 0.0, 0.0, 1.0, 0.0, 0.0])
    """
    n_links = n_joints - 1
    D = np.zeros((n_links, 3, 3 * n_joints))
    for link in range(n_links):
        D[link, :, 3 * link : 3 * link + 3] = -np.eye(3)
        D[link, :, 3 * link + 3 : 3 * link + 6] = np.eye(3)
    return D


def bias_table(constraints: FASConstraints, lengths: np.ndarray) -> pd.DataFrame:
    """Which link constraints each unit learned, and whether its bias fits them.

    For unit ``k``, ``c_k(v) = vᵀ M_k v + b_k``. If the unit learned a
    combination of link constraints, ``M_k ≈ Σ_l a_kl D_lᵀ D_l`` and then its
    bias must be ``b_k ≈ −Σ_l a_kl l_l²`` (superimposing constraints). The
    coefficients ``a_kl`` are fitted by least squares.

    Parameters
    ----------
    constraints : FASConstraints
    lengths : ndarray, shape (n_links,)
        True link lengths.

    Returns
    -------
    pandas.DataFrame
        One row per unit: ``residual`` (relative Frobenius residual of the
        fit), ``bias``, ``implied_bias`` (``−Σ_l a_kl l_l²``), ``alpha``, and
        the coefficients ``a_1 … a_L``.
    """
    lengths = np.asarray(lengths, dtype=float)
    D = link_difference_operators(lengths.size + 1)
    basis = np.stack([(d.T @ d).ravel() for d in D], axis=1)  # (dim², n_links)
    forms = constraints.quadratic_forms()
    biases = constraints.b.get_value()
    rows = []
    for k, form in enumerate(forms):
        target = form.ravel()
        coef, *_ = np.linalg.lstsq(basis, target, rcond=None)
        residual = np.linalg.norm(basis @ coef - target) / max(np.linalg.norm(target), 1e-300)
        rows.append(
            {
                "unit": k,
                "residual": float(residual),
                "bias": float(biases[k]),
                "implied_bias": float(-coef @ lengths**2),
                "alpha": float(constraints.alpha[k]),
                **{f"a_{link + 1}": float(c) for link, c in enumerate(coef)},
            }
        )
    return pd.DataFrame(rows).set_index("unit")
