"""The 768-expert PoT draw and training update under the JAX backend against the default one.

The same model (the ``pot_hmc`` product of Student-t experts, 256 inputs, 768
experts, 100 rows, 30 leapfrog steps; small sizes with ``--quick``) and the
same generator seeds, built twice: once under ``pymc_ebm.backend("jax")``
(PyTensor's JAX mode: XLA-compiled functions) and once under the default
backend (PyTensor's default mode). Two things are timed, both backends
interleaved:

* the ``ShortRunHMC`` draw, ``step.step(point)``;
* one full training update, ``ContrastiveDivergence(sampler="hmc",
  batch_size=100).partial_fit(batch)``: the negative phase (one ShortRunHMC
  draw of 30 leapfrog steps from the batch) and the compiled free-energy
  gradient and SGD-momentum step of the 768 × 256 filters and the other
  parameters.

Before timing, the benchmark checks that the two backends give the same
first draw and the same parameters after the first update. It runs
unchanged on a GPU machine (JAX picks the device); without JAX installed it
writes a section that says so.
"""

from __future__ import annotations

import importlib.util
import warnings

import numpy as np

from benchmarks._common import Check, Result, fmt_time, interleaved, median, paired_ratio, spread

NAME = "jax_backend"
FULL = {"dim": 256, "experts": 768, "rows": 100, "n_steps": 30}
QUICK = {"dim": 16, "experts": 32, "rows": 10, "n_steps": 5}
STEP_SIZE = 0.01
TOLERANCE = 1e-8  # float64 draws of the two backends, same inputs
PARAM_TOLERANCE = 1e-10  # float64 parameters after one update, same inputs
LEARNING_RATE = 1e-3
N_BATCHES = 8


def _step(backend: str, sizes: dict, seed: int):
    import pymc_ebm
    from benchmarks.pot_hmc import _problem, _short_run_hmc

    W, alpha, start = _problem(sizes["dim"], sizes["experts"], sizes["rows"])
    with pymc_ebm.backend(backend):
        return _short_run_hmc(W, alpha, start, sizes["n_steps"], STEP_SIZE, seed)


def _trainer(backend: str, sizes: dict, seed: int):
    """``ContrastiveDivergence(sampler="hmc")`` on the pot_hmc PoT, built under ``backend``."""
    import pymc_ebm
    from benchmarks.pot_hmc import GAUSS_SD, _problem, short_run_hmc_kwargs

    W, alpha, _ = _problem(sizes["dim"], sizes["experts"], sizes["rows"])
    energy = pymc_ebm.ProductOfExperts(
        [
            pymc_ebm.StudentT(W, alpha),
            pymc_ebm.Gaussian(np.zeros((1, W.shape[1])), np.full((1, W.shape[1]), GAUSS_SD)),
        ]
    )
    with pymc_ebm.backend(backend):
        cd = pymc_ebm.ContrastiveDivergence(
            energy,
            sampler="hmc",
            batch_size=sizes["rows"],
            learning_rate=LEARNING_RATE,
            momentum=0.9,
            step_kwargs=short_run_hmc_kwargs(n_steps=sizes["n_steps"], step_size=STEP_SIZE),
            random_seed=seed,
        )
    cd.negative_phase.stop_tuning()  # fixed step size: the same work in every update
    return cd


def _batches(sizes: dict) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.standard_normal((sizes["rows"], sizes["dim"])) for _ in range(N_BATCHES)]


def _time_draws(sizes: dict, repeats: int, res: Result, device: str) -> None:
    """The ShortRunHMC draw: first draws checked equal, then timed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        steps = {name: _step(name, sizes, seed=1) for name in ("default", "jax")}
        first = {name: step.step(dict(point))[0] for name, (step, point) in steps.items()}
    difference = float(np.max(np.abs(first["jax"]["v"] - first["default"]["v"])))
    res.checks.append(
        Check(
            "first draws: max |JAX − default|",
            difference,
            TOLERANCE,
            "<=",
            "",
            "same seed, same momenta and uniforms",
        )
    )
    state = {name: point for name, (_, point) in steps.items()}

    def timed(name):
        def fn():
            state[name] = steps[name][0].step(state[name])[0]

        return fn

    times = interleaved({name: timed(name) for name in steps}, repeats=repeats)
    for name, label in (("default", "default backend"), ("jax", f"JAX backend ({device})")):
        res.row(
            f"one draw, {label}",
            fmt_time(median(times[name])),
            f"{spread(times[name])}, {repeats} repeats",
        )
    ratio = paired_ratio(times["default"], times["jax"])
    res.row("draw: default time / JAX time", f"{ratio:.2f}×", "above 1: JAX is faster")


def _time_updates(sizes: dict, repeats: int, res: Result, device: str) -> None:
    """One CD update with ShortRunHMC negatives: first updates checked equal, then timed."""
    batches = _batches(sizes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainers = {name: _trainer(name, sizes, seed=3) for name in ("default", "jax")}
        for cd in trainers.values():
            cd.partial_fit(batches[0])  # compiles (Numba lazily, XLA at the first call)
    difference = max(
        float(np.max(np.abs(a.get_value() - b.get_value())))
        for a, b in zip(
            trainers["jax"].energy.params, trainers["default"].energy.params, strict=True
        )
    )
    res.checks.append(
        Check(
            "parameters after the first update: max |JAX − default|",
            difference,
            PARAM_TOLERANCE,
            "<=",
            "",
            "same seed, same batch, same momenta and uniforms",
        )
    )
    counter = dict.fromkeys(trainers, 0)

    def timed(name):
        def fn():
            counter[name] += 1
            trainers[name].partial_fit(batches[counter[name] % N_BATCHES])

        return fn

    times = interleaved({name: timed(name) for name in trainers}, repeats=repeats)
    for name, label in (("default", "default backend"), ("jax", f"JAX backend ({device})")):
        res.row(
            f"one CD update (`partial_fit`), {label}",
            fmt_time(median(times[name])),
            f"{spread(times[name])}, {repeats} repeats",
        )
    ratio = paired_ratio(times["default"], times["jax"])
    res.row("update: default time / JAX time", f"{ratio:.2f}×", "above 1: JAX is faster")


def run(quick: bool = False) -> Result:
    """Time one ShortRunHMC draw and one CD update under both backends (same run)."""
    sizes = QUICK if quick else FULL
    res = Result(
        NAME,
        f"PoT with {sizes['dim']} inputs, {sizes['experts']} experts, {sizes['rows']} rows, "
        f"{sizes['n_steps']} leapfrog steps under the JAX backend: ShortRunHMC draw and "
        "CD training update",
        "`ShortRunHMC.step` and `ContrastiveDivergence(sampler='hmc').partial_fit(batch)` "
        "built under `pymc_ebm.backend('jax')` against the same objects under the default "
        "backend (PyTensor's default mode), float64, same seeds",
    )
    if importlib.util.find_spec("jax") is None:
        for name in ("first draws", "parameters after the first update"):
            res.checks.append(
                Check(f"{name}: max |JAX − default|", None, TOLERANCE, "<=", "", "no JAX")
            )
        res.notes.append("Skipped: JAX is not installed (`pip install 'pymc-ebm[jax]'`).")
        return res
    import jax

    repeats = 5 if quick else 9
    device = str(jax.devices()[0])
    _time_draws(sizes, repeats, res, device)
    _time_updates(sizes, repeats, res, device)
    res.notes.append(
        f"JAX {jax.__version__}, devices {[str(d) for d in jax.devices()]}; "
        "JAX's own CPU threads are not limited by `--threads`."
    )
    res.notes.append(
        f"The update: SGD with momentum 0.9, learning rate {LEARNING_RATE:g}, ShortRunHMC "
        f"negatives from the batch (step size {STEP_SIZE:g}, no jitter, tuning stopped), "
        f"batches of standard normal rows ({N_BATCHES} in turn); the first update of each "
        "trainer (which compiles) is the checked one and is not timed."
    )
    res.notes.append(
        "GPU figures: not yet measured (fill in from `python -m benchmarks --only jax_backend` "
        "on a machine where JAX sees a GPU)."
    )
    return res
