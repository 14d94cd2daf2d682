"""Mass-matrix adaptation: ESS per second of ShortRunHMC adapted, unadapted, and NUTS.

Two batch models (``pymc_ebm.visible(..., n_particles=R)``: ``R`` rows, each an
independent chain of the same target), each sampled with ``pm.sample`` by

* ``ShortRunHMC`` with the default diagonal mass adaptation;
* ``ShortRunHMC(adapt_mass=False)`` (identity mass, step size still tuned),
  with the same ``n_steps``;
* PyMC's ``NUTS`` (its own diagonal mass adaptation) on the whole block.

The models:

* **badly scaled**: a product of Gaussians ``N(0, σ_d²)`` over 20 dimensions
  with ``σ_d`` log-spaced from 0.01 to 10 (one :class:`pymc_ebm.Gaussian`
  expert);
* **arm**: the 3-D arm of :func:`pymc_ebm.datasets.arm` (5 joints, 15
  coordinates), a hand-set constraint network (one
  :class:`pymc_ebm.FASConstraints` unit per link, ``Δx² + Δy² + Δz² − l²``)
  times a confining Gaussian expert at the mean of arms whose base joint
  varies little (``base_scale`` 0.05), with twice their standard deviations:
  the base coordinates are about 50 times narrower than the tip's.

ESS is ArviZ's bulk ESS per coordinate, with the rows as chains (the draws of
all rows count); the figure per sampler is the **minimum** over the
coordinates (the median is shown too). Time is PyMC's ``sampling_time``
(tuning and draws; compilation is excluded: every step is called once before).
"""

from __future__ import annotations

import logging
import time
import warnings

import arviz as az
import numpy as np
import pymc as pm

import pymc_ebm
from benchmarks._common import Check, Result, fmt_time
from pymc_ebm_demos.arm import link_difference_operators

NAME = "mass_adaptation"
TARGET = 10.0
Z_LIMIT = 4.0
SD = np.logspace(-2, 1, 20)
N_STEPS = 10
ARM_ALPHA = 4.0
ARM_BASE_SCALE = 0.05
SAMPLERS = {
    "adapted": "ShortRunHMC (mass adapted)",
    "unadapted": "ShortRunHMC (adapt_mass=False)",
    "nuts": "NUTS",
}


def _sizes(quick: bool) -> dict[str, int]:
    if quick:
        return {"rows": 10, "tune": 300, "draws": 300}
    return {"rows": 40, "tune": 1000, "draws": 1000}


def scaled_energy() -> pymc_ebm.Gaussian:
    """The badly scaled product of 20 Gaussians (one expert)."""
    return pymc_ebm.Gaussian(mu=np.zeros((1, SD.size)), sigma=SD[None])


def arm_energy(seed: int = 0) -> tuple[pymc_ebm.ProductOfExperts, np.ndarray]:
    """Hand-set arm constraints times a confining Gaussian; also the arms it is centred on."""
    X, lengths = pymc_ebm.datasets.arm(n=2000, base_scale=ARM_BASE_SCALE, random_seed=seed)
    D = link_difference_operators(lengths.size + 1)
    W = D.reshape(-1, D.shape[-1])  # 3 filters (Δx, Δy, Δz) per link
    U = np.kron(np.eye(lengths.size), np.ones((1, 3)))
    links = pymc_ebm.FASConstraints(W, U, -(lengths**2), np.full(lengths.size, ARM_ALPHA))
    confining = pymc_ebm.Gaussian(mu=X.mean(0)[None], sigma=2.0 * X.std(0)[None])
    return links * confining, X


def _step(kind: str, v):
    if kind == "nuts":
        return pm.NUTS([v])
    return pymc_ebm.ShortRunHMC([v], n_steps=N_STEPS, adapt_mass=kind == "adapted")


def _sample(energy, kind: str, sizes: dict[str, int], seed: int, start=None) -> dict:
    """Sample with one sampler; return the draws (rows, draws, dim), time and statistics."""
    with pm.Model() as model:
        v = pymc_ebm.visible("v", energy, n_particles=sizes["rows"])
        step = _step(kind, v)
        point = model.initial_point()
        if start is not None:
            point["v"] = np.asarray(start, dtype=point["v"].dtype)
        # one call compiles whatever the step compiles lazily; its state is put back
        state = step.sampling_state
        step.step(point)
        step.sampling_state = state
        started = time.perf_counter()
        idata = pm.sample(
            draws=sizes["draws"],
            tune=sizes["tune"],
            chains=1,
            cores=1,
            step=step,
            initvals=None if start is None else {"v": start},
            random_seed=seed,
            progressbar=False,
            compute_convergence_checks=False,
        )
        wall = time.perf_counter() - started
    draws = np.moveaxis(idata["posterior"]["v"].values[0], 1, 0)  # (rows, draws, dim)
    ess = np.asarray(az.ess(draws, method="bulk", chain_axis=0, draw_axis=1), dtype=float)
    seconds = float(idata["posterior"].attrs.get("sampling_time", wall))
    stats = idata["sample_stats"]
    if kind == "nuts":
        extra = (
            f"mean tree depth {float(stats['tree_depth'].mean()):.2f}, "
            f"step size {float(stats['step_size'].values[0, -1]):.3g}, "
            f"divergences {int(stats['diverging'].sum())}"
        )
    else:
        extra = (
            f"{N_STEPS} steps, step size {float(stats['step_size'].values[0, -1]):.3g}, "
            f"accept {float(stats['accept'].mean()):.2f}"
        )
    return {
        "draws": draws,
        "seconds": seconds,
        "ess_min": float(ess.min()),
        "ess_median": float(np.median(ess)),
        "ess_per_s": float(ess.min()) / seconds,
        "extra": extra,
    }


def variance_z(draws: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """``|mean(x²) − σ²| / MCSE`` per coordinate of draws (rows, draws, dim) of ``N(0, σ²)``."""
    squares = (draws / sd) ** 2  # mean zero is known: E[x²] = σ², here 1 after scaling
    mcse = np.asarray(az.mcse(squares, method="mean", chain_axis=0, draw_axis=1), dtype=float)
    return np.abs(squares.mean(axis=(0, 1)) - 1.0) / mcse


def _compare(res: Result, label: str, energy, sizes, seed: int, start=None) -> dict:
    out = {}
    for offset, kind in enumerate(SAMPLERS):
        out[kind] = r = _sample(energy, kind, sizes, seed + offset, start)
        res.row(
            f"{label}: {SAMPLERS[kind]}",
            f"{r['ess_per_s']:.3g} ESS/s",
            f"time {fmt_time(r['seconds'])}, bulk ESS min {r['ess_min']:.0f} "
            f"(median {r['ess_median']:.0f}); {r['extra']}",
        )
    return out


def _ratio(out: dict, num: str, den: str) -> float:
    return out[num]["ess_per_s"] / out[den]["ess_per_s"]


def run(quick: bool = False) -> Result:
    """ESS/s of the three samplers on the badly scaled target and on the arm."""
    sizes = _sizes(quick)
    res = Result(
        NAME,
        "Mass-matrix adaptation of ShortRunHMC (ESS per second)",
        f"`ShortRunHMC(n_steps={N_STEPS})` with its diagonal mass adaptation against the same "
        "step with `adapt_mass=False` (identity mass; step size tuned in both) and against "
        "PyMC's `NUTS`, on a badly scaled 20-D Gaussian product and on the arm model",
    )
    logging.getLogger("pymc").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scaled = _compare(res, "σ 0.01–10", scaled_energy(), sizes, seed=21)
        arm, X = arm_energy()
        start = np.tile(X[0], (sizes["rows"], 1))
        arm_out = _compare(res, "arm", arm, sizes, seed=31, start=start)

    z = variance_z(scaled["adapted"]["draws"], SD)
    res.row(
        "σ 0.01–10, ShortRunHMC (mass adapted): |mean(x²) − σ²| / MCSE over the 20 coordinates",
        f"max {z.max():.2f}, median {np.median(z):.2f}",
        f"{np.mean(z < 1):.0%} within 1 MCSE, {np.mean(z < 2):.0%} within 2 "
        "(about 68 % and 95 % expected)",
    )
    z_nuts = variance_z(scaled["nuts"]["draws"], SD)
    res.row(
        "σ 0.01–10, NUTS: |mean(x²) − σ²| / MCSE over the 20 coordinates",
        f"max {z_nuts.max():.2f}, median {np.median(z_nuts):.2f}",
    )
    for label, out in (("σ 0.01–10", scaled), ("arm", arm_out)):
        res.row(
            f"{label}: ratio ShortRunHMC adapted / NUTS, ESS/s (min ESS)",
            f"{_ratio(out, 'adapted', 'nuts'):.3g}×",
        )
        res.row(
            f"{label}: ratio ShortRunHMC unadapted / NUTS, ESS/s (min ESS)",
            f"{_ratio(out, 'unadapted', 'nuts'):.3g}×",
        )
    res.row(
        "arm: ratio ShortRunHMC adapted / unadapted, ESS/s (min ESS)",
        f"{_ratio(arm_out, 'adapted', 'unadapted'):.3g}×",
        "informative (no target on the arm)",
    )
    res.checks.append(
        Check(
            "σ 0.01–10: ShortRunHMC adapted / unadapted, ESS/s (min ESS)",
            _ratio(scaled, "adapted", "unadapted"),
            TARGET,
            ">=",
            note=f"same n_steps = {N_STEPS}",
        )
    )
    res.checks.append(
        Check(
            "σ 0.01–10, ShortRunHMC (mass adapted): max |mean(x²) − σ²| / MCSE over 20 "
            "coordinates",
            float(z.max()),
            Z_LIMIT,
            "<=",
            unit="",
            note="z = 4 for 20 coordinates: a correct sampler exceeds it with probability ~0.1 %",
        )
    )
    res.notes.append(
        f"Sampling: `pm.sample(draws={sizes['draws']}, tune={sizes['tune']}, chains=1, "
        f"cores=1)` on `visible(n_particles={sizes['rows']})`; the rows are the chains of ArviZ's "
        "bulk ESS and MCSE. ESS/s uses the **minimum** ESS over coordinates (the slowest "
        "coordinate; the median is shown too). Time = PyMC's `sampling_time` (tuning + draws, "
        "compilation excluded). NUTS samples the whole `(rows, dim)` block as one chain. "
        f"An ESS above the {sizes['rows'] * sizes['draws']} draws (rows × draws) means "
        "anticorrelated draws, common for HMC on Gaussian targets."
    )
    res.notes.append(
        "Variance check: the mean is known (0), so the sampled variance of coordinate d is "
        "the mean of x_d² over all rows and draws, compared with σ_d² in units of its MCSE."
    )
    res.notes.append(
        f"Arm: `datasets.arm(base_scale={ARM_BASE_SCALE})`, link constraints with α = "
        f"{ARM_ALPHA:g} (one unit per link, b = −l²) times `Gaussian` at the arms' mean with "
        "twice their standard deviations; every row starts at the same data arm."
    )
    return res
