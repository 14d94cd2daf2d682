"""Step-size warm start: acceptance of the first CD updates of the natural-image study.

The study's trainer (:func:`pymc_ebm_demos.natural_images.make_trainer`: CD
with the HMC shortcut, ``ShortRunHMC`` tuning its step size by dual
averaging at every update, filters renormalised after each) runs its first
updates twice from the same seed:

* ``find_step_size=False``: PyMC's dual averaging from ``step_size`` = 0.1,
  shrunk towards ``10 ε₀``: after an acceptance above the target on the
  first update it jumps to more than ten times the step size, and nearly
  every row is rejected on the second;
* ``find_step_size=True`` (the default): a search (doublings or halvings
  from 0.1, the draws thrown away) on the first update, then dual averaging
  shrunk towards the step size found.

Reported: the mean acceptance probability of each of the first updates
(averaged over the seeds) and the step size of the second; the check is the
lowest mean acceptance of any single update and seed with the search.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytensor

from benchmarks._common import Check, Result, fmt_time

NAME = "step_size_search"
N_UPDATES = 10
SEEDS = (0, 1, 2)
MIN_ACCEPT = 0.2
VARIANTS = {"without": False, "with": True}


def _settings(quick: bool):
    from pymc_ebm_demos.natural_images import StudySettings

    if quick:
        return StudySettings.quick(n_train=N_UPDATES * 100, n_test=100)
    return StudySettings(n_train=N_UPDATES * 100, n_test=100)


def _first_updates(settings, find_step_size: bool) -> tuple[np.ndarray, np.ndarray, float]:
    """Mean acceptance and step size of each of the first updates; seconds per update."""
    from threadpoolctl import threadpool_limits

    from pymc_ebm_demos.natural_images import load_patches, make_energy, make_trainer

    X, _, _ = load_patches(settings)
    energy = make_energy(X.shape[1], settings)
    with (
        pytensor.config.change_flags(floatX=settings.dtype),
        threadpool_limits(limits=settings.blas_threads),
    ):
        cd = make_trainer(energy, settings, step_kwargs={"find_step_size": find_step_size})
        accept, step_size = [], []
        started = None
        for update, batch in enumerate(cd.minibatches(X, N_UPDATES)):
            step_size.append(cd.negative_phase.step.step_size)
            cd.partial_fit(batch)
            W = energy.W.get_value()
            energy.W.set_value(W / np.linalg.norm(W, axis=1, keepdims=True))
            if update == 0:
                started = time.perf_counter()  # the first update compiles
        seconds = (time.perf_counter() - started) / max(N_UPDATES - 1, 1)
    accept = np.asarray(cd.history["stat_accept"].values, dtype=float)
    return accept, np.asarray(step_size), seconds


def run(quick: bool = False) -> Result:
    """Acceptance of the first updates without and with the step-size search."""
    settings = _settings(quick)
    seeds = SEEDS[:1] if quick else SEEDS
    res = Result(
        NAME,
        "Step-size warm start of ShortRunHMC in CD training (natural images)",
        f"the first {N_UPDATES} CD updates of the natural-image study "
        f"({settings.size}×{settings.size} patches, {settings.n_experts} Student-t experts, "
        f"batch {settings.batch_size}, {settings.n_steps} leapfrog steps, initial step size "
        f"{settings.step_size:g}) with `ShortRunHMC(find_step_size=False)` and with the "
        "default `find_step_size=True`, seeds " + ", ".join(map(str, seeds)),
    )
    out = {}
    for label, flag in VARIANTS.items():
        runs = [_first_updates(replace(settings, seed=seed), flag) for seed in seeds]
        accept = np.stack([r[0] for r in runs])  # (seeds, updates)
        out[label] = accept
        steps = np.stack([r[1] for r in runs])
        res.row(
            f"{label} search: mean acceptance per update 1–{N_UPDATES} (mean over seeds)",
            " ".join(f"{a:.2f}" for a in accept.mean(axis=0)),
            f"lowest single update {accept.min():.2f}; step size before update 2: "
            + ", ".join(f"{s:.3g}" for s in steps[:, 1])
            + f"; {fmt_time(float(np.mean([r[2] for r in runs])))} per update",
        )
    res.checks.append(
        Check(
            f"with search: lowest mean acceptance of an update among the first {N_UPDATES} "
            f"(any seed)",
            float(out["with"].min()),
            MIN_ACCEPT,
            ">=",
            unit="",
            note=f"without search: {out['without'].min():.2f}",
        )
    )
    res.notes.append(
        "Acceptance = the history's `stat_accept` (mean Metropolis acceptance probability over "
        "the rows of the update's draw). The search's own draws (one trajectory per candidate "
        "step size, from the same momenta) are not kept; its time is in the first update."
    )
    return res
