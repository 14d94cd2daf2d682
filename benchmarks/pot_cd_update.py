"""One contrastive-divergence update of the lecture-size PoT (768 experts, 255 whitened inputs).

Ours: the natural-images study's trainer (``natural_images.make_trainer``):
``ContrastiveDivergence(StudentT, sampler="hmc", k=1, batch_size=100,
learning_rate=0.02, momentum=0.9, weight_decay=1e-4, step_kwargs={"n_steps":
30, "step_size": 0.1, "adapt_mass": False})`` with SGD and momentum (the
study itself uses Adam, ``optimizer="adam"``: the optimiser's step is
elementwise on the parameters, a negligible share of the update, and SGD with
momentum is the update :class:`TorchCD` writes out) on real whitened 16×16 patches
(``natural_images.load_patches``, the energy from ``make_energy``), one
``partial_fit(batch)`` per update: momentum once, 30 leapfrog steps from each
datavector (``ShortRunHMC``, step size jittered by ±15 % and tuned by dual
averaging), a Metropolis test per row, then one compiled PyTensor function for
the gradients and the SGD-momentum update.

Reference: the same update in PyTorch on the CPU (:class:`TorchCD`), its
gradients by autograd (``∂E/∂v`` for the leapfrog steps, ``∂/∂θ`` of the
data-minus-negatives energy for the update), on the same unconstrained
parameters (``W``, ``log_alpha``), with ``pm.momentum``'s update
(``x = m u + θ - lr g``, ``u ← x - θ``, ``θ ← x``) and weight decay on ``W``
only. From the same start, momenta, uniforms and step size it is checked to
give the same new parameters as ``partial_fit`` before anything is timed.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import replace

import numpy as np
import pytensor

from benchmarks._common import (
    TORCH_MISSING,
    Check,
    Result,
    interleaved,
    min_ratio,
    optional_torch,
    paired_ratio,
    spread,
)
from benchmarks.pot_hmc import RecordingRNG
from pymc_ebm_demos import natural_images

NAME = "pot_cd_update"
N_BATCHES = 16
WARM_UPDATES = 5  # updates of ours before the check (the first compiles)
# tolerance on the parameter change: max |Δθ_torch - Δθ_ours| / max |Δθ_ours|
TOLERANCE = {"float64": 1e-10, "float32": 1e-4}


def _settings(dtype_name: str, quick: bool) -> natural_images.StudySettings:
    # SGD with momentum, whose update TorchCD writes out (the study trains with Adam:
    # an elementwise step on the parameters, a negligible part of the update's cost)
    settings = replace(
        natural_images.StudySettings(), dtype=dtype_name, optimizer="sgd", learning_rate=0.02
    )
    if quick:  # fewer patches to whiten; the model keeps its full size
        settings = replace(settings, n_train=2000, n_test=500)
    return settings


def make_trainer(energy, settings: natural_images.StudySettings):
    """The study's trainer (:func:`natural_images.make_trainer`), in ``settings.dtype``."""
    with pytensor.config.change_flags(floatX=settings.dtype):
        return natural_images.make_trainer(energy, settings)


class TorchCD:
    """The same CD update in PyTorch, gradients by autograd, on ``device`` ("cpu" or "cuda").

    Parameters ``W`` (n_experts, dim) and ``log_alpha`` (n_experts,), their
    momentum velocities, and the settings of the trainer. ``step_size`` is
    fixed (the tuned value of ours when the reference starts); the draw's
    step size is jittered like ShortRunHMC's. The parameters stay on the
    device; each update copies its batch, momenta and uniforms there.
    """

    def __init__(
        self, params, velocities, decayed, settings, jitter, step_size, seed, device="cpu"
    ) -> None:
        import torch

        self.torch = torch
        self.device = device
        self.np_dtype = np.dtype(settings.dtype).type
        self.dtype = {"float64": torch.float64, "float32": torch.float32}[settings.dtype]
        self.params = self.tensors(params)
        self.velocities = self.tensors(velocities)
        self.lr, self.momentum = settings.learning_rate, settings.momentum
        self.decay = [settings.weight_decay if d else 0.0 for d in decayed]
        self.n_steps = settings.n_steps
        self.jitter = jitter
        self.step_size = step_size
        self.rng = np.random.default_rng(seed)

    def tensors(self, arrays) -> list:
        """NumPy arrays as tensors of the update's dtype on its device."""
        return [
            self.torch.tensor(np.asarray(a), dtype=self.dtype, device=self.device) for a in arrays
        ]

    def energy(self, v, W, log_alpha):
        """Per-row energy ``Σ_j α_j log(1 + ½ (w_j · v)²)``, shape (n,)."""
        s = v @ W.T
        return self.torch.log1p(0.5 * s * s) @ self.torch.exp(log_alpha)

    def _energy_and_grad(self, q):
        q = q.detach().requires_grad_(True)
        u = self.energy(q, *self.params)
        (g,) = self.torch.autograd.grad(u.sum(), q)
        return u.detach(), g

    def negatives(self, q0, p0, uniforms, step_size):
        """Momentum once, ``n_steps`` leapfrog steps, one Metropolis test per row."""
        torch, dt = self.torch, self.np_dtype
        eps32 = dt(step_size) * (dt(1.0) + dt(self.jitter) * (dt(2.0) * uniforms[0, 0] - dt(1.0)))
        eps = float(eps32)
        half = 0.5 * eps
        log_u = torch.from_numpy(np.log(uniforms[0, 1:])).to(self.device)
        p0 = torch.from_numpy(p0).to(self.device)
        u0, g = self._energy_and_grad(q0)
        with torch.no_grad():
            p = p0.clone()
            q = q0.clone()
        for _ in range(self.n_steps):
            with torch.no_grad():
                p -= half * g
                q += eps * p
            u1, g = self._energy_and_grad(q)
            with torch.no_grad():
                p -= half * g
        with torch.no_grad():
            delta = u1 + 0.5 * (p * p).sum(1) - u0 - 0.5 * (p0 * p0).sum(1)
            finite = torch.isfinite(delta) & torch.isfinite(q).all(1) & torch.isfinite(g).all(1)
            delta = torch.where(finite, delta, torch.full_like(delta, np.inf))
            accept = log_u < -delta
            return torch.where(accept[:, None], q, q0), accept

    def update(self, batch, p0=None, uniforms=None, step_size=None):
        """One update on ``batch`` (n, dim); returns the accepted share of the negatives."""
        torch, dt = self.torch, self.np_dtype
        if p0 is None:
            p0 = self.rng.standard_normal((1, *batch.shape), dtype=dt)[0]
            uniforms = self.rng.random((1, batch.shape[0] + 1), dtype=dt)
            step_size = self.step_size
        data = torch.from_numpy(np.asarray(batch, dtype=dt)).to(self.device)
        negatives, accept = self.negatives(data, p0, uniforms, step_size)
        params = [p.detach().requires_grad_(True) for p in self.params]
        loss = self.energy(data, *params).mean() - self.energy(negatives, *params).mean()
        grads = list(torch.autograd.grad(loss, params))
        with torch.no_grad():
            grads = [
                g + d * p if d else g
                for g, d, p in zip(grads, self.decay, self.params, strict=True)
            ]
            new = [
                self.momentum * u + (p - self.lr * g)
                for p, u, g in zip(self.params, self.velocities, grads, strict=True)
            ]
            if bool(torch.isfinite(loss)) and all(bool(torch.isfinite(x).all()) for x in new):
                self.velocities = [x - p for x, p in zip(new, self.params, strict=True)]
                self.params = new
        return float(accept.double().mean())


def _state(cd) -> tuple[list[np.ndarray], list[np.ndarray]]:
    params = [np.array(p.get_value()) for p in cd.energy.params]
    velocities = [np.array(s.get_value()) for s in cd.optimizer.state]
    for p, u in zip(params, velocities, strict=True):
        assert p.shape == u.shape, "optimiser state not in parameter order"
    return params, velocities


def _check(cd, settings, batch, res: Result, device: str = "cpu", label: str = ""):
    """One update of ours from a snapshot, replayed in PyTorch on ``device``; returns it.

    ``label`` names ours in the row (default: the dtype).
    """
    step = cd.negative_phase.step
    params, velocities = _state(cd)
    recorder = RecordingRNG(11)
    step.rng = recorder
    record = cd.partial_fit(batch)
    step.rng = np.random.default_rng(12)
    ours = [np.array(p.get_value()) for p in cd.energy.params]
    names = [name for name, _ in recorder.calls]
    p0 = recorder.calls[names.index("standard_normal")][1][0]
    uniforms = recorder.calls[names.index("random")][1]
    decayed = [name in cd.energy.decayed_params for name in cd.energy.param_names]
    ref = TorchCD(
        params,
        velocities,
        decayed,
        settings,
        step.step_jitter,
        record["stat_step_size"],
        13,
        device=device,
    )
    accepted = ref.update(batch, p0, uniforms, record["stat_step_size"])
    theirs = [p.cpu().numpy() for p in ref.params]
    errors = [
        float(np.max(np.abs((t - p0_) - (o - p0_))) / np.max(np.abs(o - p0_)))
        for t, o, p0_ in zip(theirs, ours, params, strict=True)
    ]
    tol = TOLERANCE[settings.dtype]
    text = (
        ", ".join(
            f"{name} {err:.1e}" for name, err in zip(cd.energy.param_names, errors, strict=True)
        )
        + f" (tolerance {tol:g}); accepted {record['stat_accepted']:.0%} / {accepted:.0%}"
    )
    res.row(
        f"{label or settings.dtype}: check, PyTorch update vs `partial_fit` (same start, "
        "momenta, uniforms)",
        text,
        "max |Δθ_torch − Δθ_ours| / max |Δθ_ours| per parameter; accepted share ours / torch",
    )
    if (
        max(errors) > tol
        or abs(accepted - record["stat_accepted"]) > 0.02
        or not 0.2 < accepted < 1.0  # a check where no row moves compares nothing
    ):
        raise AssertionError(f"PyTorch CD update differs from partial_fit: {text}")
    # the reference goes on from ours' new state (same parameters, same velocities)
    ref.params = ref.tensors(ours)
    ref.velocities = ref.tensors(_state(cd)[1])
    ref.step_size = record["stat_step_size"]
    return ref


def _one_dtype(dtype_name: str, quick: bool, repeats: int, inner: int, res: Result):
    settings = _settings(dtype_name, quick)
    X, _, _ = natural_images.load_patches(settings)
    energy = natural_images.make_energy(X.shape[1], settings)
    cd = make_trainer(energy, settings)
    rng = np.random.default_rng(3)
    batches = [X[rng.choice(len(X), settings.batch_size, replace=False)] for _ in range(N_BATCHES)]
    t0 = time.perf_counter()
    cd.partial_fit(batches[0])  # compiles the step's function (Numba is lazy)
    first = time.perf_counter() - t0
    # dual averaging's first move multiplies the step size by 10 (every row rejected at
    # the second update): check where the step size has settled
    for batch in batches[1:WARM_UPDATES]:
        cd.partial_fit(batch)
    ref = _check(cd, settings, batches[WARM_UPDATES], res)
    counter = {"ours": 0, "torch": 0}

    def ours() -> None:
        counter["ours"] += 1
        cd.partial_fit(batches[counter["ours"] % N_BATCHES])

    def torch_fn() -> None:
        counter["torch"] += 1
        ref.update(batches[counter["torch"] % N_BATCHES])

    times = interleaved({"ours": ours, "PyTorch": torch_fn}, repeats=repeats, inner=inner)
    ratio = paired_ratio(times["PyTorch"], times["ours"])
    res.row(
        f"{dtype_name}: `ContrastiveDivergence.partial_fit`",
        spread(times["ours"]),
        f"per update; first update (compiles) {first:.1f} s",
    )
    res.row(f"{dtype_name}: PyTorch autograd update", spread(times["PyTorch"]), "per update")
    res.checks.append(
        Check(
            f"{dtype_name}: PyTorch time / ours",
            ratio,
            1.0,
            ">=",
            note=f"> 1: ours faster; ratio of the minima "
            f"{min_ratio(times['PyTorch'], times['ours']):.3g}×",
        )
    )
    return times


def run(quick: bool = False) -> Result:
    """Time ``partial_fit`` against the PyTorch update in float64 and float32."""
    repeats, inner = (3, 2) if quick else (11, 3)
    res = Result(
        NAME,
        "One CD update of the natural-image PoT (768 Student-t experts, 255 whitened inputs, "
        "batch 100, 30 leapfrog steps)",
        "`ContrastiveDivergence(sampler='hmc').partial_fit(batch)` built by the natural-images "
        "study's `make_trainer` (with SGD and momentum), against the same update in PyTorch "
        "(CPU, autograd gradients), same dtype",
    )
    torch = optional_torch(res)
    if torch is None:
        for dtype_name in ("float64", "float32"):
            res.checks.append(
                Check(f"{dtype_name}: PyTorch time / ours", None, 1.0, ">=", note=TORCH_MISSING)
            )
        return res
    res.notes.append(
        f"PyTorch {torch.__version__}, {torch.get_num_threads()} thread(s) "
        "(`torch.set_num_threads`, the same as the BLAS pools of ours)."
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for dtype_name in ("float64", "float32"):
            # partial_fit casts its batch to floatX when called: keep the trainer's dtype
            with pytensor.config.change_flags(floatX=dtype_name):
                _one_dtype(dtype_name, quick, repeats, inner, res)
    res.notes.append(
        f"Median [min – max] over {repeats} interleaved repeats of {inner} updates each, on "
        f"{N_BATCHES} fixed minibatches of real whitened patches; ratios are medians of "
        "per-repeat ratios. Each implementation trains its own copy from the same state "
        "(the parameters and velocities after the checked update of ours, the sixth). Not "
        "timed: the study's renormalisation of the filters after each update (a NumPy "
        "rescaling of `W`)."
    )
    res.notes.append(
        "Ours also tunes the step size by dual averaging and records a history entry per "
        "update; the PyTorch update keeps the step size fixed at the value ours had reached "
        "when it started (both jitter it by ±15 % per draw)."
    )
    if quick:
        res.notes.append("`--quick`: 2000 training patches instead of 50 000; same model size.")
    return res
