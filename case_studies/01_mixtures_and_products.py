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
# # Mixtures and products of experts
#
# There are two ways to build one density out of several simple ones.
#
# * A **mixture** scales each density down by its mixing proportion and adds
#   them: $p(d) = \sum_m \pi_m\, p_m(d)$. It is easy to learn, but the result is
#   always vaguer than the sharpest part.
# * A **product of experts** (PoE) multiplies the densities at every point
#   and renormalises: $p(d) = \prod_m p_m(d) \,/\, \sum_c \prod_m p_m(c)$.
#   The result can be much sharper than any expert, at the price of a
#   normalising term that is hard to compute.
#
# In `pymc_ebm` a product is a sum of energies, $E(d) = \sum_m -\log p_m(d)$,
# and `pymc_ebm.visible` turns any energy into a PyMC variable with density
# $\propto e^{-E}$, so PyMC's own samplers draw from it without ever knowing the
# normaliser. This notebook checks that, in one and two dimensions, by comparing
# samples from `pm.sample` with densities normalised exactly on a fine grid
# (`pymc_ebm.evaluation.quadrature.grid_density`):
#
# 1. mixture vs product of the same two experts (1-D and 2-D),
# 2. the product of $M$ equal Gaussians has variance $\sigma^2/M$ on each dimension,
# 3. two uni-gauss "energy dimples": close together their product is sharper,
#    far apart it is vaguer and has two modes.
#
# Set `PYMC_EBM_QUICK=1` to run everything at reduced size (what the test suite does).

# %%
import os
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pymc as pm

import pymc_ebm
from pymc_ebm.evaluation.quadrature import grid_density

QUICK = os.environ.get("PYMC_EBM_QUICK", "") == "1"
DRAWS = 200 if QUICK else 1000  # draws per PyMC chain
TUNE = 200 if QUICK else 1000
CHAINS = 2
ROWS = 8 if QUICK else 16  # independent rows (copies) of every visible variable
GRID_1D = 400 if QUICK else 2000  # cells per dimension for exact normalisation
GRID_2D = 120 if QUICK else 400
SEED = 20130
start_time = time.perf_counter()
print(f"quick={QUICK}: {CHAINS} chains x {DRAWS} draws x {ROWS} rows per density")


# %% [markdown]
# Every density below is sampled the same way: each energy becomes a visible
# variable with `ROWS` independent rows in one `pm.Model`, and `pm.sample` runs
# NUTS on all of them at once. The variables and rows are independent under the
# model's joint density, so each one's draws still follow its own density;
# sampling them together only saves compilation time. We pass `step=pm.NUTS()`
# explicitly: uni-gauss energies may get a Gibbs step method of their own as
# default later, and here we want the same general-purpose sampler for every
# energy.


# %%
def fantasies(energies: dict, seed: int) -> dict[str, np.ndarray]:
    """Samples of every energy in ``energies``, each flattened to shape (n, dim)."""
    with pm.Model():
        for name, energy in energies.items():
            pymc_ebm.visible(name, energy, n_particles=ROWS)
        idata = pm.sample(
            draws=DRAWS,
            tune=TUNE,
            chains=CHAINS,
            cores=1,
            step=pm.NUTS(),
            random_seed=seed,
            progressbar=False,
            compute_convergence_checks=False,
        )
    return {
        name: idata.posterior[name].values.reshape(-1, energy.dim)
        for name, energy in energies.items()
    }


def grid_moments(grid) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of each dimension of a normalised grid density."""
    means, variances = [], []
    for x, marginal, edges in zip(grid.points, grid.marginals, grid.edges, strict=True):
        w = marginal * np.diff(edges)
        mean = np.sum(w * x)
        means.append(mean)
        variances.append(np.sum(w * (x - mean) ** 2))
    return np.array(means), np.array(variances)


# %% [markdown]
# ## 1. The two combination rules in one dimension
#
# Two Gaussian experts, $\mathcal N(-1, 1)$ and $\mathcal N(1.5, 0.8^2)$. The
# mixture (equal proportions) halves each density and adds the halves: it
# covers both experts and is wider than either. The product multiplies the two
# densities point by point and renormalises: it puts its mass where **both**
# experts agree, between their means, and is narrower than either
# (precisions add: $1/\sigma^2 = 1 + 1/0.64$).

# %%
expert_a = pymc_ebm.Gaussian(mu=[[-1.0]], sigma=[[1.0]])
expert_b = pymc_ebm.Gaussian(mu=[[1.5]], sigma=[[0.8]])
mixture_1d = pymc_ebm.Mixture([expert_a, expert_b], weights=[0.5, 0.5])
product_1d = expert_a * expert_b  # a ProductOfExperts: energies add

box = (-5.0, 5.0)
exact = {
    name: grid_density(energy, *box, n_points=GRID_1D)
    for name, energy in {
        "expert a": expert_a,
        "expert b": expert_b,
        "mixture": mixture_1d,
        "product": product_1d,
    }.items()
}
samples_1d = fantasies({"mixture": mixture_1d, "product": product_1d}, seed=SEED)

x = exact["mixture"].points[0]
fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
ax = axes[0]
ax.plot(x, exact["expert a"].density, "C0:", label="expert a")
ax.plot(x, exact["expert b"].density, "C1:", label="expert b")
ax.plot(x, 0.5 * exact["expert a"].density, "C0--", label="½ × expert a")
ax.plot(x, 0.5 * exact["expert b"].density, "C1--", label="½ × expert b")
ax.hist(
    samples_1d["mixture"][:, 0], bins=80, range=box, density=True, color="0.8", label="pm.sample"
)
ax.plot(x, exact["mixture"].density, "k", lw=2, label="mixture (sum of the halves)")
ax.set_title("Mixture: scale each density down and add")
ax.set_xlabel("d")
ax.set_ylabel("density")
ax.legend(fontsize=8)
ax = axes[1]
ax.plot(x, exact["expert a"].density, "C0:", label="expert a")
ax.plot(x, exact["expert b"].density, "C1:", label="expert b")
unnormalised = exact["expert a"].density * exact["expert b"].density
ax.plot(x, unnormalised, "C2--", label="a × b (not normalised)")
ax.hist(
    samples_1d["product"][:, 0], bins=80, range=box, density=True, color="0.8", label="pm.sample"
)
ax.plot(x, exact["product"].density, "k", lw=2, label="product, renormalised")
ax.set_title("Product: multiply at every point, renormalise")
ax.set_xlabel("d")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig("mixture_vs_product_1d.png", dpi=110, bbox_inches="tight")
plt.show()

# %% [markdown]
# The grey histograms are `pm.sample` draws; the black curves are the exact
# densities. The table compares their first two moments (the product's are
# also known in closed form: precision $1 + 1/0.64$, mean the
# precision-weighted average of the experts' means).

# %%
precision = 1.0 / 1.0**2 + 1.0 / 0.8**2
closed_form = {"mean": (-1.0 / 1.0 + 1.5 / 0.64) / precision, "var": 1.0 / precision}
rows = []
for name in ["expert a", "expert b", "mixture", "product"]:
    mean, var = grid_moments(exact[name])
    row = {"density": name, "exact mean": mean[0], "exact var": var[0]}
    if name in samples_1d:
        row["sample mean"] = samples_1d[name][:, 0].mean()
        row["sample var"] = samples_1d[name][:, 0].var()
    rows.append(row)
table_1d = pd.DataFrame(rows).set_index("density")
print(table_1d.round(3).to_string(na_rep="-"))
print(f"closed form, product: mean {closed_form['mean']:.3f}, var {closed_form['var']:.3f}")

# %% [markdown]
# ## 2. The same picture in two dimensions
#
# Two axis-aligned Gaussian experts, one long and thin along $x$, the other
# along $y$. Each is vague about one coordinate. The mixture is a cross: it
# keeps both experts' vagueness. The product is a small round blob where the
# two bars overlap: each expert constrains the coordinate the other is vague
# about, which is how a product of vague experts can be sharp.

# %%
expert_x = pymc_ebm.Gaussian(mu=[[0.0, 0.5]], sigma=[[2.0, 0.5]])
expert_y = pymc_ebm.Gaussian(mu=[[1.0, 0.0]], sigma=[[0.5, 2.0]])
mixture_2d = pymc_ebm.Mixture([expert_x, expert_y], weights=[0.5, 0.5])
product_2d = expert_x * expert_y

box_2d = ([-6.0, -6.0], [6.0, 6.0])
exact_2d = {
    name: grid_density(energy, *box_2d, n_points=GRID_2D)
    for name, energy in {
        "expert x": expert_x,
        "expert y": expert_y,
        "mixture": mixture_2d,
        "product": product_2d,
    }.items()
}
samples_2d = fantasies({"mixture": mixture_2d, "product": product_2d}, seed=SEED + 1)

gx, gy = exact_2d["mixture"].points
fig, axes = plt.subplots(1, 3, figsize=(14, 4.6), sharex=True, sharey=True)
ax = axes[0]
for name, color in [("expert x", "C0"), ("expert y", "C1")]:
    ax.contour(gx, gy, exact_2d[name].density.T, levels=5, colors=color)
ax.set_title("the two experts")
rng = np.random.default_rng(SEED)
for ax, name in zip(axes[1:], ["mixture", "product"], strict=True):
    pts = samples_2d[name]
    pts = pts[rng.choice(len(pts), size=min(len(pts), 2000), replace=False)]
    ax.plot(pts[:, 0], pts[:, 1], ".", color="0.6", ms=2, alpha=0.5)
    ax.contour(gx, gy, exact_2d[name].density.T, levels=6, colors="k")
    ax.set_title(f"{name}: exact contours, pm.sample draws")
for ax in axes:
    ax.set_xlim(-5, 5)
    ax.set_ylim(-5, 5)
    ax.set_aspect("equal")
    ax.set_xlabel("$d_1$")
axes[0].set_ylabel("$d_2$")
fig.tight_layout()
fig.savefig("mixture_vs_product_2d.png", dpi=110, bbox_inches="tight")
plt.show()

# %%
rows = []
for name in ["expert x", "expert y", "mixture", "product"]:
    mean, var = grid_moments(exact_2d[name])
    row = {"density": name}
    for d in range(2):
        row[f"exact var d{d + 1}"] = var[d]
        if name in samples_2d:
            row[f"sample var d{d + 1}"] = samples_2d[name][:, d].var()
    rows.append(row)
table_2d = pd.DataFrame(rows).set_index("density")
print(table_2d.round(3).to_string(na_rep="-"))

# %% [markdown]
# ## 3. How sharp is a product of $M$ equal Gaussians?
#
# Multiplying $M$ Gaussians with the same variance $\sigma^2$ adds their
# precisions, so the product is a Gaussian with variance $\sigma^2/M$ on each
# dimension. Here $\sigma = 1.5$ in two dimensions and $M = 1, 2, 4, 8$. The
# standard error of each sample variance comes from the spread of the
# variances of the independent chains (`CHAINS × ROWS` of them), and
# $z = (\text{sample} - \text{theory}) / \text{s.e.}$ should be a standard normal.

# %%
sigma = 1.5
ms = [1, 2, 4, 8]
products = {f"M{m}": pymc_ebm.Gaussian(np.zeros((m, 2)), np.full((m, 2), sigma)) for m in ms}
with pm.Model():
    for name, energy in products.items():
        pymc_ebm.visible(name, energy, n_particles=ROWS)
    idata_m = pm.sample(
        draws=DRAWS,
        tune=TUNE,
        chains=CHAINS,
        cores=1,
        step=pm.NUTS(),
        random_seed=SEED + 2,
        progressbar=False,
        compute_convergence_checks=False,
    )

rows = []
for m in ms:
    draws = idata_m.posterior[f"M{m}"].values  # (chain, draw, row, dim)
    per_chain = draws.transpose(0, 2, 1, 3).reshape(-1, DRAWS, 2)  # (chain x row, draw, dim)
    for d in range(2):
        chain_vars = per_chain[:, :, d].var(axis=1)
        var = per_chain[:, :, d].var()
        se = chain_vars.std(ddof=1) / np.sqrt(len(chain_vars))
        theory = sigma**2 / m
        rows.append(
            {
                "M": m,
                "dim": d + 1,
                "σ²/M": theory,
                "sample var": var,
                "s.e.": se,
                "ratio": var / theory,
                "z": (var - theory) / se,
            }
        )
table_m = pd.DataFrame(rows).set_index(["M", "dim"])
print(table_m.round(4).to_string(na_rep="-"))

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
ax = axes[0]
x = np.linspace(-5, 5, 400)
for i, m in enumerate(ms):
    v1 = idata_m.posterior[f"M{m}"].values[..., 0].ravel()
    ax.hist(v1, bins=60, range=(-5, 5), density=True, color=f"C{i}", alpha=0.3)
    s = sigma / np.sqrt(m)
    ax.plot(x, np.exp(-0.5 * (x / s) ** 2) / (s * np.sqrt(2 * np.pi)), f"C{i}", label=f"M = {m}")
ax.set_title("first coordinate: samples vs N(0, σ²/M)")
ax.set_xlabel("$d_1$")
ax.legend()
ax = axes[1]
per_m = table_m.groupby(level="M")
ax.errorbar(
    ms,
    per_m["sample var"].mean(),
    yerr=2 * per_m["s.e."].mean(),
    fmt="o",
    capsize=3,
    label="sample variance (mean of 2 dims, ±2 s.e.)",
)
m_line = np.geomspace(1, 8, 50)
ax.plot(m_line, sigma**2 / m_line, "k--", label="σ²/M")
ax.set_xscale("log", base=2)
ax.set_yscale("log", base=2)
ax.set_xlabel("number of experts M")
ax.set_ylabel("variance per dimension")
ax.set_title("a product of M equal Gaussians")
ax.legend()
fig.tight_layout()
fig.savefig("product_sharpening.png", dpi=110, bbox_inches="tight")
plt.show()

# %% [markdown]
# A product of Gaussians is sharper, but it is still just a Gaussian: adding
# Gaussians (a mixture) can build arbitrarily complicated densities,
# multiplying them cannot. Products need more interesting experts.
#
# ## 4. Uni-gauss experts and energy dimples
#
# A uni-gauss expert mixes a Gaussian with a uniform over the whole box,
# $p_m(x) = \pi_m \mathcal N(x; \mu_m, \sigma_m^2) + (1 - \pi_m)/r$. Its energy
# $-\log p_m$ is flat far from $\mu_m$ (the uniform) with a dimple at $\mu_m$ (the
# Gaussian). Because the floor is flat, an expert that does not care about a
# region never vetoes it. Adding the energies of two such experts:
#
# * **close dimples** overlap into one dimple deeper than either: the product
#   is *sharper* than each expert (multiplication of probabilities);
# * **far-apart dimples** stay two separate dimples, each as deep (measured
#   from the floor) as one expert's, since at each of them the other expert
#   sits on its floor: the product is *vaguer* and has two modes, like a
#   mixture (addition of probabilities).
#
# The experts live on the unit interval ($r = 1$), with $\pi = 0.5$.

# %%
configs = {
    "close": pymc_ebm.UniGauss(mu=[[0.44], [0.56]], sigma=[[0.08], [0.08]], pi=[0.5, 0.5]),
    "far": pymc_ebm.UniGauss(mu=[[0.2], [0.8]], sigma=[[0.06], [0.06]], pi=[0.5, 0.5]),
}
samples_dimples = fantasies(configs, seed=SEED + 3)
titles = {"close": "close together", "far": "far apart"}


def single_experts(energy):
    """Each uni-gauss expert of ``energy`` on its own."""
    mu, sigma_, pi = energy.mu.get_value(), energy.sigma, energy.pi
    return [pymc_ebm.UniGauss(mu[[j]], sigma_[[j]], pi[[j]]) for j in range(energy.n_experts)]


def n_modes(density: np.ndarray) -> int:
    """Number of local maxima of a density on a grid (flat steps are skipped)."""
    slope = np.sign(np.diff(density))
    slope = slope[slope != 0]
    return int(np.sum((slope[:-1] > 0) & (slope[1:] < 0)))


fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
rows = []
for col, (label, energy) in enumerate(configs.items()):
    grid = grid_density(energy, n_points=GRID_1D)
    x = grid.points[0]
    singles = [grid_density(e, n_points=GRID_1D) for e in single_experts(energy)]
    expert_energy = [-np.log(s.density) for s in singles]  # each expert is normalised
    ax = axes[0, col]
    for j, e in enumerate(expert_energy):
        ax.plot(x, e, f"C{j}:", label=f"expert {j + 1}")
    ax.plot(x, expert_energy[0] + expert_energy[1], "k", lw=2, label="sum = product's energy")
    ax.set_title(f"dimples {titles[label]}: energies")
    ax.set_ylabel("energy  $-\\log p$")
    ax.legend(fontsize=8)
    ax = axes[1, col]
    for j, s in enumerate(singles):
        ax.plot(x, s.density, f"C{j}:", label=f"expert {j + 1} alone")
    ax.hist(
        samples_dimples[label][:, 0],
        bins=60,
        range=(0, 1),
        density=True,
        color="0.8",
        label="pm.sample",
    )
    ax.plot(x, grid.density, "k", lw=2, label="product (exact)")
    ax.set_title(f"dimples {titles[label]}: densities, pm.sample histogram")
    ax.set_xlabel("x")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    _, var_product = grid_moments(grid)
    rows.append(
        {
            "dimples": label,
            "expert std": np.sqrt(grid_moments(singles[0])[1][0]),
            "product std (exact)": np.sqrt(var_product[0]),
            "product std (samples)": samples_dimples[label][:, 0].std(),
            "peak density expert": singles[0].density.max(),
            "peak density product": grid.density.max(),
            "modes of product": n_modes(grid.density),
        }
    )
fig.tight_layout()
fig.savefig("energy_dimples.png", dpi=110, bbox_inches="tight")
plt.show()

table_dimples = pd.DataFrame(rows).set_index("dimples")
print(table_dimples.round(3).to_string(na_rep="-"))

# %% [markdown]
# Close together, the product's standard deviation is well below a single
# expert's and its peak is higher: the product is sharper. Far apart, the
# product has two modes and a larger standard deviation than either expert:
# it is vaguer. One family of experts gives both behaviours, depending only on
# where the dimples sit, which is what makes uni-gauss products more expressive
# than products of plain Gaussians.
#
# In every panel the `pm.sample` histogram follows the exactly normalised curve:
# PyMC sampled $e^{-E}$ correctly without ever computing the normaliser.

# %%
print(f"total run time: {time.perf_counter() - start_time:.1f} s (quick={QUICK})")
