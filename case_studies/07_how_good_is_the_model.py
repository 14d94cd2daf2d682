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
# # How good is the model? Learning rules compared by exact log-likelihood
#
# Contrastive divergence never computes the quantity it approximately
# climbs, the log-likelihood of the data. The lecture could only show
# fantasies and filters, and warn that shortcuts such as CD-1 or the HMC
# shortcut leave modes far from the data unpunished. In two dimensions the
# log partition function is exact by quadrature, so we can measure:
#
# 1. the held-out log-likelihood of a model, `pymc_ebm.log_partition(energy,
#    "quadrature")` and `pymc_ebm.log_likelihood`;
# 2. the exact maximum-likelihood gradient, whose model term
#    $\langle \partial E / \partial \theta \rangle_p$ is a sum over the
#    quadrature grid weighted by the normalised density
#    (`pymc_ebm.training.exact_gradient`), checked against finite
#    differences of the exact log-likelihood;
# 3. learning curves of held-out log-likelihood for CD-1, CD-10, persistent
#    CD, the HMC shortcut, online HMC and maximum likelihood, on the 24
#    clusters (15 uni-gauss experts) and the four squares (`MLPEnergy`), over
#    three seeds;
# 4. which rule comes closest to maximum likelihood on each problem.
#
# The code is shared with `python -m pymc_ebm demo evaluate`
# (`pymc_ebm.studies.evaluate` and `evaluate_figures`). Set
# `PYMC_EBM_QUICK=1` to run at reduced size (what the test suite does: two
# seeds, 100 updates, hardly any learning); the text describes the full-size
# run (three seeds, 2000 updates per rule, about ten minutes on two cores).

# %%
import os
import time

import pandas as pd
from IPython.display import Image, display

import pymc_ebm
from pymc_ebm.studies import evaluate as study
from pymc_ebm.training.exact_gradient import log_likelihood_gradient

QUICK = os.environ.get("PYMC_EBM_QUICK", "") == "1"
settings = study.EvaluateSettings.quick() if QUICK else study.EvaluateSettings()
start_time = time.perf_counter()
print(f"quick={QUICK}")
print(settings)

# %% [markdown]
# ## 1. The exact held-out log-likelihood
#
# The uni-gauss experts live on the unit square, so `log_partition` with
# `method="quadrature"` sums $e^{-E}$ over the midpoints of a grid of cells.
# The clusters have a standard deviation of 0.0067; on cells of width
# $1/300$ the midpoint rule is exact for Gaussian bumps far beyond the
# digits shown (its error falls like $e^{-2\pi^2\sigma^2/h^2}$), which the
# finer grid confirms. Before any learning the experts are broad, and the
# held-out log-likelihood is near that of the uniform density on the square
# (0 nats).

# %%
problem = study.make_problem("clusters", 0, settings)
experts = problem.initial_energy()
for n_points in (150, 300, 600):
    log_z = pymc_ebm.log_partition(experts, "quadrature", n_points=n_points)
    ll = pymc_ebm.log_likelihood(experts, problem.X_test, log_z)
    print(
        f"{n_points:4d}² cells: log Z = {log_z.log_z:.6f}, "
        f"held-out {ll.mean:.4f} ± {ll.se:.4f} nats/point"
    )

# %% [markdown]
# ## 2. The exact gradient of the log-likelihood
#
# $\partial_\theta \frac1n \sum_i \log p(x_i) = -\langle \partial E/\partial
# \theta\rangle_{\text{data}} + \langle \partial E/\partial \theta
# \rangle_p$. Contrastive divergence estimates the second term from negative
# samples; on the grid it is a weighted sum with weights $e^{-E(v_c)} /
# \sum_{c'} e^{-E(v_{c'})}$. It is then the exact derivative of the
# log-likelihood whose $\log Z$ is computed on the same grid: compare it
# with central differences for a few entries of each parameter.

# %%
X_small = problem.X[:50]
exact = log_likelihood_gradient(experts, X_small, n_points=100)
start = experts.get_params()
h = 1e-5
rows = []
for name, value in start.items():
    index = (0,) * value.ndim
    values = []
    for sign in (1, -1):
        moved = value.copy()
        moved[index] += sign * h
        experts.set_params({name: moved})
        log_z = pymc_ebm.log_partition(experts, "quadrature", n_points=100)
        values.append(pymc_ebm.log_likelihood(experts, X_small, log_z).mean)
    experts.set_params(start)
    rows.append(
        {
            "parameter": f"{name}{list(index)}",
            "exact": exact[name][index],
            "finite difference": (values[0] - values[1]) / (2 * h),
        }
    )
pd.DataFrame(rows).set_index("parameter")

# %% [markdown]
# ## 3. Six learning rules, followed exactly
#
# Every rule starts from the same parameters at a given seed, sees the same
# minibatches of 100 points, and uses Adam. On the clusters, CD-k and
# persistent CD use blocked Gibbs sweeps (no mode jumps); on the squares,
# where there are no hidden states, one "step" is one HMC transition of one
# leapfrog step (Metropolis-adjusted Langevin) for CD-1 and CD-10, and one
# 10-step trajectory for persistent CD. The HMC shortcut draws the momentum
# once and follows 10 leapfrog steps from each datavector; online HMC
# follows 30 steps from the data, renewing the momentum every 5. Maximum
# likelihood uses the exact model term on a grid of 100² cells (clusters)
# or 48² (squares). Every 250 updates, the held-out log-likelihood of 2000
# new points is computed exactly.

# %%
result = study.run(".", quick=QUICK)
display(Image(filename="curves.png"))

# %% [markdown]
# The learned densities of the first seed (square root of the density, so
# that weak modes show):

# %%
display(Image(filename="densities.png"))

# %% [markdown]
# ## 4. Final held-out log-likelihood, mean ± sd over seeds
#
# The gap to maximum likelihood is paired by seed (same data and start).

# %%
table = pd.DataFrame(
    {
        (name, column): {
            study.RULE_LABELS[rule]: entry[key] for rule, entry in problem_result["rules"].items()
        }
        for name, problem_result in result["problems"].items()
        for column, key in [
            ("mean", "final_mean"),
            ("sd", "final_sd"),
            ("gap to ML", "gap_to_ml_mean"),
            ("gap sd", "gap_to_ml_sd"),
        ]
    }
)
display(table.round(3))
for name, problem_result in result["problems"].items():
    closest = study.RULE_LABELS[problem_result["closest_to_ml"]]
    print(f"{name}: closest to maximum likelihood: {closest}")

# %% [markdown]
# ## 5. What the numbers say
#
# RESULTS

# %%
print(f"total run time: {time.perf_counter() - start_time:.1f} s (quick={QUICK})")
