# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Four squares: deterministic hidden units and Hybrid Monte Carlo
#
# The data are points spread uniformly over four separate squares in the
# plane. The model is a small network of deterministic hidden units: each unit
# of its top layer adds its activity, times a learned scale, to a global
# energy $E(v)$, and the density is $p(v) \propto e^{-E(v)}$. There are no
# hidden states to sum out or sample, so the blocked Gibbs chain of the
# uni-gauss case study is not available. The negative samples come instead
# from Hybrid (Hamiltonian) Monte Carlo on the visibles, with the gradient
# $\partial E / \partial v$ from backpropagation.
#
# Training uses the lecture's shortcut for HMC: start at a datavector, draw a
# random momentum once, follow the dynamics for a few leapfrog steps, and
# treat the end point as the negative sample (after a Metropolis test).
#
# The notebook goes through:
#
# 1. the data (`pymc_ebm.datasets.four_squares`);
# 2. the network `pymc_ebm.MLPEnergy`, why it needs a box, and its PyMC model;
# 3. training with the HMC shortcut (`ShortRunHMC` inside
#    `ContrastiveDivergence`): energy gap, acceptance rate, step size;
# 4. the leapfrog integrator on the learned energy: reversibility, and an
#    energy error that shrinks as $\varepsilon^2$;
# 5. the learned energy landscape, unit by unit;
# 6. fantasies from `pm.sample` (NUTS), compared with the exact density, and
#    what ArviZ's diagnostics say about them;
# 7. the shortcut against the "online HMC learning procedure" and persistent
#    chains;
# 8. persistent chains with jumps between the squares, which the demo trains.
#
# The code is shared with `python -m pymc_ebm_demos four-squares`
# (`pymc_ebm_demos.four_squares` and `four_squares_figures`). Sections 3-7
# train with the lecture's HMC shortcut; the demo trains as in section 8. Set `PYMC_EBM_QUICK=1` to
# run at reduced size (what the test suite does). Quick training is far too
# short to learn the squares, so quick figures show a nearly flat energy. The
# text describes the full-size run.

# %%
import dataclasses
import os
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr
from IPython.display import Image, display
from pymc.sampling.mcmc import assign_step_methods

import pymc_ebm
from pymc_ebm.datasets import FOUR_SQUARE_CENTRES, four_squares
from pymc_ebm.evaluation.diagnostics import summary
from pymc_ebm.step_methods import compile_leapfrog
from pymc_ebm_demos import four_squares as study
from pymc_ebm_demos import four_squares_figures as figures

QUICK = os.environ.get("PYMC_EBM_QUICK", "") == "1"
settings = study.SquaresSettings.quick() if QUICK else study.SquaresSettings()
TRACK_EVERY = 25 if QUICK else 250  # updates between exact square masses during training
COMPARE_UPDATES = 100 if QUICK else 5000  # updates per method in section 7
# fantasies for the comparison of section 7: one PyMC chain, fewer draws
compare_sampling = dataclasses.replace(settings, chains=1, draws=settings.draws // 2)
start_time = time.perf_counter()
print(f"quick={QUICK}")
print(settings)


def show(path: str) -> None:
    """Show a PNG that a study function wrote to the working directory."""
    display(Image(filename=path))


# %% [markdown]
# ## 1. The data
#
# `four_squares` picks one of four squares of side 0.8, centred at
# $(\pm 1, \pm 1)$, for each point, then a position uniformly inside it. The
# squares are 1.2 apart, and everything lives in the box $[-2, 2]^2$. The
# squares are numbered like their centres in `FOUR_SQUARE_CENTRES`.

# %%
X = four_squares(settings.n_data, side=settings.side, random_seed=settings.seed)
data_metrics = study.fantasy_metrics(X, settings.side)
print(f"{len(X)} points; centres of the squares:")
for k, centre in enumerate(FOUR_SQUARE_CENTRES):
    print(
        f"  square {k} at ({centre[0]:+.0f}, {centre[1]:+.0f}): "
        f"{data_metrics['square_shares'][k]:.3f} of the points"
    )

fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.scatter(X[:, 0], X[:, 1], s=2, color="0.3")
for centre in FOUR_SQUARE_CENTRES:
    ax.add_patch(
        plt.Rectangle(centre - settings.side / 2, settings.side, settings.side, fill=False)
    )
ax.set_xlim(*study.BOX)
ax.set_ylim(*study.BOX)
ax.set_aspect("equal")
ax.set_title("data: uniform in 4 squares")
fig.savefig("data.png", dpi=110, bbox_inches="tight")
plt.show()

# %% [markdown]
# ## 2. The network
#
# `MLPEnergy(2, hidden=(32, 16))` maps a point $v$ through two layers of
# sigmoid units, $a^{(1)} = \sigma(v W_0 + b_0)$ and
# $a = \sigma(a^{(1)} W_1 + b_1)$. Each of the 16 top units $k$ contributes
# its activity times a learned scale $s_k$:
#
# $$E(v) = \sum_k s_k\, a_k(v).$$
#
# The hidden units are deterministic: given $v$, every activity is fixed. A
# unit with $s_k > 0$ raises the energy where it is active, like a violated
# constraint; a unit with $s_k < 0$ lowers it, like a familiar feature. Both
# gradients, $\partial E / \partial v$ for the dynamics and
# $\partial E / \partial \theta$ for learning, come from one backward pass
# (PyTensor's `pt.grad`).
#
# **Why a box.** Sigmoid units saturate. Far from the origin, in any
# direction, every activity tends to a constant, and so does $E$. Then
# $e^{-E}$ tends to a positive constant and its integral over the whole plane
# is infinite: there is no density to normalise. The energy is therefore
# defined on the box $[-2, 2]^2$ only. The next cell shows the flattening
# along the diagonal for the network as initialised.

# %%
net, trainer = study.make_trainer(settings)
print(f"{net.dim} visibles, hidden layers {net.hidden}, {net.n_experts} top units")
print("parameters:", {p.name: p.get_value().shape for p in net.params})
print(f"box (domain): {net.domain}")
radii = np.array([1.0, 3.0, 10.0, 100.0, 1000.0])
diagonal = radii[:, None] * np.array([[1.0, 1.0]]) / np.sqrt(2)
for r, e in zip(radii, net.energy_fn()(diagonal), strict=True):
    print(f"E at distance {r:6.0f} along the diagonal: {e:.4f}")

# %% [markdown]
# `pymc_ebm.visible` puts the energy into a PyMC model: a `pm.Uniform` on the
# box with one row per independent chain, and a `pm.Potential` holding
# $-E(v)$, one entry per row. PyMC samples the box through a log-odds
# transform (the value variable `v_interval__`), so its samplers move on an
# unbounded space. The contrastive-divergence trainer builds the same model
# with 100 rows, one per datavector of a minibatch. For fantasies, PyMC
# assigns NUTS.

# %%
with pm.Model() as model:
    v = pymc_ebm.visible("v", net, n_particles=settings.n_chains)

try:
    import graphviz  # noqa: F401

    display(pm.model_to_graphviz(model))
except ImportError:  # graphviz is optional: print the model instead
    print(model.str_repr())
for name, value in model.initial_point().items():
    print(f"value variable {name}: shape {value.shape}")
_, selected = assign_step_methods(model)
print("PyMC assigns:", {m.__name__: [var.name for var in vs] for m, vs in selected.items()})

# %% [markdown]
# ## 3. Training with the HMC shortcut
#
# The gradient of the log-likelihood of a datavector $d$ is
# $-\partial E(d)/\partial\theta + \langle \partial E(c)/\partial\theta \rangle_{p}$.
# The second term needs samples $c$ from the model. HMC gets them by adding
# a random momentum $p$ to a point $q$ and simulating a particle that slides
# on the energy surface, with Hamiltonian $H = E(q) + \tfrac12 |p|^2$. The
# gradient steers it into low-energy regions, which beats the slow diffusion
# of random-walk proposals. The dynamics are simulated with leapfrog steps
# of size $\varepsilon$, and the end of the trajectory is accepted with
# probability $\min(1, e^{-\Delta H})$, which corrects the numerical error.
#
# The shortcut skips the long run to equilibrium. Each update takes a
# minibatch of 100 datavectors, and `ShortRunHMC` gives every datavector a
# momentum once and runs 10 leapfrog steps from it, all rows in one compiled
# function. Each row gets its own Metropolis test, since every row is its own
# chain. The end points are the negatives: slight corruptions of the data,
# each paired with its datavector. Learning lowers the energy of the data and
# raises the energy of the negatives, so the particles stop sliding away.
# The parameters follow Adam with learning rate 0.01.
#
# **The step size.** The lecture says to choose $\varepsilon$ by looking at
# the reject rate. Few rejections mean the steps could be longer; many mean
# that computed trajectories are wasted. `ShortRunHMC` automates this: after
# each update, dual averaging moves $\log\varepsilon$ so that the mean
# acceptance probability approaches `target_accept = 0.65`. The trainer
# leaves this adaptation on for the whole run, so $\varepsilon$ keeps up as
# the energy changes.
#
# `study.fit_tracked` runs the trainer in blocks and, after each block,
# computes the exact mass of each square under the model (quadrature on a
# 200×200 grid of the box). We use these masses in sections 5 and 7. The
# model after `COMPARE_UPDATES` updates is kept for section 7.

# %%
step = trainer.negative_phase.step
print(
    f"negative phase: {type(step).__name__}, n_steps={step.n_steps}, "
    f"renew_momentum={step.renew_momentum}, initial step size {step.step_size:.3g}, "
    f"target_accept={step.target_accept}, per-row test: {step.per_row} ({step.n_particles} rows)"
)
train_start = time.perf_counter()
_, track_early = study.fit_tracked(trainer, X, COMPARE_UPDATES, TRACK_EVERY, settings.side)
shortcut_early = net.copy()  # a frozen copy for section 7
early_seconds = time.perf_counter() - train_start
history, track_late = study.fit_tracked(
    trainer, X, settings.n_updates - COMPARE_UPDATES, TRACK_EVERY, settings.side
)
train_seconds = time.perf_counter() - train_start
track = xr.concat([track_early, track_late], dim="update")
tail = max(1, settings.n_updates // 10)
print(
    f"{settings.n_updates} updates in {train_seconds:.1f} s "
    f"({1000 * train_seconds / settings.n_updates:.2f} ms per update, "
    f"with the exact masses every {TRACK_EVERY} updates)"
)
print(
    f"last {tail} updates: mean acceptance probability "
    f"{float(history['stat_accept'][-tail:].mean()):.3f}, fraction of rows accepted "
    f"{float(history['stat_accepted'][-tail:].mean()):.3f}, "
    f"energy gap {float(history['energy_gap'][-tail:].mean()):+.4f}"
)
print(
    f"step size: initial {settings.step_size}, largest {float(history['stat_step_size'].max()):.3f}, "
    f"final {float(history['stat_step_size'][-1]):.4f}"
)

# %%
figures.training(history, "training.png")
show("training.png")

# %% [markdown]
# **Energy gap** (left): the mean energy of the negatives minus that of the
# data. Early on it is clearly positive. The network lowers the energy of the
# data quickly, and 10 steps from a datavector lead, on average, uphill and
# out of the low regions being carved around the data. Each update then
# raises the energy where the particles went and lowers it at the data, and
# soon the gap settles just above zero. Ten steps from the data then barely
# change the energy, so the negatives look like the data, as far as these
# short runs can tell. That is the fixed point of the shortcut.
#
# **Acceptance** (middle): the mean over the 100 rows of
# $\min(1, e^{-\Delta H})$. Dual averaging holds its running mean at 0.65
# almost from the start. The single updates scatter widely, since every
# update has a new minibatch and new momenta.
#
# **Step size** (right): at first the energy is nearly flat, so long steps
# are accurate and $\varepsilon$ grows well above its initial 0.1. As the
# network builds steep walls around the squares, the same step size would
# overshoot them and be rejected, so $\varepsilon$ shrinks. `ShortRunHMC`
# steps in the log-odds space where PyMC samples the box. Near the centre of
# a square, a step of $\varepsilon$ there moves a point by about
# $0.75\,\varepsilon$ in the data space.

# %% [markdown]
# ## 4. The leapfrog integrator on the learned energy
#
# A leapfrog step updates the momentum for half a step with the gradient at
# the start, the position for a full step with that half-step momentum, and
# the momentum for the second half with the gradient at the end:
#
# $$p \leftarrow p - \tfrac{\varepsilon}{2} \nabla E(q), \qquad q \leftarrow q + \varepsilon p, \qquad p \leftarrow p - \tfrac{\varepsilon}{2} \nabla E(q).$$
#
# Using the gradient at the midpoint, rather than extrapolating from the
# start, keeps the error small. The integrator is **time-reversible**: $n$
# steps with $\varepsilon$ followed by $n$ steps with $-\varepsilon$ return
# exactly to the start (up to rounding). Its error in $H$ over a fixed
# trajectory length shrinks as $\varepsilon^2$. Both properties are what make
# the Metropolis test valid and cheap. The cell checks them on the learned
# energy, in the data space, for 200 datavectors with random momenta.
# `compile_leapfrog` compiles one step of the integrator into a NumPy-callable
# function. Each trajectory has length $T = 0.5$, so halving $\varepsilon$
# doubles the number of steps.

# %%
leapfrog_step = compile_leapfrog(lambda q: net.energy(q).sum(), n_steps=1, ndim=2)
energy_fn = net.energy_fn()
rng = np.random.default_rng(settings.seed + 3)
q0 = X[rng.choice(len(X), 200, replace=False)]
p0 = rng.standard_normal(q0.shape)


def integrate(q, p, step_size, n_steps):
    """``n_steps`` leapfrog steps of ``step_size`` for all rows at once."""
    for _ in range(n_steps):
        q, p = leapfrog_step(q, p, step_size)
    return q, p


def hamiltonian(q, p):
    """Per-row ``E(q) + |p|² / 2``."""
    return energy_fn(q) + 0.5 * (p**2).sum(axis=1)


q1, p1 = integrate(q0, p0, 0.05, 20)
q_back, p_back = integrate(q1, p1, -0.05, 20)
print(
    f"20 steps forward, 20 back: max |q_back - q0| = {np.abs(q_back - q0).max():.1e}, "
    f"max |p_back - p0| = {np.abs(p_back - p0).max():.1e} "
    f"(the particles moved up to {np.abs(q1 - q0).max():.2f})"
)
T = 0.5
step_sizes = np.array([0.1, 0.05, 0.025, 0.0125, 0.00625, 0.003125])
h0 = hamiltonian(q0, p0)
errors = np.array(
    [hamiltonian(*integrate(q0, p0, eps, round(T / eps))) - h0 for eps in step_sizes]
)  # (step size, row)
rms, median = np.sqrt((errors**2).mean(axis=1)), np.median(np.abs(errors), axis=1)
slope = np.polyfit(np.log(step_sizes[2:]), np.log(rms[2:]), 1)[0]
print(
    pd.DataFrame(
        {"steps": np.round(T / step_sizes).astype(int), "RMS ΔH": rms, "median |ΔH|": median},
        index=pd.Index(step_sizes, name="ε"),
    ).to_string(float_format=lambda x: f"{x:.3g}")
)
print(f"slope of log RMS ΔH against log ε over the four smallest ε: {slope:.2f}")

fig, ax = plt.subplots(figsize=(5, 3.8))
ax.loglog(step_sizes, rms, "o-", label="RMS ΔH")
ax.loglog(step_sizes, median, "s-", label="median |ΔH|")
ax.loglog(step_sizes, rms[-1] * (step_sizes / step_sizes[-1]) ** 2, "k--", lw=0.8, label="∝ ε²")
ax.set_xlabel("leapfrog step size ε (data space)")
ax.set_ylabel("energy error after time T = 0.5")
ax.legend(fontsize=8)
ax.set_title("leapfrog on the learned energy")
fig.savefig("leapfrog.png", dpi=110, bbox_inches="tight")
plt.show()

# %% [markdown]
# Going back recovers the start to rounding error, although the particles
# moved a long way. For small steps the error follows the $\varepsilon^2$
# line. At the largest steps it is much larger than that, with a few rows
# far above the median. Those particles hit the steep walls of the learned
# energy around the squares, where one step of 0.1 crosses a large change of
# gradient. This is why the adapted step size in section 3 shrank as the
# walls grew: the acceptance rate registers the errors of those trajectories.

# %% [markdown]
# ## 5. The learned energy landscape
#
# Left: $E(v) - \min E$ on a 200×200 grid, with white contour lines every 4
# units (low = likely). Right: the normalised density $e^{-E}/Z$, with $Z$
# from the same grid, on a log scale, and the exact probability mass of each
# square.

# %%
figures.energy_landscape(X, net, "energy.png", side=settings.side)
show("energy.png")
exact = study.exact_metrics(net, settings.side)
print(
    f"exact: {100 * exact['inside_fraction']:.1f} % of the mass inside the squares; "
    f"shares of the squares {np.round(exact['square_shares'], 3).tolist()}"
)

# %% [markdown]
# The network has learned four flat-bottomed basins with steep walls that
# line up with the edges of the squares, and high ridges along the gaps
# ($x = 0$ and $y = 0$) and the border of the box. Most of the mass lies
# inside the squares.
#
# The basins are **not equally deep**. A difference of a few units of energy
# between two squares is a factor $e^{\Delta E}$ in density, so the exact
# masses of the squares are far from the data's quarter each.
#
# This is the weak point of the shortcut that the lecture warns about. The
# negatives start at a datavector and move a short distance, so they stay in
# the square they started in. They tell learning about the shape of each
# basin, but nothing about how deep one basin is compared with another.
# Take a change of the parameters that lowers the energy of a whole square
# by a constant. It lowers the energy of that square's data and of their
# negatives equally, and both groups are the same size, so the two terms of
# the gradient cancel. The relative depths drift freely during training. The
# exact masses, tracked every `TRACK_EVERY` updates, show the drift (last
# panel of the figure in section 7).
#
# Why the particles stay in their square: along a trajectory the
# Hamiltonian $H = E + K$ is nearly conserved, so a particle can climb at
# most its starting kinetic energy $K = \tfrac12 |p|^2$. In two dimensions,
# $K$ of a fresh Gaussian momentum is exponentially distributed:
# $P(K > h) = e^{-h}$. `ridge_heights` measures the energy along the
# straight line between neighbouring centres. The barrier is the climb from
# the floor of the shallower square to the top of the ridge.

# %%
ridges = study.ridge_heights(net)
ridges["P(K > barrier)"] = np.exp(-ridges["barrier"])
print(
    ridges.to_string(float_format="{:.2f}".format, formatters={"P(K > barrier)": "{:.1e}".format})
)

# %% [markdown]
# At full size the barriers are 12 to 18 units high. A fresh momentum
# carries a particle over with probability between about $4 \cdot 10^{-6}$
# and $2 \cdot 10^{-8}$. This holds for the shortcut's negatives and for the
# NUTS fantasies of section 6 alike.
#
# The next figure shows what each of the 16 top units contributes,
# $s_k a_k(v)$, centred on its median over the box. Red marks where a unit
# adds energy, blue where it removes energy.

# %%
scales = net.scale.get_value()
figures.top_units(study.unit_energy_maps(net), scales, "units.png", side=settings.side)
show("units.png")
print(f"scales s_k: {np.sort(scales).round(2).tolist()}")

# %% [markdown]
# Most of the strong units act as constraints. Each one is a sigmoid of
# sigmoids that switches across one or two lines, and it raises the energy
# over a band: a gap between two squares, or a strip along the border of the
# box. The sign of $s_k$ alone does not say which. A unit with a negative
# scale that is active everywhere *except* in a band raises the energy of
# that band relative to everywhere else, just like a positive-scale unit
# active only in the band. Summed, the bands leave low energy only where none
# of them reaches, which is inside the squares. The basins are not made by
# four dedicated "square detectors": they are the places that escape every
# constraint.
#
# The remaining units set the depths. At full size, one lowers the energy of
# the whole left half of the box by about 5 units, which by itself makes the
# two left squares far more likely than the right ones. Another puts a bump
# on the square at $(-1, -1)$. Nothing in the shortcut's learning signal
# corrects such units, as explained above. Units whose map is nearly flat
# are saturated over the whole box: they add a constant and have practically
# dropped out.

# %% [markdown]
# ## 6. Fantasies from `pm.sample`
#
# Fantasies are samples from the trained model. `study.sample_fantasies_from_box`
# calls `pm.sample` with NUTS on the model of section 2: 4 chains, each with
# `n_chains` independent rows, every row started at a uniform random point of
# the box (`study.box_starts`). Every draw of every row is one fantasy.

# %%
sample_start = time.perf_counter()
idata = study.sample_fantasies_from_box(net, settings)
sample_seconds = time.perf_counter() - sample_start
fantasies = idata.posterior["v"].values  # (chain, draw, row, 2)
print(f"{np.prod(fantasies.shape[:-1])} fantasies in {sample_seconds:.1f} s")

figures.data_and_fantasies(X, fantasies, settings.side, "fantasies.png")
show("fantasies.png")

# %% [markdown]
# `fantasy_metrics` gives the fraction of fantasies inside the squares
# (`inside_fraction`), and how those inside split between the four squares
# (`square_shares`). `exact_metrics` gives the same two numbers for the model
# itself, by quadrature of $e^{-E}$ over a 400×400 grid.

# %%
fantasy = study.fantasy_metrics(fantasies, settings.side)
metrics = pd.DataFrame(
    {
        "fantasies (NUTS)": [fantasy["inside_fraction"], *fantasy["square_shares"]],
        "exact (quadrature)": [exact["inside_fraction"], *exact["square_shares"]],
        "data": [data_metrics["inside_fraction"], *data_metrics["square_shares"]],
    },
    index=["inside_fraction", *[f"share of square {k}" for k in range(4)]],
)
print(metrics.round(3).to_string())
diagnostics = summary(idata, var_names=["v"])
print()
print(diagnostics)

# %% [markdown]
# Almost all fantasies lie inside the squares, close to the exact
# `inside_fraction`, so the model has learned where the data are. The
# fantasies look like the data.
#
# Two numbers disagree, though. The fantasies split evenly between the
# squares, but the exact shares are very uneven (section 5). And ArviZ's
# R-hat, computed separately for each row's 2 coordinates across the 4 PyMC
# chains, is far above 1.01 for most rows. Both have the same cause:
# **NUTS rows almost never cross the gaps between the squares.** The ridges
# are 12 to 18 units high (section 5), and a NUTS trajectory, like any
# Hamiltonian trajectory, can only climb as high as its kinetic energy
# allows. During tuning each row slides into a basin, mostly the one of the
# quadrant it started in, and then stays there. A row's 4 PyMC chains start
# at 4 different points of the box and usually end in different squares.
# R-hat compares their means, which differ by 2 in $x$ or $y$, so it is
# large. Likewise the share of each square comes from where the rows started
# (each quadrant holds a quarter of the box), not from the model's exact
# masses.
#
# Inside a square, the sampler works well. `within_square_diagnostics`
# assigns every chain-row sequence that stays in one quadrant to that
# square. It then computes R-hat and bulk ESS for each square, treating the
# sequences of that square as its chains. If every sequence explores its
# whole square, they all sample the same distribution and R-hat is close to 1.

# %%
switches = study.square_switches(fantasies)
start_quadrant = study.quadrant(study.box_starts(settings))  # (chain, row)
end_quadrant = study.quadrant(fantasies[:, -1])  # (chain, row)
print(
    f"consecutive draws in different quadrants: {switches['switches_per_draw']:.2e}; "
    f"chain-row sequences that ever change quadrant: {switches['sequences_switching']:.4f}"
)
print(
    f"sequences that end in the quadrant they started in: "
    f"{np.mean(start_quadrant == end_quadrant):.3f}; rows whose 4 chains share one "
    f"quadrant: {switches['rows_one_square']:.3f}"
)
within = study.within_square_diagnostics(fantasies)
print(within.round(3).to_string())
r_hat = diagnostics.variables["r_hat"]
print(
    f"per-row R-hat (ArviZ, across the 4 PyMC chains): median {r_hat.median():.3f}, "
    f"max {r_hat.max():.3f}; {int((r_hat > 1.01).sum())} of {len(r_hat)} entries above 1.01"
)

# %%
figures.mixing(fantasies, study.quadrant(fantasies), "mixing.png", side=settings.side)
show("mixing.png")

# %% [markdown]
# Trace (left) and rank plot (right, arviz-plots: each chain's fractional
# ranks as a Δ-ECDF, near zero when the chains sample the same distribution,
# with the p-value of ArviZ's multi-chain uniformity test and the stretches
# that make it fail in black). Top: one row in the 4 PyMC chains. Each chain
# stays in one square, and the chains of the same row sit in different
# squares, which is why R-hat per row is large. At full size, 86 % of the
# sequences end in the quadrant where they started, and only 1 sequence in
# 400 changes quadrant after tuning. Bottom: four sequences from the same
# square, taken from different chains and rows and ranked as if they were
# the chains (trace: first 100 draws). They overlap, and their rank curves
# stay near zero up to noise. Within each square, R-hat is 1.00 and the
# bulk ESS per sequence is close to the number of draws (400 to 470 of 500
# at full size), so successive NUTS draws are nearly independent.
#
# So the fantasies are good samples of the model *given the square*. The
# shares of the squares are not: with these chains, they measure the
# starting points. The inside fraction is close to the exact one because each
# square holds a similar fraction of its basin's mass, but strictly it too
# mixes the squares in the wrong proportions. In two dimensions, quadrature
# gives the true shares. In higher dimensions, one would need a sampler that
# crosses the ridges, such as tempering or mode-jumping moves like those of
# the uni-gauss case study.

# %% [markdown]
# ## 7. The shortcut, the online HMC learning procedure, and persistent chains
#
# The lecture's **online HMC learning procedure** draws the negative sample
# from near-equilibrium. It starts at a datavector and runs HMC for many
# steps, renewing the momentum often. Here it uses
# `step_kwargs={"n_steps": 30, "renew_momentum": 5}`: six trajectories of 5
# leapfrog steps, each with a fresh momentum and its own Metropolis test, in
# one compiled call. **Persistent chains** (`persistent=True`, PCD) keep the
# 10-step shortcut but continue the negative chains from where the previous
# update left them, instead of restarting at the data. Over many updates
# they can wander far from the data.
#
# Each method gets `COMPARE_UPDATES` updates from the same initial network,
# with the same data, minibatches and optimiser. The shortcut's numbers are
# those of the main run after `COMPARE_UPDATES` updates. For each method we
# report the exact inside fraction and square shares (quadrature), and the
# inside fraction of NUTS fantasies from a shorter `pm.sample` run (one
# chain of `n_chains` rows, started uniformly in the box).

# %%
variants = {
    "online HMC (30 steps, momentum every 5)": {
        "step_kwargs": {"n_steps": 30, "renew_momentum": 5}
    },
    "persistent chains (10 steps)": {"persistent": True},
}
nets = {"HMC shortcut (10 steps)": shortcut_early}
tracks = {"HMC shortcut (10 steps)": track_early}
seconds = {"HMC shortcut (10 steps)": early_seconds}
histories = {"HMC shortcut (10 steps)": history.isel(update=slice(0, COMPARE_UPDATES))}
for label, kwargs in variants.items():
    variant_net, variant_trainer = study.make_trainer(settings, **kwargs)
    started = time.perf_counter()
    histories[label], tracks[label] = study.fit_tracked(
        variant_trainer, X, COMPARE_UPDATES, TRACK_EVERY, settings.side
    )
    seconds[label] = time.perf_counter() - started
    nets[label] = variant_net

rows = []
for label, variant_net in nets.items():
    variant_exact = study.exact_metrics(variant_net, settings.side)
    variant_idata = study.sample_fantasies_from_box(variant_net, compare_sampling)
    variant_fantasy = study.fantasy_metrics(variant_idata.posterior["v"].values, settings.side)
    last = histories[label].isel(update=slice(-max(1, COMPARE_UPDATES // 10), None))
    rows.append(
        {
            "method": label,
            "seconds": seconds[label],
            "inside_fraction (fantasies)": variant_fantasy["inside_fraction"],
            "inside_fraction (exact)": variant_exact["inside_fraction"],
            "largest square share (exact)": max(variant_exact["square_shares"]),
            "smallest square share (exact)": min(variant_exact["square_shares"]),
            "acceptance": float(last["stat_accept"].mean()),
            "final step size": float(last["stat_step_size"][-1]),
            "energy gap": float(last["energy_gap"].mean()),
        }
    )
comparison = pd.DataFrame(rows).set_index("method")
print(f"{COMPARE_UPDATES} updates per method (seconds include the exact masses while training)")
print(comparison.round(3).T.to_string())

# %%
tracks_shown = dict(tracks)
tracks_shown[f"HMC shortcut, all {settings.n_updates} updates"] = track
figures.square_masses(tracks_shown, "square_masses.png")
show("square_masses.png")

# %% [markdown]
# All three methods put most of the mass inside the squares after
# `COMPARE_UPDATES` updates, and the inside fractions of their fantasies
# roughly agree with the exact ones. Fantasies from NUTS started in the box cannot tell them apart
# on the other question, how the mass is split between the squares (section
# 6). The exact shares over training can, and they show three behaviours:
#
# * **HMC shortcut**: the shares start near a quarter each and then drift
#   apart slowly. Nothing pulls them back, because the negatives stay next to
#   their datavectors. Over the whole run (last panel), one square ends up
#   with most of the mass.
# * **Online HMC**: six short trajectories with fresh momenta take the
#   negatives further from the data, but once the ridges between the squares
#   are high, they still do not cross them. The shares drift as with the
#   shortcut, and each update costs about three times as many gradient
#   evaluations.
# * **Persistent chains**: the shares swing much more, with one square
#   holding most of the mass for a while and then another. Persistent chains
#   are never reset to the data. Where chains gather, learning raises the
#   energy under them, so they sit higher and can get over ridges that a
#   particle on a basin floor could not cross. This gives learning a signal
#   about the split of the mass between squares, which the shortcut lacks.
#   But with a learning rate this large, the energy changes faster than the
#   chains redistribute themselves, and the correction overshoots. The usual
#   remedy for PCD is a smaller learning rate or more sampling per update; we
#   did not tune either here.
#
# These are single runs with one seed, and the shares at one checkpoint
# depend a lot on the seed. The robust conclusions are qualitative. The
# shortcut learns the shape of each basin well and quickly. Only samples
# that move between the basins can set their relative depths, and neither
# 30 steps from the data nor persistent chains at this learning rate do that
# reliably. In two dimensions, quadrature shows the problem directly. In
# high dimensions it would go unnoticed: the fantasies look right, square by
# square.

# %% [markdown]
# ## 8. Persistent chains that jump between the squares
#
# To set the relative depths of the squares, the negative samples must move
# between them in proportion to the model's masses. `pymc_ebm.BoxJump` adds
# such moves: every row proposes a point uniformly in the box and accepts it
# with probability `min(1, exp(E(v) - E(v')))`, an independence Metropolis
# step that leaves the model's density unchanged. With the HMC shortcut's
# local moves in a `CompoundStep` (`pymc_ebm.step_methods.hmc_with_box_jumps`)
# and persistent chains, the negatives follow the model's masses across the
# squares, and learning pulls the masses towards the data's quarter each.
# This is what `study.train` (and so the demo) uses by default
# (`SquaresSettings.persistent`, `SquaresSettings.box_jumps`).

# %%
jump_net, jump_trainer = study.make_trainer(settings, persistent=True, box_jumps=True)
started = time.perf_counter()
jump_history, jump_track = study.fit_tracked(
    jump_trainer, X, COMPARE_UPDATES, TRACK_EVERY, settings.side
)
jump_exact = study.exact_metrics(jump_net, settings.side)
print(f"{COMPARE_UPDATES} updates in {time.perf_counter() - started:.1f} s")
print(f"exact inside fraction {jump_exact['inside_fraction']:.3f}")
print("exact square shares", np.round(jump_exact["square_shares"], 3))
print(f"mean box-jump acceptance {float(jump_history['stat_jump_accept'].mean()):.3f}")
figures.square_masses({"persistent chains + box jumps": jump_track}, "square_masses_jumps.png")
show("square_masses_jumps.png")

# %% [markdown]
# At full size the shares swing during the first few thousand updates, while
# the squares are still being carved out, and then settle near a quarter
# each, where the shortcut's drift apart. The demo, with 20 000 updates, ends
# with exact shares between 0.23 and 0.27 and 95 % of the mass inside the
# squares. In quick mode the network is far from trained and the numbers mean
# little.

# %% [markdown]
# ## 9. Other seeds
#
# One run says little about a recipe: the seed sets the data, the initial
# network and every sampler, and a recipe that needs a lucky seed is not a
# recipe. `study.seed_table` trains the same recipe (persistent chains with
# box jumps) again on five seeds, `python -m pymc_ebm_demos four-squares`
# does the same (`per_seed` and `seeds_meeting_target` in its
# `summary.json`; `--seed S` picks the run whose fantasies are drawn), and
# reports for each seed the exact inside fraction and square shares
# (quadrature). The target is, for every seed, at least 0.9 of the mass
# inside the squares and every share between 0.15 and 0.35. At full size
# this trains five networks (several minutes); in quick mode two, far from
# trained.
#
# Measured at full size, seeds 0-4 (exact masses): every seed meets the
# target.
#
# | seed | inside | shares |
# |---|---|---|
# | 0 | 0.933 | 0.258, 0.243, 0.262, 0.237 |
# | 1 | 0.966 | 0.259, 0.252, 0.239, 0.249 |
# | 2 | 0.947 | 0.243, 0.236, 0.259, 0.262 |
# | 3 | 0.976 | 0.252, 0.270, 0.260, 0.218 |
# | 4 | 0.967 | 0.255, 0.248, 0.258, 0.239 |
#
# The ingredient that makes this hold is the one of section 8: with the
# shortcut (chains restarted at the data) the shares drift apart, because no
# negative sample ever crosses between the squares; persistent chains with
# box jumps carry the negatives across and pull every square towards a
# quarter, whatever the seed.

# %%
per_seed = pd.DataFrame(study.seed_table(settings))
per_seed[["share 1", "share 2", "share 3", "share 4"]] = per_seed["square_shares_exact"].tolist()
print(per_seed.drop(columns="square_shares_exact").round(3).to_string(index=False))
print(f"seeds meeting the target: {int(per_seed['meets_target'].sum())} of {len(per_seed)}")

# %%
print(f"total run time: {time.perf_counter() - start_time:.1f} s (quick={QUICK})")
