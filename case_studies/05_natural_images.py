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
# # Constraints learned from natural images
#
# The lecture's largest experiment: a product of Student-t experts learns
# the constraints that natural image patches frequently, approximately
# satisfy. The patches are 16×16 grey squares cut from photographs that
# scikit-image ships in its wheel, with each patch's mean removed and
# PCA-whitened (255 components). 768 experts (3× over-complete) are trained
# by contrastive divergence whose negatives start at the data, get one
# random momentum and follow 30 leapfrog steps (the HMC shortcut,
# `ShortRunHMC`), one update every 100 patches, a little weight decay,
# float32. The learned filters are judged by a Gabor fit in pixel space and
# by the kurtosis of their outputs on held-out patches, next to
# scikit-learn's `FastICA` on the same whitened patches.
#
# The code is shared with `python -m pymc_ebm_demos patches`
# (`pymc_ebm_demos.natural_images`). Set `PYMC_EBM_QUICK=1` to run at tiny
# size (6×6 patches, 64 experts, 120 updates: what the test suite does);
# the quick filters are far from Gabors, and the text describes what the
# full-size recipe is for.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display

from pymc_ebm.evaluation.gabor import fit_gabor, gabor
from pymc_ebm_demos import natural_images as study
from pymc_ebm_demos import natural_images_figures as figures

QUICK = os.environ.get("PYMC_EBM_QUICK", "") == "1"
settings = study.StudySettings.quick() if QUICK else study.StudySettings()
print(f"quick={QUICK}")
print(settings)


def show(path: str) -> None:
    """Show a PNG that a study function wrote to the working directory."""
    display(Image(filename=path))


# %% [markdown]
# ## 1. Whitened patches
#
# `load_patches` returns training and held-out rows and the `Whitening`
# transform; `unwhiten` maps a whitened patch back to pixels, and
# `filters_to_pixels` maps a filter on whitened data to the pixel-space
# filter that gives the same output.

# %%
X, X_test, whitening = study.load_patches(settings)
print("train", X.shape, "held out", X_test.shape, "whitening", whitening.method)
print("covariance is I:", np.allclose(X.T @ X / len(X), np.eye(X.shape[1]), atol=0.05))
raw_patches = whitening.unwhiten(X[:64])
zca_view = (X[:64] * np.sqrt(whitening.variances)) @ whitening.matrix  # y Uᵀ: ZCA pixels
fig, axes = plt.subplots(1, 2, figsize=(9, 4.5))
panels = [(raw_patches, "patches (mean removed)"), (zca_view, "whitened (ZCA view)")]
for ax, (pixels, title) in zip(axes, panels, strict=True):
    ax.imshow(figures.tile(whitening.as_images(pixels), cols=8), cmap="gray", vmin=-1, vmax=1)
    ax.set_title(title)
    ax.set_axis_off()
fig.savefig("patches.png", dpi=110, bbox_inches="tight")
plt.show()

# %% [markdown]
# ## 2. The Gabor fitter
#
# `pymc_ebm.evaluation.gabor.fit_gabor` fits position, orientation, spatial frequency,
# phase, two envelope widths and an amplitude by least squares, from the
# image's Fourier peak; R² is the share of the image's variance it explains.
# On a synthetic Gabor it recovers the parameters.

# %%
true = [5.0, 9.0, 0.7, 0.2, 1.0, 2.0, 3.0, 1.0]
params, r2 = fit_gabor(gabor((16, 16), true))
print("true  ", np.round(true, 3))
print("fitted", np.round(params, 3), f"R² = {r2:.4f}")

# %% [markdown]
# ## 3. Training the product of Student-t experts
#
# `train` renormalises the filters to unit length after every update
# (section 7 says why). The energy gap (mean energy of the negatives
# minus that of the data) hovers around zero once the negatives, 30
# leapfrog steps from the data, no longer drift away from it.

# %%
pot = study.make_energy(X.shape[1], settings)
history, train_seconds, per_update = study.train(pot, X, settings)
print(f"{settings.n_updates} updates in {train_seconds:.1f} s, {per_update:.3f} s per update")
figures.training(history, "training.png")
show("training.png")

# %% [markdown]
# ## 4. Filters, basis functions and their Gabor fits, next to FastICA
#
# The filters (what each expert measures) and the basis functions (columns
# of the pseudo-inverse, the directions the model generates along) are
# shown in pixel space. FastICA is complete: 255 filters.

# %%
W = pot.W.get_value().astype(float)
pot_quality = study.filter_quality(W, whitening, X_test)
W_ica, ica_seconds = study.fast_ica(X, settings)
ica_quality = study.filter_quality(W_ica, whitening, X_test)
figures.filters(pot_quality.pixel_filters, "filters.png", "PoT filters (pixel space)")
figures.filters(study.basis_functions(W, whitening), "basis.png", "PoT basis functions")
figures.filters(ica_quality.pixel_filters, "ica_filters.png", "FastICA filters")
show("filters.png")
show("basis.png")
show("ica_filters.png")

# %%
table = {
    "PoT": pot_quality.summary(settings.min_r2),
    "FastICA": ica_quality.summary(settings.min_r2),
}
for name, row in table.items():
    print(f"{name:8s}", {key: round(value, 3) for key, value in row.items()})
print(f"FastICA took {ica_seconds:.1f} s")

# %% [markdown]
# The distribution of the basis: Gabor centres with a segment along the
# stripes, orientations, spatial frequencies, and the R² of every fit. The
# outputs of both sets of filters are far from Gaussian (excess kurtosis
# well above 0): the constraints are sparse.

# %%
figures.gabor_distribution(
    {"PoT": pot_quality.fits, "FastICA": ica_quality.fits},
    settings.size,
    "gabor_distribution.png",
    settings.min_r2,
)
show("gabor_distribution.png")

# %% [markdown]
# ## 5. How good is the model? Held-out log-likelihood
#
# Filters that look like Gabors do not say how well a model describes the
# patches. `score_models` scores three models by their mean log density of
# the held-out patches, in nats per whitened patch (the same units for all
# three; `whitening_log_jacobian` converts to pixel space):
#
# * a Gaussian fitted to the training patches (PCA, exact);
# * the complete product of Student-t experts on FastICA's filters, each
#   `α_j` fitted by maximum likelihood given the filters; complete, so its
#   `log Z = -log|det W| + Σ_j log Z_j(α_j)` is exact
#   (`pymc_ebm.log_partition(energy, "exact")`);
# * the learned over-complete product, whose `log Z` is estimated by
#   annealed importance sampling from a Gaussian fitted to the training
#   patches (`pymc_ebm.log_partition(energy, "ais", data=X)`) and scored by
#   `pymc_ebm.log_likelihood`; its standard error includes that of `log Z`.

# %%
scores = study.score_models(pot, W_ica, X, X_test, settings)
jacobian = study.whitening_log_jacobian(whitening)
rows = [
    ("Gaussian (PCA)", "gaussian", "exact"),
    ("complete PoT on FastICA filters", "ica", "exact"),
    (f"learned PoT ({settings.n_experts} experts)", "pot", "AIS"),
]
print(f"{'model':36s} {'nats/patch':>11s} {'± se':>6s} {'pixel space':>12s}  log Z")
for label, key, how in rows:
    value, se = scores[f"log_likelihood_{key}"], scores[f"log_likelihood_{key}_se"]
    print(f"{label:36s} {value:11.2f} {se:6.2f} {value + jacobian:12.2f}  {how}")
print(
    f"AIS: log Z = {scores['log_z_pot']:.2f} ± {scores['log_z_pot_se']:.2f}, weight ESS "
    f"{scores['ais_weight_ess']:.0f} of {settings.ais_chains} chains, "
    f"{scores['ais_seconds']:.1f} s; median ICA alpha {scores['ica_alpha_median']:.2f}"
)

# %% [markdown]
# The heavy-tailed models beat the Gaussian by many nats per patch: the
# filter outputs are sparse. A weight ESS that is a small fraction of the
# chains means the AIS standard error (and `log Z`, biased down by about
# se²/2) is not to be trusted: run more temperatures
# (`StudySettings.ais_temperatures`).
#
# A mid-size run (8×8 patches, 63 whitened dimensions, 192 experts, only 400
# updates, seed 0; AIS with 256 chains and 1000 temperatures) scored, in
# nats per whitened patch on 10 000 held-out patches:
#
# | model | log-likelihood ± se | log Z |
# |---|---|---|
# | Gaussian (PCA) | −89.67 ± 0.54 | exact |
# | complete PoT on FastICA filters (63 experts) | −70.87 ± 0.51 | exact |
# | learned PoT (192 experts, 400 updates) | −74.23 ± 0.39 | 42.386 ± 0.014 (AIS, ESS 244 of 256) |
#
# (the standard errors are over held-out patches; the three models are
# scored on the same patches, so their differences are much more precise).
# After 400 updates the over-complete product is still 3.4 nats per patch
# behind the complete ICA model and 15 ahead of the Gaussian; the quick run
# above is similar. AIS agreed with the exact `log Z` of the complete
# product on FastICA's filters within its standard error at 63 and at 255
# dimensions (section 7).
#
# At full size (`python -m pymc_ebm_demos patches --seed S`, 8000 updates,
# 10 000 held-out patches, 255 whitened dimensions), seeds 0 / 1 / 2:
#
# | model | nats per whitened patch (± se over patches) |
# |---|---|
# | Gaussian (PCA) | −364.0 / −362.7 / −365.2 (± 1.6) |
# | complete PoT on FastICA filters (exact `log Z`) | −285.4 / −284.3 / −287.8 |
# | learned PoT, 768 experts (AIS `log Z` ± 0.040-0.046, weight ESS 101-107 of 128) | −285.4 / −284.5 / −287.4 (± 1.6-1.7) |
#
# The learned over-complete product scores as well as the complete ICA
# product (within 0.4 nats per patch on every seed) and about 78 nats per
# patch better than the Gaussian.

# %% [markdown]
# ## 6. Fantasies by exact Gibbs sampling
#
# A product of Student-t experts is a Gaussian scale mixture: given an
# auxiliary precision `u_j` per expert, the patch is Gaussian, and given the
# patch each `u_j` is Gamma. `pymc_ebm.StudentTGibbs` draws all the
# precisions, then the whole patch, for every row at once; `pm.sample`
# picks it by itself for a `StudentT` visible whose filters span the space
# (as here: 768 filters in 255 dimensions). The chains start at zero, far
# from the data; R-hat and ESS say whether they mixed.
#
# At full size (`python -m pymc_ebm_demos patches`, seeds 0, 1, 2) the
# fantasies mixed (R-hat max 1.031-1.035) but are far less sparse than the
# photographs: the median excess kurtosis of the learned filters' outputs is
# 0.40 on the fantasies against 19.9-20.5 on held-out patches. Each filter
# output of a 3× over-complete product is confined by many experts at once,
# and the product's samples look like smooth textured noise, not edges: the
# learned constraints describe where the data are, not how to generate them.

# %%
idata, fantasy_seconds = study.fantasies(pot, settings)
print(idata.posterior["v"].sizes, f"{fantasy_seconds:.1f} s")
print(
    {
        k: round(v, 3)
        for k, v in study.fantasy_summary(idata, pot, fantasy_seconds, X_test).items()
        if k != "fantasy_sampler"
    }
)
figures.fantasies(
    whitening.as_images(whitening.unwhiten(idata.posterior["v"].values[0, -1])),
    whitening.as_images(whitening.unwhiten(X_test[: settings.fantasy_rows])),
    "fantasies.png",
)
show("fantasies.png")

# %% [markdown]
# ## 7. How the recipe was chosen: measurements
#
# **Norm constraint.** With `renormalize` (the default) the filters (rows of
# `W`) are rescaled to unit length after every update. The Student-t energy
# has a near-degenerate scale/shape direction: longer filters with smaller
# $\alpha$ fit the data almost as well, so unconstrained CD lets the norms
# drift up and $\alpha$ down for as long as it runs, which both slows the
# learning of the filters' shapes (the effective learning rate of a direction
# falls as $1/|w|^2$) and pushes $\alpha$ towards ½, where a direction stops
# being confined. Measured on 8×8 patches (63 whitened dimensions, 192
# experts, learning rate 0.02, 1500 updates, float32, seed 0): without the
# constraint the median filter norm grew from 1 to 3.4 and the median
# $\alpha$ fell from 1.5 to 0.37 (5 % of experts below 0.17), and 65 % of the
# filters had a Gabor R² ≥ 0.8 (median R² 0.89); with it $\alpha$ settled
# around 0.8 (0.64-0.99) and 84 % of filters had R² ≥ 0.8 (median 0.88),
# against 94 % for FastICA (complete, 63 filters) on the same patches. No
# update was non-finite in either run.
#
# **Optimiser and size.** Adam (`momentum` is its β1), 6000 updates at
# `learning_rate` 0.003, then `final_updates=2000` at `final_learning_rate`
# 0.001: 8000 updates of 100 patches. At full size (255 inputs, 768 experts)
# SGD with momentum 0.9 did not learn at all at rate 0.02 (the lecture-era
# recipe that works on 8×8 patches) nor at 0.2: after 1000 updates every
# filter pointed elsewhere than at the start (median cosine 0.00-0.01) and was
# still white noise, Gabor R² median 0.12: in 255 dimensions the minibatch
# noise of the CD gradient (about 0.5 per unit filter per update) outweighs
# its drift, so the filters diffuse on the sphere. Adam scales each weight's
# step by its own gradient noise. Measured on seed 0 (Gabor fits of 96 random
# filters): Gabor R² ≥ 0.8 for 0 % after 1000 updates at rate 0.003, 50 %
# after 3000, 74 % after 4000-6000 (a plateau), then 80-81 % after 1000-2000
# updates at 0.001 (median R² 0.90-0.91) and 83 % after 2000 more at 0.0003;
# FastICA on the same patches: 89.8 % (all 255 filters, median R² 0.92). The
# filters that miss R² 0.8 are mostly checkerboards at the highest
# frequencies and filters whose faint white-noise background has not yet
# decayed.
#
# **Full size** (`python -m pymc_ebm_demos patches --seed S`, the three seeds
# run side by side on a shared 2-core machine; seeds 0 / 1 / 2):
# `gabor_r2_share` 0.836 / 0.833 / 0.832 against FastICA's 0.898 / 0.859 /
# 0.878 (median R² 0.907 / 0.907 / 0.906 against 0.919 / 0.914 / 0.920);
# `kurtosis_median` 20.5 / 20.3 / 19.9 (FastICA 22.3 / 20.8 / 20.8);
# `topographic_neighbour_ratio` 0.498 / 0.393 / 0.439, position ratio 0.626 /
# 0.619 / 0.650 (the plain PoT on its arbitrary grid: 0.98 / 0.98 / 0.99);
# `train_seconds` 420 / 418 / 420 (0.052 s per update, 0.034 s of CPU); the
# whole demo 1069 / 1058 / 1060 s of wall-clock time. In float64
# (`dtype="float64"`, seed 0, next to the test suite) the PoT trained in
# 584 s (0.072 s per update) to a Gabor share of 0.833 (median R² 0.910,
# kurtosis 20.6).
#
# **Threads.** BLAS runs on `blas_threads` threads (default 1) while training
# and scoring. One update costs about 0.04-0.08 s with one thread; with
# OpenBLAS's default two threads it took 0.46 s next to one other process and
# 1.9 s at a load average of 6 (spinning threads on busy cores), which is what
# made an earlier estimate of this size 0.76 s of CPU per update.
#
# **Scoring** (`score_models`; AIS for the learned product's `log Z`:
# `ais_chains` chains, `ais_temperatures` temperatures on the sigmoid
# schedule, `ais_leapfrog` leapfrog steps per transition). Measured with one
# BLAS thread under a load average of about 6 (with the default BLAS threads,
# the same AIS ran 14× slower on the loaded 2-core machine). On 8×8 patches
# (63 dimensions, 192 experts, 400 updates, seed 0), 128 chains: $T = 100$
# gave `log Z` ± se = 42.34 ± 0.06 (weight ESS 89, 2 s), $T = 1000$ 42.33 ±
# 0.017 (ESS 124, 8 s); on the complete product on FastICA's filters, whose
# `log Z` = 29.674 is exact, $T = 1000$ gave 29.646 ± 0.024. At full size (255
# dimensions) the complete product on FastICA's filters (exact `log Z` =
# 119.286) gave 119.24 ± 0.105 with 64 chains and $T = 1000$ (ESS 38, 51 s),
# 119.48 ± 0.26 with $T = 300$ (ESS 12). For 768 random unit filters
# ($\alpha = 0.8$) and 128 chains, $T = 1000$ gave 186.67 ± 0.062 (ESS 86,
# 159 s) and $T = 100$ 185.67 ± 0.25 (ESS 15, 8 s): a nat too low, with a
# standard error that hides it. Hence 128 chains and $T = 1000$: a standard
# error of `log Z` below 0.1 nats per patch at full size in under 3 minutes.
#
# **Intermediate check** (SGD with momentum, learning rate 0.02, 8×8
# patches, 192 experts, grid 12×16, 1500 updates, seed 0): the PoT reached a
# Gabor R² ≥ 0.8 share of 0.84 against FastICA's 0.94; the topographic PoT
# 0.77, with an orientation neighbour ratio of 0.47 and a position ratio of
# 0.63. The topographic map's own measurements are in the next case study.
