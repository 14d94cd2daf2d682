"""Cost of one CD-1 update on the 24-cluster uni-gauss problem, against hand-vectorised NumPy.

Ours: ``ContrastiveDivergence(experts, sampler="gibbs", batch_size=100)``
(SGD with momentum 0.9, learning rate 0.01), one ``partial_fit(batch)`` per
update: the negative phase is one ``UniGaussGibbs`` sweep ``h | v`` then
``v | h`` from the data on the batch model, then one compiled PyTensor
function computes the free-energy gradients at the data and the negatives
and updates the shared parameters.

Reference: the same update written directly in NumPy/SciPy on plain arrays
(:class:`NumpyCD1`), with the gradients of the free energy worked out by
hand. It is checked against PyTensor's gradient at fixed negatives, and its
Gibbs sweep against the package's kernel (same mean and spread of the
negatives), before it is timed.
"""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
from scipy.special import expit, log_ndtr, ndtri_exp

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
from pymc_ebm.step_methods import UniGaussKernel
from pymc_ebm_demos import unigauss_clusters as study

# The benchmark's model: the flagship study's experts at seed 2, the seed the
# figures in docs/benchmarks.md were measured on (the study's default seed is 0).
MODEL_SEED = 2

NAME = "cd_update"
TARGET = 1.5
LOG_2PI = float(np.log(2 * np.pi))


def _softplus(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


class NumpyCD1:
    """CD-1 for a product of uni-gauss experts on a box, SGD with momentum, in NumPy.

    Parameters ``mu`` (J, D), ``log_sigma`` (J, D), ``logit_pi`` (J,) are
    updated in place by :meth:`update`.
    """

    def __init__(self, experts, learning_rate: float, momentum: float, seed: int) -> None:
        self.params = {k: np.array(v, dtype=float) for k, v in experts.get_params().items()}
        self.velocity = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.low, self.high = (np.asarray(b, dtype=float) for b in experts.domain)
        self.log_volume = float(np.sum(np.log(self.high - self.low)))
        self.lr = learning_rate
        self.momentum = momentum
        self.rng = np.random.default_rng(seed)

    def _terms(self, v: np.ndarray):
        """Posterior p(h=1|v) (n, J) and the row moments [1, v, v²] (n, 1 + 2D).

        ``Σ_d (v_d - μ_jd)² / σ_jd²`` is expanded into products with the
        moments, so no (n, J, D) array is formed.
        """
        mu, log_sigma, a = self.params["mu"], self.params["log_sigma"], self.params["logit_pi"]
        prec = np.exp(-2.0 * log_sigma)
        moments = np.concatenate([np.ones((len(v), 1)), v, v * v], axis=1)
        coef = np.concatenate(
            [
                ((mu * mu * prec).sum(1) * -0.5 - log_sigma.sum(1) - _softplus(-a))[:, None],
                mu * prec,
                -0.5 * prec,
            ],
            axis=1,
        )  # (J, 1 + 2D)
        const = self.log_volume + _softplus(a) - 0.5 * LOG_2PI * mu.shape[1]
        return expit(moments @ coef.T + const), moments

    def grads(self, v: np.ndarray, terms=None) -> dict[str, np.ndarray]:
        """Mean over rows of dF/dθ, F the free energy ``-Σ_j log p_j(v)``.

        With ``w`` the posteriors, ``dF/dμ = -w (v - μ)/σ²``,
        ``dF/dlog σ = w (1 - (v - μ)²/σ²)`` and ``dF/dlogit π = π - w``; the
        sums over rows only need ``wᵀ [1, v, v²]``.
        """
        w, moments = self._terms(v) if terms is None else terms
        mu, log_sigma = self.params["mu"], self.params["log_sigma"]
        dim = mu.shape[1]
        prec = np.exp(-2.0 * log_sigma)
        m = (w.T @ moments) / len(v)  # (J, 1 + 2D): mean w, w v, w v²
        s0, s1, s2 = m[:, :1], m[:, 1 : 1 + dim], m[:, 1 + dim :]
        return {
            "mu": -(s1 - mu * s0) * prec,
            "log_sigma": s0 - (s2 - 2.0 * mu * s1 + mu * mu * s0) * prec,
            "logit_pi": expit(self.params["logit_pi"]) - s0[:, 0],
        }

    def sample_visible(self, h: np.ndarray) -> np.ndarray:
        """v | h: product of the active Gaussians per dimension, truncated to the box."""
        mu, log_sigma = self.params["mu"], self.params["log_sigma"]
        prec = np.exp(-2.0 * log_sigma)
        hf = h.astype(float)
        total = hf @ prec  # (n, D)
        active = total > 0
        safe = np.where(active, total, 1.0)
        mean = (hf @ (mu * prec)) / safe
        sd = 1.0 / np.sqrt(safe)
        u = self.rng.random(total.shape)
        # reflect so that the mean is right of the box centre, then draw the
        # left-lying standardised interval by the inverse CDF in log space
        centre, half = 0.5 * (self.low + self.high), 0.5 * (self.high - self.low)
        off = mean - centre
        dist = np.abs(off)
        lo, hi = (-half - dist) / sd, (half - dist) / sd
        log_hi = log_ndtr(hi)
        e = np.exp(log_ndtr(lo) - log_hi)
        z = np.clip(ndtri_exp(log_hi + np.log(e + u * (1.0 - e))), lo, hi)
        v = centre + (dist + z * sd) * np.copysign(1.0, off)
        v = np.where(active, v, self.low + 2.0 * half * u)
        return np.clip(v, np.nextafter(self.low, self.high), np.nextafter(self.high, self.low))

    def sweep(self, data: np.ndarray, terms=None) -> np.ndarray:
        """One Gibbs sweep from the data: h | data, then v | h."""
        w = (self._terms(data) if terms is None else terms)[0]
        return self.sample_visible(self.rng.random(w.shape) < w)

    def step(self, data: np.ndarray, negatives: np.ndarray, terms=None) -> None:
        """SGD-momentum step on <dF/dθ>_data - <dF/dθ>_negatives."""
        g_data = self.grads(data, terms)
        g_neg = self.grads(negatives)
        for k, p in self.params.items():
            vel = self.velocity[k]
            vel *= self.momentum
            vel -= self.lr * (g_data[k] - g_neg[k])
            p += vel

    def update(self, data: np.ndarray) -> None:
        """One CD-1 update (the data terms serve the sweep and the gradient)."""
        terms = self._terms(data)
        self.step(data, self.sweep(data, terms), terms)


def _pytensor_grads(experts):
    data = pt.matrix("data", dtype=pytensor.config.floatX)
    neg = pt.matrix("neg", dtype=pytensor.config.floatX)
    cost = pt.mean(experts.energy(data)) - pt.mean(experts.energy(neg))
    return pytensor.function([data, neg], pt.grad(cost, experts.params))


def _checks(experts, X: np.ndarray, res: Result) -> None:
    """Gradient of the NumPy reference against PyTensor's; its sweep against the kernel's."""
    ref = NumpyCD1(experts, 0.01, 0.9, seed=1)
    rng = np.random.default_rng(2)
    data, neg = X[:100], rng.uniform(0.05, 0.95, size=(100, 2))
    ours = dict(zip(experts.param_names, _pytensor_grads(experts)(data, neg), strict=True))
    g_d, g_n = ref.grads(data), ref.grads(neg)
    err = max(
        float(np.max(np.abs((g_d[k] - g_n[k]) - ours[k])) / (np.max(np.abs(ours[k])) + 1e-300))
        for k in ours
    )
    kernel = UniGaussKernel(experts)
    reps = 40
    mine = np.concatenate([ref.sweep(data) for _ in range(reps)])
    theirs = np.concatenate([kernel.sweep(data, rng)[0] for _ in range(reps)])
    se = np.sqrt(mine.var(0) / len(mine) + theirs.var(0) / len(theirs))
    z = float(np.max(np.abs(mine.mean(0) - theirs.mean(0)) / se))
    sd_ratio = float(np.max(np.abs(np.log(mine.std(0) / theirs.std(0)))))
    res.row(
        "check: NumPy gradient vs PyTensor `pt.grad` (fixed negatives)",
        f"max rel. error {err:.1e}",
        "must be < 1e-8",
    )
    res.row(
        "check: NumPy sweep vs `UniGaussKernel.sweep` (4000 negatives each)",
        f"mean |z| max {z:.2f}, |log sd ratio| max {sd_ratio:.3f}",
        "same distribution: z < 4, log ratio < 0.1",
    )
    if err > 1e-8 or z > 4 or sd_ratio > 0.1:
        raise AssertionError(
            f"NumPy CD reference disagrees with the package (grad err {err}, z {z}, sd {sd_ratio})"
        )


def run(quick: bool = False) -> Result:
    """Time ContrastiveDivergence.partial_fit against NumpyCD1.update."""
    res = Result(
        NAME,
        "One CD-1 update, 15 uni-gauss experts on the 24 clusters, batch 100",
        "`ContrastiveDivergence(sampler='gibbs', batch_size=100).partial_fit(batch)` "
        "(SGD, momentum 0.9) against a hand-vectorised NumPy/SciPy CD-1 update",
    )
    settings = study.StudySettings(seed=MODEL_SEED)
    X = pymc_ebm.datasets.grid_clusters(300, missing=study.MISSING, random_seed=0)
    experts = study.initial_experts(X, settings)
    _checks(experts, X, res)
    cd = pymc_ebm.ContrastiveDivergence(
        experts, sampler="gibbs", batch_size=100, learning_rate=0.01, momentum=0.9, random_seed=0
    )
    ref = NumpyCD1(experts, 0.01, 0.9, seed=0)
    batch_rng = np.random.default_rng(3)
    batches = [X[batch_rng.choice(len(X), 100, replace=False)] for _ in range(16)]
    counter = {"ours": 0, "numpy": 0}

    def ours() -> None:
        counter["ours"] += 1
        cd.partial_fit(batches[counter["ours"] % 16])

    def numpy_ref() -> None:
        counter["numpy"] += 1
        ref.update(batches[counter["numpy"] % 16])

    fns = {"ours": ours, "numpy": numpy_ref}
    # the generic path (NegativePhase through UniGaussGibbs.step), for comparison
    generic = None
    if cd.negative_phase.fast_path:
        generic = pymc_ebm.ContrastiveDivergence(
            study.initial_experts(X, settings),
            sampler="gibbs",
            batch_size=100,
            random_seed=0,
            fast_path=False,
        )
        counter["generic"] = 0

        def generic_fn() -> None:
            counter["generic"] += 1
            generic.partial_fit(batches[counter["generic"] % 16])

        fns["generic"] = generic_fn
    repeats, inner = (9, 30) if quick else (41, 50)
    times = interleaved(fns, repeats=repeats, inner=inner, warmup=20)
    ratio = paired_ratio(times["ours"], times["numpy"])
    res.row("ContrastiveDivergence.partial_fit", spread(times["ours"]), "per update")
    res.row("NumPy reference", spread(times["numpy"]), "per update")
    res.row(
        "ratio ours / NumPy",
        f"{ratio:.2f}×",
        f"median of paired repeats (ratio of the minima: "
        f"{min_ratio(times['ours'], times['numpy']):.2f}×)",
    )
    if generic is not None:
        res.row(
            "  for comparison: negatives through `UniGaussGibbs.step` (generic path)",
            spread(times["generic"]),
            f"{paired_ratio(times['generic'], times['numpy']):.2f}× NumPy",
        )
    res.checks.append(Check("time per update, ours / NumPy", ratio, TARGET, "<="))
    # where the time goes (for the report)
    phase = cd.negative_phase
    start = batches[0]
    negatives, _ = phase.run(start, 1)
    parts = interleaved(
        {
            "negative phase (`NegativePhase.run`, one sweep)": lambda: phase.run(start, 1),
            "gradients + SGD update (`partial_fit(batch, negatives)`)": lambda: cd.partial_fit(
                start, negatives
            ),
        },
        repeats=repeats,
        inner=inner,
    )
    for k, v in parts.items():
        res.row(f"  of which: {k}", fmt_time(median(v)))
    res.notes.append(
        f"Median [min – max] over {repeats} interleaved repeats of {inner} updates each; the "
        "ratio is the median of the per-repeat ratios. Both run in float64 from the same "
        "initial experts (`unigauss_clusters.initial_experts`), on batches of the 300-point data."
    )
    res.notes.append(
        "The NumPy reference reuses the hidden posteriors at the data for the sweep and the "
        "data gradient (the compiled update recomputes them). The sub-timings split "
        "`partial_fit` into the negative phase (`negative_phase.run`) and the update with given "
        "negatives (`partial_fit(batch, negatives)`: input checks, the compiled gradients and "
        "SGD step, the history record). The generic path (`fast_path=False`) is what "
        "`NegativePhase` did before it called the uni-gauss kernel directly for plain Gibbs "
        "(same draws; it converts the batch to PyMC's interval-transformed values and back "
        "around every `UniGaussGibbs.step`)."
    )
    return res
