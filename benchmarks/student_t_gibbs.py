"""Mixing per second on a learned PoT: StudentTGibbs against ShortRunHMC and PyMC's NUTS.

The model is a learned product of 768 Student-t experts on 255 whitened
inputs (16×16 image patches), read from ``benchmarks/data/pot768.npz``
(:func:`pymc_ebm.load`; written by :func:`pymc_ebm.save` after the
natural-images study has trained it; :func:`make_model` makes a short-run
stand-in). Fantasies are drawn with ``pm.sample`` from
``pymc_ebm.visible("v", energy, n_particles=R)``, once per step method, with the
same rows, tuning draws, draws and seed:

* :class:`pymc_ebm.StudentTGibbs`: exact blocked Gibbs by the Gaussian scale
  mixture (nothing to tune);
* :class:`pymc_ebm.ShortRunHMC` with its defaults (10 leapfrog steps, step
  size and diagonal mass adapted while tuning);
* PyMC's ``NUTS`` with its defaults.

The R rows are independent chains of the same density, so the bulk ESS of
each of the 255 inputs is computed over R chains
(``pymc_ebm.evaluation.diagnostics.summary``, i.e. ArviZ) and divided by the
seconds ``pm.sample`` took (tuning included; the step method is built and its
compiled functions warmed up by a two-draw run beforehand, so compilation is
excluded and reported separately). As a check, the mean over experts of
``log(1 + ½ (w_j · v)²)`` (finite for every ``α``, unlike moments of ``v``
under heavy tails) must agree between the samplers within z = 4 of their
Monte Carlo standard errors.
"""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path

import arviz as az
import numpy as np
import pymc as pm

import pymc_ebm
from benchmarks._common import Check, Result, interleaved, min_ratio, paired_ratio, spread
from pymc_ebm.evaluation.diagnostics import summary

NAME = "student_t_gibbs"
MODEL_PATH = Path(__file__).resolve().parent / "data" / "pot768.npz"
Z_MAX = 4.0
SAMPLERS = ("StudentTGibbs", "ShortRunHMC", "NUTS")
#: The kernel's sweep against the QR sweep it replaced: at least this much faster.
SWEEP_TARGET = 2.0


def qr_sweep(kernel: pymc_ebm.step_methods.StudentTKernel, v: np.ndarray, rng) -> np.ndarray:
    """The previous sweep: ``u | v``, then ``v | u`` by one batched QR of ``diag(√u) W`` per row.

    The same law as ``kernel.sweep`` (the tests check both routes against the
    exact Gaussian law); kept here as the reference the new sweep is timed against.
    """
    W = np.asarray(kernel.energy.W.get_value(), dtype=float)
    u = kernel.sample_precisions(v, rng)
    R = np.linalg.qr(np.sqrt(u)[:, :, None] * W[None], mode="r")
    z = rng.standard_normal((len(v), W.shape[1]))
    return np.linalg.solve(R, z[:, :, None])[:, :, 0]


def _time_sweeps(energy, res: Result, quick: bool) -> None:
    """One sweep of the kernel against :func:`qr_sweep`, interleaved, on 100 rows."""
    kernel = pymc_ebm.step_methods.StudentTKernel(energy)
    rng = np.random.default_rng(0)
    v = kernel.sweep(np.zeros((100, energy.dim)), rng, n_sweeps=2)[0]
    repeats = 3 if quick else 9
    times = interleaved(
        {"kernel": lambda: kernel.sweep(v, rng), "qr": lambda: qr_sweep(kernel, v, rng)},
        repeats=repeats,
    )
    ratio = paired_ratio(times["qr"], times["kernel"])
    res.row("`StudentTKernel.sweep`, 100 rows", spread(times["kernel"]), "per sweep")
    res.row("previous sweep (batched QR, `qr_sweep`), 100 rows", spread(times["qr"]), "per sweep")
    res.row(
        "ratio previous / new sweep",
        f"{ratio:.2f}×",
        f"median of {repeats} paired repeats (ratio of the minima "
        f"{min_ratio(times['qr'], times['kernel']):.2f}×)",
    )
    res.checks.append(Check("sweep time, previous QR / new kernel", ratio, SWEEP_TARGET, ">="))


def make_model(path: str | Path = MODEL_PATH, n_updates: int = 40) -> Path:
    """Train the natural-images PoT for ``n_updates`` updates and save it to ``path``.

    A stand-in for the fully trained model (2000 updates); about a minute
    for 40 updates.
    """
    from dataclasses import replace

    from pymc_ebm_demos import natural_images

    settings = replace(natural_images.StudySettings(), n_updates=n_updates)
    X, _, _ = natural_images.load_patches(settings)
    energy = natural_images.make_energy(X.shape[1], settings)
    natural_images.train(energy, X, settings)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pymc_ebm.save(energy, path)
    return path


def _step(name: str, v, seed: int):
    if name == "StudentTGibbs":
        return pymc_ebm.StudentTGibbs([v], rng=seed)
    if name == "ShortRunHMC":
        return pymc_ebm.ShortRunHMC([v], rng=seed)
    return pm.NUTS([v])


def _sample(model, step, draws: int, tune: int, seed: int):
    with model:
        return pm.sample(
            draws=draws,
            tune=tune,
            chains=1,
            cores=1,
            step=step,
            random_seed=seed,
            progressbar=False,
            compute_convergence_checks=False,
        )


def _statistic(values: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Mean over experts of ``log(1 + ½ (w_j · v)²)``, shape of ``values`` without the last."""
    s = values @ W.T
    return np.log1p(0.5 * s * s).mean(axis=-1)


def _run_sampler(name: str, energy, sizes: dict, seed: int) -> dict:
    """Build, warm up and time one step method; bulk ESS of the inputs and the statistic."""
    with pm.Model() as model:
        v = pymc_ebm.visible("v", energy, n_particles=sizes["rows"])
        t0 = time.perf_counter()
        step = _step(name, v, seed)
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    _sample(model, step, 2, 2, seed)  # first calls compile (Numba is lazy)
    warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    idata = _sample(model, step, sizes["draws"], sizes["tune"], seed + 1)
    seconds = time.perf_counter() - t0
    values = np.asarray(idata["posterior"]["v"].values, dtype=float)  # (1, draws, R, dim)
    by_row = np.moveaxis(values[0], 1, 0)  # (R, draws, dim): the rows are the chains
    W = np.asarray(energy.W.get_value(), dtype=float)
    table = summary(
        az.from_dict({"posterior": {"v": by_row, "t": _statistic(by_row, W)}})
    ).variables
    ess_v = table["ess_bulk"].drop(index="t").to_numpy()
    return {
        "seconds": seconds,
        "build": build,
        "warm": warm,
        "ess_median": float(np.median(ess_v)),
        "ess_min": float(np.min(ess_v)),
        "ess_t": float(table.loc["t", "ess_bulk"]),
        "t_mean": float(_statistic(by_row, W).mean()),
        "t_mcse": float(table.loc["t", "mcse_mean"]),
        "rhat_max": float(table["r_hat"].max()),
    }


def _missing(res: Result) -> Result:
    note = (
        f"{MODEL_PATH.relative_to(MODEL_PATH.parents[2])} is missing: save the learned "
        "768-expert PoT there with `pymc_ebm.save(energy, path)` after the natural-images "
        "study (`natural_images.train` at full size), or make a short-run stand-in with "
        "`benchmarks.student_t_gibbs.make_model()` (40 updates, about a minute)"
    )
    print(f"   {note}", flush=True)
    res.checks.append(Check("learned model file present", 0.0, 1.0, ">=", "", note=note))
    res.notes.append(note + ".")
    return res


def run(quick: bool = False) -> Result:
    """ESS per second of the three samplers on the learned PoT, and their agreement."""
    sizes = (
        {"rows": 10, "draws": 30, "tune": 20} if quick else {"rows": 20, "draws": 150, "tune": 75}
    )
    res = Result(
        NAME,
        f"Fantasies of a learned PoT (768 Student-t experts, 255 inputs, {sizes['rows']} rows): "
        "bulk ESS per second",
        "`pm.sample` with `StudentTGibbs` (exact blocked Gibbs), `ShortRunHMC` and PyMC's "
        "`NUTS` on `pymc_ebm.visible('v', energy, n_particles=R)`, same rows, tuning draws, "
        "draws and seed",
    )
    if not MODEL_PATH.exists():
        return _missing(res)
    energy = pymc_ebm.load(MODEL_PATH)
    _time_sweeps(energy, res, quick)
    out = {}
    pymc_logger = logging.getLogger("pymc")
    level = pymc_logger.level
    pymc_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name in SAMPLERS:
                out[name] = _run_sampler(name, energy, sizes, seed=1)
    finally:
        pymc_logger.setLevel(level)
    for name, r in out.items():
        res.row(
            f"{name}: bulk ESS / s, median [min] over inputs",
            f"{r['ess_median'] / r['seconds']:.3g} [{r['ess_min'] / r['seconds']:.3g}]",
            f"ESS median {r['ess_median']:.0f} [min {r['ess_min']:.0f}] of "
            f"{sizes['rows'] * sizes['draws']} draws in {r['seconds']:.1f} s of `pm.sample` "
            f"(tuning included); R-hat max {r['rhat_max']:.3f}; build {r['build']:.1f} s, "
            f"warm-up run (compiles) {r['warm']:.1f} s",
        )
        res.row(
            f"{name}: statistic mean_j log(1 + ½ s_j²)",
            f"{r['t_mean']:.4f} ± {r['t_mcse']:.4f}",
            f"mean ± MCSE; its bulk ESS {r['ess_t']:.0f}, "
            f"{r['ess_t'] / r['seconds']:.3g} per second",
        )
    gibbs = out["StudentTGibbs"]
    for other in SAMPLERS[1:]:
        r = out[other]
        rate = gibbs["ess_median"] / gibbs["seconds"] / (r["ess_median"] / r["seconds"])
        rate_min = gibbs["ess_min"] / gibbs["seconds"] / (r["ess_min"] / r["seconds"])
        rate_t = gibbs["ess_t"] / gibbs["seconds"] / (r["ess_t"] / r["seconds"])
        res.row(
            f"ratio StudentTGibbs / {other}, ESS/s (median over inputs)",
            f"{rate:.3g}×",
            f"> 1: StudentTGibbs mixes faster per second; with the min over inputs "
            f"{rate_min:.3g}×, on the statistic {rate_t:.3g}×. A comparison, not a target "
            "(the issue sets none; see the notes for why Gibbs is slower per second here)",
        )
    for other in SAMPLERS[1:]:
        r = out[other]
        z = abs(gibbs["t_mean"] - r["t_mean"]) / np.hypot(gibbs["t_mcse"], r["t_mcse"])
        res.checks.append(
            Check(
                f"agreement of the statistic, StudentTGibbs vs {other}",
                float(z),
                Z_MAX,
                "<=",
                "",
                note="|difference| / combined MCSE",
            )
        )
    factor = (sizes["draws"] + sizes["tune"]) / sizes["draws"]
    res.notes.append(
        f"Model: {MODEL_PATH.name} ({energy.n_experts} experts, {energy.dim} inputs, α median "
        f"{np.median(energy.alpha):.3g} [{energy.alpha.min():.3g} – {energy.alpha.max():.3g}]), "
        f"float64. `pm.sample(draws={sizes['draws']}, tune={sizes['tune']}, chains=1, "
        f"cores=1)` from the model's initial point (v = 0); the {sizes['rows']} rows are "
        "the chains of the ESS (bulk ESS per input over the rows, "
        "`pymc_ebm.evaluation.diagnostics.summary`). ESS per second divides by the seconds "
        "of the timed `pm.sample` call, tuning draws included; building the step and a "
        "two-draw warm-up run (where the compiled functions are made) are excluded and "
        "reported. StudentTGibbs needs no "
        f"tuning: counting its {sizes['draws']} draws alone (not the {sizes['tune']} tuning "
        f"ones) would multiply its rates by {factor:.3g}."
    )
    res.notes.append(
        "StudentTGibbs computes in float64 with NumPy/LAPACK (per row and sweep, the "
        "255 × 255 precision by a symmetric rank-768 update and its Cholesky factor); "
        "ShortRunHMC and NUTS use the compiled "
        "PyTensor gradient. One timed run per sampler (no repeats): the ratios move with "
        "the machine's load."
    )
    return res
