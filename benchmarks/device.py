"""The 768-expert PoT on one device: JAX backend against PyTorch, float32, absolute times.

``python -m benchmarks --device gpu`` (or ``--device cpu``) runs only this
benchmark. Three things are measured, in float32:

* the ``ShortRunHMC`` draw of the ``pot_hmc`` product of Student-t experts
  (256 inputs, 768 experts, 30 leapfrog steps) at batch 100 and 10 000,
  built under ``pymc_ebm.backend("jax")``, against the same draw in PyTorch
  (:class:`benchmarks.pot_hmc.TorchDraw`, autograd gradients) on the same
  device;
* one full CD update of the natural-image PoT (768 experts, 255 whitened
  inputs, batch 100, 30 leapfrog steps: the ``pot_cd_update`` trainer) under
  the JAX backend, against the same update in PyTorch
  (:class:`benchmarks.pot_cd_update.TorchCD`);
* AIS (``pymc_ebm.log_partition``) on the ``ais`` benchmark's 768-expert PoT
  under the JAX backend, against the same call under the default backend
  (PyTorch has no AIS here).

Before anything is timed, each measurement checks the implementations
against each other: the draws replay ShortRunHMC's momenta and uniforms and
must give the rows of a NumPy reference draw (and of each other); the
PyTorch update replays the JAX trainer's and must give the same parameters;
the two AIS estimates must agree within two combined standard errors. A
missing JAX or PyTorch, or one that sees no GPU under ``--device gpu``, is a
row of the report, not an error.

On a GPU the absolute times are meaningful (nothing else shares the
device); both libraries copy their inputs from and their outputs to the host
at every call (ShortRunHMC's random numbers are NumPy's, drawn on the host).
"""

from __future__ import annotations

import importlib.util
import time
import warnings
from dataclasses import replace

import numpy as np
import pytensor

from benchmarks._common import Check, Result, fmt_time, interleaved, median, paired_ratio, spread

NAME = "device"
FULL = {
    "dim": 256,
    "experts": 768,
    "rows": (100, 10_000),
    "n_steps": 30,
    "ais_dim": 256,
    "ais_experts": 768,
    "ais_chains": 256,
    "ais_temperatures": 200,
    "repeats": 7,
}
QUICK = {
    "dim": 32,
    "experts": 96,
    "rows": (10, 200),
    "n_steps": 5,
    "ais_dim": 16,
    "ais_experts": 48,
    "ais_chains": 32,
    "ais_temperatures": 20,
    "repeats": 3,
}
DTYPE = "float32"
DRAW_TOLERANCE = 1e-3  # float32 rows equal to the reference (as in pot_hmc)
SAME_ROWS = 0.95  # share of rows that must match
WARM_UPDATES = 5  # CD updates before the check (the first compiles; the step size settles)
N_BATCHES = 16
NO_GPU = (
    "no GPU visible: neither JAX nor PyTorch sees one (JAX lists {jax}; PyTorch: {torch}). "
    "Run `python -m benchmarks --device cpu` for the same benchmark on the CPU."
)


class Contenders:
    """Which of JAX and PyTorch take part, on which device, and why not where they don't."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.jax = self.torch = None  # device names where they take part
        self.missing: dict[str, str] = {}
        if importlib.util.find_spec("jax") is None:
            self.missing["JAX"] = "not installed (`pip install 'pymc-ebm[jax]'`)"
        else:
            import jax

            platform = jax.default_backend()
            if device == "gpu" and platform != "gpu":
                self.missing["JAX"] = f"sees no GPU (its devices: {jax.devices()})"
            else:
                self.jax = str(jax.devices()[0])
        if importlib.util.find_spec("torch") is None:
            self.missing["PyTorch"] = "not installed (`pip install 'pymc-ebm[bench]'`)"
        else:
            import torch

            if device == "gpu" and not torch.cuda.is_available():
                self.missing["PyTorch"] = "sees no GPU (`torch.cuda.is_available()` is False)"
            else:
                self.torch = "cuda" if device == "gpu" else "cpu"

    def report_missing(self, res: Result, what: str) -> None:
        for name, why in self.missing.items():
            res.row(f"{what}: {name}", "not run", why)


def gpu_refusal() -> str | None:
    """The message that stops ``--device gpu`` where no GPU is visible (``None``: one is)."""
    seen = Contenders("gpu")
    if seen.jax is not None or seen.torch is not None:
        return None
    if importlib.util.find_spec("jax") is None:
        jax_devices = "nothing (not installed)"
    else:
        import jax

        jax_devices = str([str(d) for d in jax.devices()])
    torch_text = seen.missing["PyTorch"]
    return NO_GPU.format(jax=jax_devices, torch=torch_text)


# -- the draw ------------------------------------------------------------------------------


def _draws(sizes: dict, rows: int, who: Contenders, res: Result) -> None:
    import pymc_ebm
    from benchmarks.pot_hmc import (
        STEP_SIZE,
        NumpyDraw,
        RecordingRNG,
        TorchDraw,
        _problem,
        _short_run_hmc,
        replayed_inputs,
    )

    what = f"draw, batch {rows}"
    who.report_missing(res, what)
    W, alpha, start = _problem(sizes["dim"], sizes["experts"], rows)
    dtype = np.dtype(DTYPE).type
    q0 = np.asarray(start, dtype=dtype)
    n_steps = sizes["n_steps"]
    fns, state, results = {}, {}, {}
    p0 = log_u = None
    if who.jax is not None:
        with pymc_ebm.backend("jax"), pytensor.config.change_flags(floatX=DTYPE):
            t0 = time.perf_counter()
            step, point = _short_run_hmc(W, alpha, start, n_steps, STEP_SIZE, seed=1)
            step.step(dict(point))  # compiles
            first = time.perf_counter() - t0
            recorder = RecordingRNG(5)
            step.rng = recorder
            results["JAX"] = step.step({**point, "v": q0})[0]["v"]
            step.rng = np.random.default_rng(6)
        p0, log_u = replayed_inputs(recorder, rows)
        res.row(f"{what}: JAX build + first call (compiles)", fmt_time(first))
        state["JAX"] = dict(point, v=q0)

        def jax_fn():
            state["JAX"] = step.step(state["JAX"])[0]

        fns[f"JAX ({who.jax})"] = jax_fn
    if p0 is None:
        rng = np.random.default_rng(5)
        p0 = rng.standard_normal(q0.shape, dtype=dtype)
        log_u = -rng.standard_exponential(rows, dtype=dtype)
    if who.torch is not None:
        ref = TorchDraw(W, alpha, n_steps, STEP_SIZE, dtype, seed=7, device=who.torch)
        results["PyTorch"] = ref.draw(q0, p0, log_u)[0]
        state["PyTorch"] = q0

        def torch_fn():
            state["PyTorch"] = ref.draw(state["PyTorch"])[0]

        fns[f"PyTorch ({who.torch})"] = torch_fn
    expected = NumpyDraw(W, alpha, n_steps, STEP_SIZE, dtype, seed=8).draw(q0, p0, log_u)[0]
    pairs = [(name, "NumPy (host)", out, expected) for name, out in results.items()]
    if len(results) == 2:
        pairs.append(("JAX", "PyTorch", results["JAX"], results["PyTorch"]))
    for a, b, x, y in pairs:
        same = float(
            np.mean(np.all(np.isclose(x, y, rtol=DRAW_TOLERANCE, atol=DRAW_TOLERANCE), 1))
        )
        res.checks.append(
            Check(
                f"{what}: rows of {a} equal to {b}'s",
                100 * same,
                100 * SAME_ROWS,
                ">=",
                "%",
                f"same start, momenta and uniforms; tolerance {DRAW_TOLERANCE:g}; "
                f"{np.mean(np.any(x != q0, axis=1)):.0%} of rows moved",
            )
        )
        if same < SAME_ROWS:
            raise AssertionError(f"{what}: {a} and {b} give different draws ({same:.0%} equal)")
    if not fns:
        return
    times = interleaved(fns, repeats=sizes["repeats"], warmup=1)
    for name, values in times.items():
        res.row(
            f"{what}: {name}",
            fmt_time(median(values)),
            f"{spread(values)} per draw, {sizes['repeats']} repeats; "
            f"{fmt_time(median(values) / n_steps)} per leapfrog step",
        )
    if len(times) == 2:
        jax_name, torch_name = times
        res.row(
            f"{what}: PyTorch time / JAX time",
            f"{paired_ratio(times[torch_name], times[jax_name]):.2f}×",
            "above 1: the JAX backend is faster",
        )


# -- the CD update ----------------------------------------------------------------------------


def _cd_settings(quick: bool):
    from benchmarks.pot_cd_update import _settings

    settings = _settings(DTYPE, quick)
    if quick:  # a small model too: 6×6 patches, 64 experts, 5 leapfrog steps
        settings = replace(settings, size=6, grid=(8, 8), n_steps=5, n_train=1000, n_test=100)
    return settings


def _update(quick: bool, sizes: dict, who: Contenders, res: Result) -> None:
    import pymc_ebm
    from benchmarks.pot_cd_update import _check, make_trainer
    from pymc_ebm_demos import natural_images

    what = "CD update"
    who.report_missing(res, what)
    settings = _cd_settings(quick)
    X, _, _ = natural_images.load_patches(settings)
    energy = natural_images.make_energy(X.shape[1], settings)
    # ours under JAX where it takes part; else under the default backend, only to check PyTorch
    name = "default" if who.jax is None else "jax"
    if name == "default" and who.torch is None:
        return
    rng = np.random.default_rng(3)
    batches = [X[rng.choice(len(X), settings.batch_size, replace=False)] for _ in range(N_BATCHES)]
    with pymc_ebm.backend(name), pytensor.config.change_flags(floatX=DTYPE):
        cd = make_trainer(energy, settings)
        t0 = time.perf_counter()
        cd.partial_fit(batches[0])  # compiles
        first = time.perf_counter() - t0
        for batch in batches[1:WARM_UPDATES]:
            cd.partial_fit(batch)
        label = f"{what} ({'JAX' if who.jax else 'default backend'})"
        ref = None
        if who.torch is not None:
            # raises unless the parameters agree (pot_cd_update.TOLERANCE)
            ref = _check(cd, settings, batches[WARM_UPDATES], res, device=who.torch, label=label)
        counter = {"JAX": 0, "PyTorch": 0}
        fns = {}
        if who.jax is not None:
            res.row(f"{what}: JAX build + first update (compiles)", fmt_time(first))

            def jax_fn():
                counter["JAX"] += 1
                cd.partial_fit(batches[counter["JAX"] % N_BATCHES])

            fns[f"JAX ({who.jax})"] = jax_fn
        if ref is not None:

            def torch_fn():
                counter["PyTorch"] += 1
                ref.update(batches[counter["PyTorch"] % N_BATCHES])

            fns[f"PyTorch ({who.torch})"] = torch_fn
        times = interleaved(fns, repeats=sizes["repeats"], inner=2, warmup=1)
    for label, values in times.items():
        res.row(
            f"{what}: {label}",
            fmt_time(median(values)),
            f"{spread(values)} per update, {sizes['repeats']} repeats of 2",
        )
    if len(times) == 2:
        jax_name, torch_name = times
        res.row(
            f"{what}: PyTorch time / JAX time",
            f"{paired_ratio(times[torch_name], times[jax_name]):.2f}×",
            "above 1: the JAX backend is faster",
        )


# -- AIS ------------------------------------------------------------------------------------


def _ais(sizes: dict, who: Contenders, res: Result) -> None:
    import pymc_ebm
    from benchmarks.ais import _problem

    what = "AIS"
    if who.jax is None:
        res.row(f"{what}: JAX", "not run", who.missing["JAX"])
        return
    chains, temps = sizes["ais_chains"], sizes["ais_temperatures"]
    estimates, seconds = {}, {}
    for name in ("jax", "default"):
        with pymc_ebm.backend(name), pytensor.config.change_flags(floatX=DTYPE):
            energy, data = _problem(sizes["ais_dim"], sizes["ais_experts"])
            kwargs = dict(data=data, progressbar=False)
            t0 = time.perf_counter()
            # same number of chains as the timed call: JAX compiles again for new shapes
            pymc_ebm.log_partition(
                energy, n_runs=chains, n_temperatures=2, random_seed=0, **kwargs
            )
            compile_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            estimates[name] = pymc_ebm.log_partition(
                energy, n_runs=chains, n_temperatures=temps, random_seed=1, **kwargs
            )
            seconds[name] = time.perf_counter() - t0
        est = estimates[name]
        label = f"JAX ({who.jax})" if name == "jax" else "default backend (CPU)"
        res.row(
            f"{what}: {label}",
            fmt_time(seconds[name]),
            f"log Z {est.log_z:.2f} ± {est.se:.3f}, weight ESS {est.ess:.1f} of {chains}; "
            f"first (compiling) call {fmt_time(compile_s)}",
        )
    a, b = estimates["jax"], estimates["default"]
    combined = float(np.hypot(a.se, b.se))
    res.checks.append(
        Check(
            f"{what}: |log Z JAX − log Z default| / combined se",
            abs(a.log_z - b.log_z) / combined if combined > 0 else float("nan"),
            2.0,
            "<=",
            "",
            f"same seed; {chains} chains, {temps} temperatures, 10 leapfrog steps each",
        )
    )
    res.row(
        f"{what}: default time / JAX time",
        f"{seconds['default'] / seconds['jax']:.2f}×",
        "one call each; above 1: the JAX backend is faster",
    )


def run(quick: bool = False, device: str = "cpu") -> Result:
    """The draw at two batch sizes, the CD update and AIS, JAX against PyTorch, on ``device``."""
    sizes = QUICK if quick else FULL
    who = Contenders(device)
    res = Result(
        NAME,
        f"{device.upper()}: PoT draw ({sizes['dim']} inputs, {sizes['experts']} experts, "
        f"batch {' and '.join(f'{r:,}'.replace(',', ' ') for r in sizes['rows'])}, "
        f"{sizes['n_steps']} leapfrog steps), CD update and AIS, float32",
        "`ShortRunHMC.step`, `ContrastiveDivergence(sampler='hmc').partial_fit(batch)` and "
        "`log_partition(method='ais')` built under `pymc_ebm.backend('jax')`, against the same "
        "draw and update in PyTorch (autograd) on the same device, and AIS under the default "
        "backend; float32, absolute times",
    )
    res.row("device asked for", device, f"JAX: {who.jax or '—'}; PyTorch: {who.torch or '—'}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for rows in sizes["rows"]:
            _draws(sizes, rows, who, res)
        _update(quick, sizes, who, res)
        _ais(sizes, who, res)
    if who.jax is not None:
        import jax

        res.notes.append(
            f"JAX {jax.__version__}, devices {[str(d) for d in jax.devices()]}"
            + (
                "; on a CPU, JAX's own threads are not limited by `--threads` (PyTorch's and "
                "the default backend's are)."
                if device == "cpu"
                else "."
            )
        )
    if who.torch is not None:
        import torch

        res.notes.append(
            f"PyTorch {torch.__version__} on {who.torch}"
            + (f" ({torch.cuda.get_device_name(0)})" if who.torch == "cuda" else "")
            + "."
        )
    res.notes.append(
        "Times are medians [min – max] over interleaved repeats; each implementation keeps its "
        "own chain (draws) or its own copy of the parameters (updates). Inputs and outputs "
        "cross between host and device at every call, in both libraries. The CD update is the "
        "`pot_cd_update` trainer (SGD with momentum, step size tuned by dual averaging, jitter "
        "±15 %); PyTorch keeps the step size ours had reached when it started."
    )
    if quick:
        res.notes.append(
            "`--quick`: small model (draw: 32 inputs, 96 experts, batch 10 and 200, 5 steps; CD: "
            "6×6 patches, 64 experts, 5 steps; AIS: 16 inputs, 48 experts)."
        )
    return res
