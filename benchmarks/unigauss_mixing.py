"""Mixing: ESS per second of UniGaussGibbs against PyMC's default NUTS + BinaryGibbsMetropolis.

Both samplers run with ``pm.sample`` on the same joint model ``p(v, h)`` of
the trained 15-expert 24-cluster uni-gauss product (``pymc_ebm.visible`` +
``pymc_ebm.hidden``), with the same rows, chains, tuning and draws. The step
methods are built and called once before ``pm.sample`` so that compilation
is not timed; the time is PyMC's own ``sampling_time`` (tuning + draws of all
chains, run one after the other with ``cores=1``).
"""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import replace

import numpy as np
import pymc as pm

import pymc_ebm
from benchmarks._common import Check, Result, fmt_time
from pymc_ebm.evaluation.diagnostics import summary
from pymc_ebm_demos import unigauss_clusters as study

# The benchmark's model: the flagship study's experts at seed 2, the seed the
# figures in docs/benchmarks.md were measured on (the study's default seed is 0).
MODEL_SEED = 2

NAME = "unigauss_mixing"
TARGET = 20.0


def _sizes(quick: bool) -> tuple[study.StudySettings, dict[str, int]]:
    if quick:
        settings = replace(study.StudySettings.quick(), cd1_updates=300, long_updates=50)
        return settings, {"rows": 2, "draws": 150, "tune": 50, "chains": 2}
    # Training at the study's full size takes ~10 s; the comparison uses the
    # study's compare_rows and more draws than its compare_draws.
    sizes = {"rows": 4, "draws": 1000, "tune": 200, "chains": 4}
    return study.StudySettings(seed=MODEL_SEED), sizes


def _sample(experts, kind: str, sizes: dict[str, int], seed: int):
    with pm.Model() as model:
        v = pymc_ebm.visible("v", experts, n_particles=sizes["rows"])
        h = pymc_ebm.hidden("h", experts, v)
        if kind == "default":
            step = pm.CompoundStep([pm.NUTS([v]), pm.BinaryGibbsMetropolis([h])])
        else:
            step = pymc_ebm.UniGaussGibbs([v, h], mode_jumps=kind == "gibbs")
        # one call compiles whatever the step compiles lazily; its state is put back
        state = step.sampling_state
        step.step(model.initial_point())
        step.sampling_state = state
        started = time.perf_counter()
        idata = pm.sample(
            draws=sizes["draws"],
            tune=sizes["tune"],
            chains=sizes["chains"],
            cores=1,
            step=step,
            random_seed=seed,
            progressbar=False,
            compute_convergence_checks=False,
        )
        wall = time.perf_counter() - started
    seconds = float(idata["posterior"].attrs.get("sampling_time", wall))
    diag = summary(idata, var_names=["v"])
    ess = np.asarray(diag.variables["ess_bulk"], dtype=float)
    stats = idata["sample_stats"]
    extra = ""
    if "tree_depth" in stats.data_vars:
        extra = (
            f"NUTS mean tree depth {float(stats['tree_depth'].mean()):.2f}, "
            f"mean step size {float(stats['step_size'].mean()):.3g}, "
            f"divergences {int(stats['diverging'].sum())}"
        )
    elif "jump_accept" in stats.data_vars and np.isfinite(stats["jump_accept"]).any():
        extra = f"mode-jump acceptance {float(np.nanmean(stats['jump_accept'])):.2f}"
    return {
        "seconds": seconds,
        "ess_median": float(np.median(ess)),
        "ess_min": float(np.min(ess)),
        "rhat_max": float(diag.rhat_max),
        "extra": extra,
    }


def run(quick: bool = False) -> Result:
    """Train the 24-cluster experts, then compare ESS/s of the three samplers."""
    settings, sizes = _sizes(quick)
    res = Result(
        NAME,
        "Mixing on the 24-cluster uni-gauss product (ESS per second)",
        "`UniGaussGibbs` (mode jumps on, the default; and `mode_jumps=False`) against "
        "PyMC's default steps for the joint model (NUTS on `v` + BinaryGibbsMetropolis on `h`)",
    )
    X = pymc_ebm.datasets.grid_clusters(
        settings.n_data, missing=study.MISSING, random_seed=settings.seed
    )
    logging.getLogger("pymc").setLevel(logging.ERROR)
    experts, _, train_seconds = study.train(X, settings)
    sigma = experts.sigma
    res.notes.append(
        f"Model: `unigauss_clusters.train` with {settings.n_experts} experts, "
        f"{settings.cd1_updates} CD-1 + {settings.long_updates} CD-{settings.long_k} updates "
        f"({train_seconds:.1f} s); trained σ from {sigma.min():.3g} to {sigma.max():.3g}."
    )
    res.notes.append(
        f"Sampling: `pm.sample(draws={sizes['draws']}, tune={sizes['tune']}, "
        f"chains={sizes['chains']}, cores=1)` on `visible(n_particles={sizes['rows']})` + "
        "`hidden`, same seed for all. Time = PyMC's `sampling_time` (tuning + draws, "
        "compilation excluded). ESS = ArviZ bulk ESS of the "
        f"{sizes['rows'] * 2} entries of `v`; ESS/s uses the **median** over entries "
        "(the minimum is shown too)."
    )
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for kind, seed in (("gibbs", 11), ("gibbs_plain", 12), ("default", 13)):
            out[kind] = _sample(experts, kind, sizes, seed)
    labels = {
        "gibbs": "UniGaussGibbs (mode jumps)",
        "gibbs_plain": "UniGaussGibbs (mode_jumps=False)",
        "default": "NUTS + BinaryGibbsMetropolis",
    }
    for kind, r in out.items():
        r["ess_per_s"] = r["ess_median"] / r["seconds"]
        res.row(
            labels[kind],
            f"{r['ess_per_s']:.3g} ESS/s",
            f"time {fmt_time(r['seconds'])}, bulk ESS median {r['ess_median']:.0f} "
            f"(min {r['ess_min']:.0f}), R-hat max {r['rhat_max']:.2f}"
            + (f"; {r['extra']}" if r["extra"] else ""),
        )
    ratio = out["gibbs"]["ess_per_s"] / out["default"]["ess_per_s"]
    ratio_plain = out["gibbs_plain"]["ess_per_s"] / out["default"]["ess_per_s"]
    ratio_min = (out["gibbs"]["ess_min"] / out["gibbs"]["seconds"]) / (
        out["default"]["ess_min"] / out["default"]["seconds"]
    )
    res.checks.append(
        Check("UniGaussGibbs (default) / NUTS+BGM, ESS/s (median ESS)", ratio, TARGET, ">=")
    )
    res.row(
        "ratio UniGaussGibbs (mode_jumps=False) / NUTS+BGM, ESS/s (median ESS)",
        f"{ratio_plain:.3g}×",
        "informative (the target is for the default sampler); see the note on R-hat",
    )
    res.row(
        "ratio UniGaussGibbs (default) / NUTS+BGM, ESS/s (min ESS over entries)",
        f"{ratio_min:.3g}×",
    )
    if max(out["gibbs_plain"]["rhat_max"], out["default"]["rhat_max"]) > 1.1:
        res.notes.append(
            "R-hat > 1.1 for a sampler means its chains stay in different modes of the sharp "
            "trained density for the whole run: its ESS is then a few units and its ESS/s "
            "only says that it does not mix (the ratio of two such figures is noisy)."
        )
    return res
