"""The ShortRunHMC draw on the 768-expert PoT under the JAX backend against the default one.

The same model (the ``pot_hmc`` product of Student-t experts, 256 inputs, 768
experts, 100 rows, 30 leapfrog steps; small sizes with ``--quick``) and the
same generator seed give two ``ShortRunHMC`` steps, one built under
``pymc_ebm.backend("jax")`` (PyTensor's JAX mode: one XLA-compiled function)
and one under the default backend (PyTensor's default mode). The benchmark
checks that their first draws agree, then times ``step.step(point)`` of
both, interleaved. It runs unchanged on a GPU machine (JAX picks the device);
without JAX installed it writes a section that says so.
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


def _step(backend: str, sizes: dict, seed: int):
    import pymc_ebm
    from benchmarks.pot_hmc import _problem, _short_run_hmc

    W, alpha, start = _problem(sizes["dim"], sizes["experts"], sizes["rows"])
    with pymc_ebm.backend(backend):
        return _short_run_hmc(W, alpha, start, sizes["n_steps"], STEP_SIZE, seed)


def run(quick: bool = False) -> Result:
    """Time one ShortRunHMC draw under both backends (same machine, same run)."""
    sizes = QUICK if quick else FULL
    res = Result(
        NAME,
        f"ShortRunHMC draw under the JAX backend: PoT with {sizes['dim']} inputs, "
        f"{sizes['experts']} experts, {sizes['rows']} rows, {sizes['n_steps']} leapfrog steps",
        "`ShortRunHMC.step` built under `pymc_ebm.backend('jax')` against the same step "
        "under the default backend (PyTensor's default mode), float64, same seed",
    )
    agreement = "first draws: max |JAX − default|"
    if importlib.util.find_spec("jax") is None:
        res.checks.append(Check(agreement, None, TOLERANCE, "<=", "", "JAX not installed"))
        res.notes.append("Skipped: JAX is not installed (`pip install 'pymc-ebm[jax]'`).")
        return res
    import jax

    repeats = 5 if quick else 9
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        steps = {name: _step(name, sizes, seed=1) for name in ("default", "jax")}
        first = {name: step.step(dict(point))[0] for name, (step, point) in steps.items()}
    difference = float(np.max(np.abs(first["jax"]["v"] - first["default"]["v"])))
    res.checks.append(
        Check(agreement, difference, TOLERANCE, "<=", "", "same seed, same momenta and uniforms")
    )
    state = {name: point for name, (_, point) in steps.items()}

    def timed(name):
        def fn():
            state[name] = steps[name][0].step(state[name])[0]

        return fn

    times = interleaved({name: timed(name) for name in steps}, repeats=repeats)
    device = jax.devices()[0]
    for name, label in (("default", "default backend"), ("jax", f"JAX backend ({device})")):
        res.row(
            f"one draw, {label}",
            fmt_time(median(times[name])),
            f"{spread(times[name])}, {repeats} repeats",
        )
    ratio = paired_ratio(times["default"], times["jax"])
    res.row(
        "default time / JAX time",
        f"{ratio:.2f}×",
        "above 1: JAX is faster",
    )
    res.notes.append(
        f"JAX {jax.__version__}, devices {[str(d) for d in jax.devices()]}; "
        "JAX's own CPU threads are not limited by `--threads`."
    )
    res.notes.append(
        "GPU figures: not yet measured (fill in from `python -m benchmarks --only jax_backend` "
        "on a machine where JAX sees a GPU)."
    )
    return res
