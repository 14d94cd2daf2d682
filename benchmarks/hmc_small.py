"""Small model: time per leapfrog step of ShortRunHMC against PyMC's HamiltonianMC.

Both take the same number of leapfrog steps per draw with the same fixed step
size on the same 2-D model with one row (``visible(n_particles=1)``):

* ``ShortRunHMC(n_steps=n, step_size=ε)`` (step-size jitter off where the
  option exists), after ``stop_tuning()``;
* ``pm.HamiltonianMC(step_scale=ε·2^¼, path_length=(n + ½)·ε,
  adapt_step_size=False, step_rand=None)``, after ``stop_tuning()``: PyMC sets
  ``ε = step_scale / dim^¼`` and takes ``int(path_length / ε) = n`` steps,
  which the benchmark checks in the draw's ``n_steps`` statistic.

Each is timed through ``step.step(point)``, the call ``pm.sample`` makes per
draw, and the per-draw time is divided by ``n``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pymc as pm

import pymc_ebm
from benchmarks._common import (
    Check,
    Result,
    fmt_time,
    interleaved,
    median,
    min_ratio,
    paired_ratio,
    spread,
)
from benchmarks.pot_hmc import short_run_hmc_kwargs
from pymc_ebm_demos import unigauss_clusters as study

# The benchmark's model: the flagship study's experts at seed 2, the seed the
# figures in docs/benchmarks.md were measured on (the study's default seed is 0).
MODEL_SEED = 2

NAME = "hmc_small"
TARGET = 10.0
STEP_SIZE = 0.1


def _models(quick: bool):
    gaussian = pymc_ebm.Gaussian(
        mu=[[0.0, 0.0], [1.0, -0.5], [-0.5, 1.0]], sigma=[[1.0, 2.0], [1.5, 1.0], [2.0, 1.5]]
    )
    models = {"2-D product of 3 Gaussian experts (pm.Flat)": (gaussian, None)}
    if not quick:
        X = pymc_ebm.datasets.grid_clusters(300, missing=study.MISSING, random_seed=0)
        unigauss = study.initial_experts(X, study.StudySettings(seed=MODEL_SEED))
        start = np.array([[0.45, 0.55]])
        models["2-D product of 15 uni-gauss experts (pm.Uniform box, interval transform)"] = (
            unigauss,
            start,
        )
    return models


def _steps(energy, start, n_steps: int):
    with pm.Model() as model:
        v = pymc_ebm.visible("v", energy, n_particles=1)
        ours = pymc_ebm.ShortRunHMC(
            [v], **short_run_hmc_kwargs(n_steps=n_steps, step_size=STEP_SIZE, rng=0)
        )
        theirs = pm.HamiltonianMC(
            [v],
            step_scale=STEP_SIZE * 2**0.25,
            path_length=(n_steps + 0.5) * STEP_SIZE,
            adapt_step_size=False,
            step_rand=None,
            rng=0,
        )
    point = model.initial_point()
    if start is not None:
        value_name = model.rvs_to_values[v].name
        transform = model.rvs_to_transforms.get(v)
        x = start if transform is None else transform.forward(start, *v.owner.inputs).eval()
        point[value_name] = np.asarray(x, dtype=point[value_name].dtype)
    for step in (ours, theirs):
        step.stop_tuning()
    return ours, theirs, point


def run(quick: bool = False, n_steps: int = 30) -> Result:
    """Time per leapfrog step of both samplers on each small model."""
    res = Result(
        NAME,
        f"Small 2-D models, one row, {n_steps} leapfrog steps per draw",
        "Time per leapfrog step of `ShortRunHMC.step` (all steps in one compiled call) "
        "against `pm.HamiltonianMC.step` (one compiled logp+gradient call per step), same "
        "model, same fixed step size, same number of steps",
    )
    repeats, inner = (5, 20) if quick else (9, 100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for label, (energy, start) in _models(quick).items():
            ours, theirs, point = _steps(energy, start, n_steps)
            state = {"ours": dict(point), "theirs": dict(point)}
            ours.step(point)  # compile (numba is lazy)
            _, stats = theirs.step(point)
            taken = int(stats[0]["n_steps"])
            if taken != n_steps:
                raise AssertionError(f"HamiltonianMC took {taken} steps, not {n_steps}")

            def ours_fn(state=state, step=ours):
                state["ours"] = step.step(state["ours"])[0]

            def theirs_fn(state=state, step=theirs):
                state["theirs"] = step.step(state["theirs"])[0]

            times = interleaved(
                {"ShortRunHMC": ours_fn, "HamiltonianMC": theirs_fn},
                repeats=repeats,
                inner={"ShortRunHMC": inner, "HamiltonianMC": max(inner // 10, 2)},
            )
            ratio = paired_ratio(times["HamiltonianMC"], times["ShortRunHMC"])
            for name in ("ShortRunHMC", "HamiltonianMC"):
                res.row(
                    f"{label}: {name}",
                    fmt_time(median(times[name]) / n_steps) + " per step",
                    f"per draw {spread(times[name])}",
                )
            res.checks.append(
                Check(
                    f"{label}: HamiltonianMC time / ShortRunHMC time",
                    ratio,
                    TARGET,
                    ">=",
                    note=f"ratio of the minima "
                    f"{min_ratio(times['HamiltonianMC'], times['ShortRunHMC']):.3g}×",
                )
            )
    res.notes.append(
        f"Step size {STEP_SIZE}; `HamiltonianMC` reported `n_steps = {n_steps}` per draw. "
        f"Median [min – max] over {repeats} interleaved repeats; ratios are medians of "
        "per-repeat ratios. Per-draw times include each step's Python overhead (point "
        "mapping, random numbers, statistics)."
    )
    return res
