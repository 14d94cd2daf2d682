"""The 3-D arm of the lecture: learning link-length constraints, with and without missing inputs.

A network of squared linear filters and heavy-tailed constraint units
(:class:`~pymc_ebm.FASConstraints`, times a broad :class:`~pymc_ebm.Gaussian`
that confines the directions no constraint sees) is trained by contrastive
divergence with the HMC shortcut on arms of 5 joints and 4 links
(:func:`~pymc_ebm.datasets.arm`). Fantasies from ``pm.sample`` show whether
the links kept their lengths; the learned quadratic forms show which link
constraints each unit combined (the lecture's bias table).

The full-size results over seeds (link lengths, the bias table, imputation and
its coverage, and why the coverage target is out of reach for a correct model)
are in the case study ``case_studies/04_constraints_and_the_arm``, section 5.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytensor
from pymc.step_methods.compound import BlockedStep, Competence, StepMethodState
from pymc.util import get_random_generator, get_value_vars_from_user_vars

import pymc_ebm
from pymc_ebm import (
    ContrastiveDivergence,
    FASConstraints,
    Gaussian,
    ModeJump,
    ProductOfExperts,
    impute,
    sample_fantasies,
)
from pymc_ebm.datasets import arm, link_lengths
from pymc_ebm.model import missing_layout
from pymc_ebm.model.terms import row_log_density
from pymc_ebm.step_methods.copying import ModelFreeCopy
from pymc_ebm.step_methods.untuned import UntunedStep
from pymc_ebm_demos.summaries import write_summary

__all__ = [
    "SUMMARY_DESCRIPTION",
    "ArmReflection",
    "ArmSettings",
    "bias_table",
    "determined_entries",
    "heldout_imputation",
    "link_difference_operators",
    "link_length_error",
    "make_energy",
    "run",
    "sample_arm_fantasies",
    "train",
]


@dataclass(frozen=True)
class ArmSettings:
    """Sizes of the study; :meth:`quick` shrinks them for tests.

    ``draws``, ``tune`` and ``chains`` size the fantasies; ``impute_draws``,
    ``impute_tune`` and ``impute_chains`` the held-out imputation, whose
    largest R-hat over about 150 imputed entries needs PyMC's default four
    chains of 1000 draws to stay clear of 1.05 (two chains of 500 gave 1.01
    to 1.15 for the same seed).
    """

    n_data: int = 2000
    n_filters: int = 24
    n_units: int = 8
    n_updates: int = 20000
    average_last: int = 5000
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
    mode_starts: int = 16
    impute_draws: int = 1000
    impute_tune: int = 1000
    impute_chains: int = 4
    seed: int = 0

    @classmethod
    def quick(cls, seed: int = 0) -> ArmSettings:
        """Small sizes that run in seconds (for tests and ``--quick``)."""
        return cls(
            n_data=300,
            n_updates=300,
            average_last=75,
            n_heldout=10,
            draws=60,
            tune=60,
            n_chains=5,
            mode_starts=4,
            impute_draws=60,
            impute_tune=60,
            impute_chains=2,
            seed=seed,
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
        Sizes and seed.

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
) -> tuple[FASConstraints, ProductOfExperts, ContrastiveDivergence, float]:
    """Contrastive divergence with the HMC shortcut (momentum once, ``n_steps`` leapfrog steps).

    Adam at a constant learning rate; the energy ends with the mean of its
    parameters over the last ``settings.average_last`` updates (Polyak–Ruppert
    averaging, ``average_from`` of the trainer), which removes most of the
    noise that the constant rate leaves in the units' biases.

    Parameters
    ----------
    X : ndarray, shape (n, 15)
        Training arms.
    settings : ArmSettings
        Sizes, learning rate, HMC settings and seed.
    **trainer_kwargs
        Extra keyword arguments of :class:`~pymc_ebm.ContrastiveDivergence`
        (e.g. the missing-input options).

    Returns
    -------
    constraints, energy, trainer, seconds
        The trainer holds the history (and, with missing inputs, the
        filled-in training arms ``trainer.filled``).
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
        average_from=(
            max(settings.n_updates - settings.average_last, 0) if settings.average_last else None
        ),
        **trainer_kwargs,
    )
    started = time.perf_counter()
    trainer.fit(X, n_updates=settings.n_updates, progressbar=False)
    if trainer.average_from is not None:
        trainer.use_average()
    return constraints, energy, trainer, time.perf_counter() - started


def sample_arm_fantasies(energy: ProductOfExperts, starts: np.ndarray, settings: ArmSettings):
    """Fantasies with PyMC's NUTS, each chain's rows starting at the given arms.

    Parameters
    ----------
    energy : ProductOfExperts
        The trained energy.
    starts : ndarray, shape (chains * n_chains, 15)
        Complete arms to start from (the chains then move by themselves).
    settings : ArmSettings
        Draws, tuning steps, chains, rows and seed.

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
        n_particles=settings.n_chains,
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
        Joint coordinates.
    lengths : ndarray, shape (4,)
        True link lengths.

    Returns
    -------
    float
    """
    return float(np.median(np.abs(link_lengths(arms) / lengths - 1.0)))


def link_difference_operators(n_joints: int = 5) -> np.ndarray:
    """Operators ``D_l``: joint ``l + 1`` minus joint ``l``, shape ``(n_links, 3, 3 n_joints)``.

    Examples
    --------
    >>> from pymc_ebm_demos.arm import link_difference_operators
    >>> D = link_difference_operators()
    >>> D.shape, D[0, 0, :6].tolist()
    ((4, 3, 15), [-1.0, 0.0, 0.0, 1.0, 0.0, 0.0])
    """
    n_links = n_joints - 1
    D = np.zeros((n_links, 3, 3 * n_joints))
    for link in range(n_links):
        D[link, :, 3 * link : 3 * link + 3] = -np.eye(3) + 0.0  # no negative zeros
        D[link, :, 3 * link + 3 : 3 * link + 6] = np.eye(3)
    return D


def determined_entries(arms: np.ndarray, missing: np.ndarray) -> np.ndarray:
    """Missing entries that the link lengths fix, up to finitely many values, given the rest.

    The missing coordinates of a row must keep the 4 link lengths: the
    solutions near the true arm form a manifold whose tangent space is the
    null space of the Jacobian of the squared lengths, ``2 (D_l x)ᵀ D_l``,
    restricted to the missing columns. An entry whose coordinate does not
    move along that null space is determined: its exact posterior is a few
    points (e.g. the two mirror images of an end joint that misses one
    coordinate); the others vary continuously (an end joint that misses two
    coordinates lies on a circle).

    The central 90 % interval of a posterior made of points contains every
    point that holds 5 % of the mass or more, so it covers the truth of a
    determined entry almost always, and only the undetermined entries are
    covered at the nominal 90 %.

    Parameters
    ----------
    arms : ndarray, shape (n, 15)
        The true, complete arms.
    missing : ndarray of bool, shape (n, 15)
        Which entries are missing.

    Returns
    -------
    ndarray of bool, shape (n, 15)
        ``True`` for the missing entries that are determined.

    Examples
    --------
    >>> import numpy as np
    >>> from pymc_ebm.datasets import arm
    >>> from pymc_ebm_demos.arm import determined_entries
    >>> X, _ = arm(1, random_seed=0)
    >>> missing = np.zeros((1, 15), dtype=bool)
    >>> missing[0, [0, 12, 13]] = True  # x of the base; x and y of the tip
    >>> np.flatnonzero(determined_entries(X, missing)).tolist()
    [0]
    """
    arms = np.asarray(arms, dtype=float)
    missing = np.asarray(missing, dtype=bool)
    if arms.ndim != 2 or arms.shape[1] % 3 or arms.shape != missing.shape:
        raise ValueError(
            f"arms and missing must both have shape (n, 3 * n_joints), got {arms.shape} "
            f"and {missing.shape}"
        )
    D = link_difference_operators(arms.shape[1] // 3)
    determined = np.zeros(missing.shape, dtype=bool)
    for r in np.flatnonzero(missing.any(axis=1)):
        columns = np.flatnonzero(missing[r])
        jacobian = np.stack([2.0 * (d @ arms[r]) @ d for d in D])[:, columns]
        _, singular, vt = np.linalg.svd(jacobian)
        rank = int(np.sum(singular > 1e-9 * max(singular.max(initial=0.0), 1.0)))
        null_space = vt[rank:]  # (n_missing - rank, n_missing)
        determined[r, columns] = np.linalg.norm(null_space, axis=0) < 1e-8
    return determined


def bias_table(constraints: FASConstraints, lengths: np.ndarray) -> pd.DataFrame:
    """Which link constraints each unit learned, and whether its bias fits them.

    For unit ``k``, ``c_k(v) = vᵀ M_k v + b_k``. If the unit learned a
    combination of link constraints, ``M_k ≈ Σ_l a_kl D_lᵀ D_l`` and then its
    bias must be ``b_k ≈ −Σ_l a_kl l_l²`` (superimposing constraints). The
    coefficients ``a_kl`` are fitted by least squares.

    Parameters
    ----------
    constraints : FASConstraints
        The trained constraint network.
    lengths : ndarray, shape (n_links,)
        True link lengths.

    Returns
    -------
    pandas.DataFrame
        One row per unit: ``residual`` (relative Frobenius residual of the
        fit), ``bias``, ``implied_bias`` (``−Σ_l a_kl l_l²``),
        ``relative_error`` (``|bias − implied| / |implied|``), ``scaled_error``
        (the same over ``Σ_l |a_kl| l_l²``, the size of the unit's terms, which
        stays meaningful when a combination nearly cancels), ``alpha``, and the
        coefficients ``a_1 … a_L``.
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
        implied = float(-coef @ lengths**2)
        mismatch = abs(float(biases[k]) - implied)
        rows.append(
            {
                "unit": k,
                "residual": float(residual),
                "bias": float(biases[k]),
                "implied_bias": implied,
                "relative_error": mismatch / max(abs(implied), 1e-300),
                "scaled_error": mismatch / max(float(np.abs(coef) @ lengths**2), 1e-300),
                "alpha": float(constraints.alpha[k]),
                **{f"a_{link + 1}": float(c) for link, c in enumerate(coef)},
            }
        )
    return pd.DataFrame(rows).set_index("unit")


class ArmReflection(UntunedStep, ModelFreeCopy, BlockedStep):
    """Mirror moves of joints with missing coordinates: Metropolis jumps between the arm's modes.

    A joint with missing coordinates must keep its links' lengths. For an end
    joint (the base or the tip) that leaves two or more solutions on the
    sphere around its neighbour; for an inner joint with two or three missing
    coordinates, two or more points of the circle where the spheres around its
    two neighbours meet. They are separated by high energy barriers, which
    NUTS does not cross. This step proposes, per incomplete row and joint with
    missing coordinates, a mirror image that keeps the joint's distances to its
    neighbours and its observed coordinates:

    * an end joint: the missing coordinates reflected through the same
      coordinates ``a`` of its neighbour, ``x' = 2 a − x``;
    * an inner joint with two missing coordinates: the reflection of the joint
      in the plane through its neighbours ``A``, ``B`` that contains the axis
      of the observed coordinate (normal ``n ∝ (B − A) × e_t``);
    * an inner joint with three missing coordinates: the reflection in a plane
      through ``A`` and ``B`` with a random orientation.
    * a run of two or more joints at an end of the arm that all miss the same
      coordinate: that coordinate of every joint in the run reflected through
      the same coordinate of the first joint beyond it (every link keeps its
      length; this is what moves an inner joint with one missing coordinate
      between its solutions, when its neighbour towards the end moves with it).

    Each map is its own inverse with unit Jacobian (the joints it reflects through do not move),
    and the proposal is accepted with probability ``min(1, p(x')/p(x))`` per
    row; the rows are independent chains of the imputation model, so the step
    leaves the posterior invariant. Use it with NUTS in one compound step.

    Parameters
    ----------
    vars : list of TensorVariable
        The free variable of the missing entries (``f"{name}_missing"``, from
        :func:`pymc_ebm.visible` with ``observed``; an energy without a box).
    observed : ndarray, shape (n_rows, 3 * n_joints)
        The data given to :func:`pymc_ebm.visible`, with ``NaN``.
    model, rng, initial_point, compile_kwargs, blocked
        As for PyMC's step methods.

    Notes
    -----
    Statistics per draw: ``tune`` and ``reflect_accept``, the fraction of
    proposed mirror images that were accepted.
    """

    name = "arm_reflection"
    stats_dtypes_shapes = {"tune": (bool, []), "reflect_accept": (np.float64, [])}
    _state_class = StepMethodState
    _recompiled = ("_logp_fn",)  # recompiled where it is copied or unpickled

    def __init__(
        self,
        vars: list,
        observed: np.ndarray,
        *,
        model: pm.Model | None = None,
        rng: Any = None,
        initial_point: dict | None = None,
        compile_kwargs: dict | None = None,
        blocked: bool = True,
    ) -> None:
        model = pm.modelcontext(model)
        self.vars = get_value_vars_from_user_vars(vars, model)
        if len(self.vars) != 1 or model.rvs_to_transforms.get(model.values_to_rvs[self.vars[0]]):
            raise ValueError(
                "ArmReflection takes the one untransformed variable of missing entries"
            )
        value = self.vars[0]
        observed = np.asarray(observed, dtype=float)
        missing = np.isnan(observed)
        rows, columns, _, _ = missing_layout(missing)
        self.base = np.where(missing, 0.0, observed)[rows]  # (n_incomplete, dim)
        self.slot_of = np.full(self.base.shape, -1)
        for r in range(rows.size):
            for slot, column in enumerate(columns[r]):
                if column >= 0:
                    self.slot_of[r, column] = slot
        self.n_joints = observed.shape[1] // 3
        self._logp_graph = ([value], row_log_density(model, value))  # the graph, not the model
        self._compile_kwargs = pymc_ebm.compile_kwargs(compile_kwargs)
        self._logp_fn: Any = None
        self.value_name = value.name
        self.blocked = blocked
        self.rng = get_random_generator(rng)
        self.tune = True

    def _logp(self, x: np.ndarray) -> np.ndarray:
        """Log density of each incomplete row, shape ``(n_incomplete,)``."""
        if self._logp_fn is None:
            self._logp_fn = pytensor.function(*self._logp_graph, **self._compile_kwargs)
        return self._logp_fn(x)

    def _full_rows(self, x: np.ndarray) -> np.ndarray:
        full = self.base.copy()
        free = self.slot_of >= 0
        full[free] = x[np.nonzero(free)[0], self.slot_of[free]]
        return full

    def _mirror(self, full: np.ndarray, joint: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows that have a move for ``joint``, and the joint's mirrored coordinates there."""
        cols = slice(3 * joint, 3 * joint + 3)
        lost = self.slot_of[:, cols] >= 0  # (n_incomplete, 3)
        count = lost.sum(axis=1)
        point = full[:, cols]
        if joint in (0, self.n_joints - 1):
            neighbour = 1 if joint == 0 else self.n_joints - 2
            anchor = full[:, 3 * neighbour : 3 * neighbour + 3]
            rows = np.flatnonzero(count > 0)
            mirrored = np.where(lost, 2.0 * anchor - point, point)
            return rows, mirrored[rows]
        a = full[:, 3 * joint - 3 : 3 * joint]
        b = full[:, 3 * joint + 3 : 3 * joint + 6]
        axis = b - a
        axis /= np.maximum(np.linalg.norm(axis, axis=1, keepdims=True), 1e-300)
        kept = np.where(count == 2, np.argmin(lost, axis=1), 0)  # the observed coordinate
        normal = np.cross(axis, np.eye(3)[kept])
        random = self.rng.standard_normal(axis.shape)
        random -= np.sum(random * axis, axis=1, keepdims=True) * axis
        normal = np.where((count == 3)[:, None], random, normal)
        length = np.linalg.norm(normal, axis=1, keepdims=True)
        rows = np.flatnonzero((count >= 2) & (length[:, 0] > 1e-9))
        normal = normal / np.maximum(length, 1e-300)
        offset = np.sum((point - a) * normal, axis=1, keepdims=True)
        return rows, (point - 2.0 * offset * normal)[rows]

    def _end_runs(self, full: np.ndarray, axis: int, from_tip: bool) -> tuple:
        """Rows whose ``axis`` coordinate is missing at two or more joints next to an end.

        Those joints' ``axis`` coordinates reflected through the same coordinate
        of the first joint beyond the run: every link keeps its length.
        """
        order = range(self.n_joints - 1, -1, -1) if from_tip else range(self.n_joints)
        lost = np.stack([self.slot_of[:, 3 * j + axis] >= 0 for j in order], axis=1)
        run = np.cumprod(lost, axis=1).sum(axis=1)  # joints missing ``axis`` from the end
        rows = np.flatnonzero((run >= 2) & (run < self.n_joints))
        mirrored = full[rows].copy()
        for r, length in zip(rows, run[rows], strict=True):
            joints = list(order)[: length + 1]
            anchor = full[r, 3 * joints[-1] + axis]
            for j in joints[:-1]:
                mirrored[rows == r, 3 * j + axis] = 2.0 * anchor - full[r, 3 * j + axis]
        return rows, mirrored

    def _moves(self, x: np.ndarray):
        """Each kind of move in turn: ``(rows, their full mirrored rows)``."""
        for joint in range(self.n_joints):
            full = self._full_rows(x)
            rows, mirrored = self._mirror(full, joint)
            proposed = full[rows].copy()
            proposed[:, 3 * joint : 3 * joint + 3] = mirrored
            yield rows, proposed
        for axis in range(3):
            for from_tip in (True, False):
                yield self._end_runs(self._full_rows(x), axis, from_tip)

    def step(self, point: dict) -> tuple[dict, list]:
        """Mirror proposals per incomplete row: each joint, then each run of joints at an end."""
        x = np.array(point[self.value_name])
        current = self._logp(x)
        proposed_total = accepted_total = 0
        for rows, full_proposed in self._moves(x):
            if not rows.size:
                continue
            proposal = x.copy()
            slots = self.slot_of[rows]
            free = slots >= 0
            proposal[rows[np.nonzero(free)[0]], slots[free]] = full_proposed[free]
            new = self._logp(proposal)
            with np.errstate(invalid="ignore"):
                log_ratio = new[rows] - current[rows]
            accept = np.log(self.rng.random(rows.size)) < np.nan_to_num(log_ratio, nan=-np.inf)
            moved = rows[accept]
            x[moved] = proposal[moved]
            current[moved] = new[moved]
            proposed_total += rows.size
            accepted_total += int(accept.sum())
        new_point = dict(point)
        new_point[self.value_name] = x
        rate = accepted_total / proposed_total if proposed_total else np.nan
        return new_point, [{"tune": bool(self.tune), "reflect_accept": rate}]

    @staticmethod
    def competence(var: Any, has_grad: bool = False) -> Competence:
        """Never chosen automatically."""
        return Competence.INCOMPATIBLE


def heldout_imputation(
    energy: ProductOfExperts, train: np.ndarray, settings: ArmSettings
) -> dict[str, Any]:
    """Impute held-out arms with ``missing_fraction`` of their entries missing.

    Three steps in one compound step: NUTS moves the missing entries within
    a mode; :class:`~pymc_ebm.ModeJump` jumps between the modes of each row
    (found once by a multi-start search, starts spread by the training
    columns' standard deviations), and :class:`ArmReflection` moves joints
    between their mirror-image solutions.

    Parameters
    ----------
    energy : ProductOfExperts
        The trained energy.
    train : ndarray, shape (n, 15)
        Training arms: their column means are the baseline imputation, their
        column standard deviations the spread of the mode search's starts.
    settings : ArmSettings
        Held-out size, missing fraction, ``impute_*`` sizes, mode-search starts and seed.

    Returns
    -------
    dict
        ``imputation_rmse_ratio`` (RMSE of the posterior-mean imputation
        over that of column-mean imputation), ``interval_coverage_90``
        (share of true values inside the central 90 % posterior intervals),
        ``share_determined`` (missing entries fixed up to finitely many
        values by the link lengths, :func:`determined_entries`),
        ``interval_coverage_90_determined`` and ``_undetermined`` (the
        coverage on each kind; ``NaN`` without such entries, ``null`` in
        ``summary.json``),
        ``rhat_max`` of the imputed entries, ``reflect_accept``,
        ``jump_accept``, ``imputation_seconds``, and for plots ``truth``,
        ``observed``, ``filled``, ``lower``, ``upper``.
    """
    truth, _ = arm(settings.n_heldout, random_seed=settings.seed + 1000)
    observed, _ = arm(
        settings.n_heldout,
        missing_fraction=settings.missing_fraction,
        random_seed=settings.seed + 1000,
    )
    missing = np.isnan(observed)

    _, columns, _, _ = missing_layout(missing)
    spread = np.nanstd(train, axis=0)
    scale = np.where(columns >= 0, spread[np.maximum(columns, 0)], 1.0)

    def steps(model: pm.Model) -> list:
        free = model["x_missing"]
        return [
            pm.NUTS([free], model=model),
            ModeJump(
                [free], scale=scale, n_starts=settings.mode_starts, model=model, rng=settings.seed
            ),
            ArmReflection([free], observed, model=model),
        ]

    started = time.perf_counter()

    filled, idata = impute(
        energy,
        observed,
        draws=settings.impute_draws,
        tune=settings.impute_tune,
        chains=settings.impute_chains,
        step=steps,
        random_seed=settings.seed + 3,
        progressbar=False,
    )
    draws = idata.posterior["x"].values
    lower, upper = np.quantile(draws, [0.05, 0.95], axis=(0, 1))
    seconds = time.perf_counter() - started
    baseline = np.broadcast_to(np.nanmean(train, axis=0), truth.shape)
    rmse = np.sqrt(np.mean((filled[missing] - truth[missing]) ** 2))
    rmse_baseline = np.sqrt(np.mean((baseline[missing] - truth[missing]) ** 2))
    inside = (truth >= lower) & (truth <= upper)
    determined = determined_entries(truth, missing)

    def coverage(entries: np.ndarray) -> float:
        return float(inside[entries].mean()) if entries.any() else float("nan")

    rhat = az.rhat(idata, var_names=["x_missing"])["x_missing"].values
    return {
        "imputation_rmse_ratio": float(rmse / rmse_baseline),
        "interval_coverage_90": coverage(missing),
        "share_determined": float(determined[missing].mean()),
        "interval_coverage_90_determined": coverage(determined),
        "interval_coverage_90_undetermined": coverage(missing & ~determined),
        "rhat_max": float(np.nanmax(rhat)),
        "reflect_accept": float(idata["sample_stats"]["reflect_accept"].mean()),
        "jump_accept": float(idata["sample_stats"]["jump_accept"].mean()),
        "imputation_seconds": seconds,
        "n_imputed": int(missing.sum()),
        "truth": truth,
        "observed": observed,
        "filled": filled,
        "lower": lower,
        "upper": upper,
    }


SUMMARY_DESCRIPTION = {
    "seed": "seed of the data, the initial networks, the samplers and the best-line example",
    "link_length_error": "median over links and fantasy arms of |length - true| / true, "
    "model trained on complete arms",
    "link_length_error_missing": "link_length_error of the model trained with 10 % of the "
    "inputs missing",
    "bias_table": "one row per constraint unit: residual of its fit by link constraints, "
    "bias, implied_bias, relative_error, scaled_error, alpha, coefficients a_1..a_L",
    "bias_units_fitted": "units whose quadratic form is fitted by link constraints "
    "(residual < 0.1)",
    "bias_units_within_10pct": "fitted units whose bias is within 10 % of the implied bias",
    "bias_units_within_10pct_of_terms": "fitted units whose bias error is within 10 % of the "
    "size of their terms (scaled_error <= 0.1)",
    "imputation_rmse_ratio": "RMSE of the posterior-mean imputation of held-out missing "
    "entries over that of column-mean imputation",
    "interval_coverage_90": "share of the true missing values inside their central 90 % "
    "posterior intervals",
    "share_determined": "share of the missing entries fixed up to finitely many values by "
    "the link lengths",
    "interval_coverage_90_determined": "interval_coverage_90 on the determined entries "
    "(null without any)",
    "interval_coverage_90_undetermined": "interval_coverage_90 on the other entries "
    "(null without any)",
    "rhat_max": "largest R-hat of the imputed entries",
    "reflect_accept": "mean acceptance rate of the mirror moves (ArmReflection)",
    "jump_accept": "mean acceptance rate of the mode jumps (ModeJump)",
    "imputation_seconds": "seconds of the imputation (pm.sample included)",
    "n_imputed": "number of imputed held-out entries",
    "angle_error_gaussian": "best-line example: angle error of the Gaussian fit's normal, degrees",
    "angle_error_student_t": "best-line example: angle error of the heavy-tailed fit's "
    "normal, degrees",
    "train_seconds": "seconds of training on complete arms",
    "train_seconds_missing": "seconds of training with missing inputs",
}
"""What each key of the demo's ``summary.json`` means (its ``description`` entry)."""


def run(out_dir: str | Path, quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """The whole study: best line, the arm from complete and from incomplete data, imputation.

    Writes figures and ``summary.json`` to ``out_dir``.

    Parameters
    ----------
    out_dir : path
        Where figures and ``summary.json`` go (created).
    quick : bool
        Use :meth:`ArmSettings.quick` (seconds, for tests).
    seed : int, default 0
        Seeds the data, the initial networks, the samplers and the best-line example.

    Returns
    -------
    dict
        The summary written to ``summary.json``.
    """
    from pymc_ebm_demos import arm_figures as figures
    from pymc_ebm_demos.best_line import best_line, plot_best_line

    settings = ArmSettings.quick(seed) if quick else ArmSettings(seed=seed)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    line = best_line(random_seed=seed, quick=quick)
    plot_best_line(line, out / "best_line.png")

    X, lengths = arm(settings.n_data, random_seed=seed)
    constraints, energy, trainer, seconds = train(X, settings)
    fantasies = sample_arm_fantasies(energy, X[: settings.chains * settings.n_chains], settings)
    arms = fantasies.posterior["v"].values
    table = bias_table(constraints, lengths)

    X_missing, _ = arm(
        settings.n_data, missing_fraction=settings.missing_fraction, random_seed=seed
    )
    _, energy_missing, trainer_missing, seconds_missing = train(
        X_missing,
        settings,
        missing="hmc",
        missing_kwargs={"n_draws": 1, "n_steps": settings.n_steps, "step_size": 0.02},
    )
    starts = trainer_missing.filled[: settings.chains * settings.n_chains]
    arms_missing = sample_arm_fantasies(energy_missing, starts, settings).posterior["v"].values

    imputation = heldout_imputation(energy, X, settings)
    fitted = table["residual"] < 0.1
    result: dict[str, Any] = {
        "seed": seed,
        "link_length_error": link_length_error(arms, lengths),
        "link_length_error_missing": link_length_error(arms_missing, lengths),
        "bias_table": table.reset_index().to_dict(orient="records"),
        "bias_units_fitted": int(fitted.sum()),
        "bias_units_within_10pct": int((fitted & (table["relative_error"] <= 0.1)).sum()),
        "bias_units_within_10pct_of_terms": int((fitted & (table["scaled_error"] <= 0.1)).sum()),
        **{  # JSON has no NaN: a coverage without entries of its kind is null
            k: None if isinstance(v, float) and np.isnan(v) else v
            for k, v in imputation.items()
            if np.isscalar(v)
        },
        "angle_error_gaussian": line["angle_error_gaussian"],
        "angle_error_student_t": line["angle_error_student_t"],
        "train_seconds": seconds,
        "train_seconds_missing": seconds_missing,
    }
    print(table.round(3))
    result = write_summary(out / "summary.json", result, SUMMARY_DESCRIPTION)
    print(json.dumps(result, indent=2))
    figures.link_lengths_figure(arms, arms_missing, lengths, out / "link_lengths.png")
    figures.bias_figure(table, out / "bias_table.png")
    figures.imputation_figure(imputation, out / "imputation.png")
    figures.training_figure(trainer.history, trainer_missing.history, out / "training.png")
    return result
