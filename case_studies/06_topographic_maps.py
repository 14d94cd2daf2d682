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
# # Topographic maps of natural-image filters
#
# A topographic product of Student-t experts (Osindero, Welling and Hinton
# 2006) squares the filter outputs and pools them locally before the
# heavy-tailed penalty:
# $E(v) = \sum_i \alpha_i \log(1 + \tfrac12 \sum_j V_{ij} (w_j \cdot v)^2)$,
# with $V$ a fixed 0/1 pooling over the filters laid out on a torus
# (`torus_pooling`, 3×3 neighbourhoods). Filters that are violated
# together are cheaper in the same pool, so learning puts them next to each
# other: neighbouring filters get similar orientations and positions.
#
# The map's smoothness is measured by `pymc_ebm.evaluation.gabor.neighbour_ratios`: the
# mean orientation difference (and centre distance) of grid neighbours over
# that of all pairs; about 1 for no topography, well below 1 for a smooth
# map. A plain PoT laid out on the same grid is the control. Set
# `PYMC_EBM_QUICK=1` for the tiny size of the test suite (no map forms).

# %%
import os
from dataclasses import replace

import numpy as np
from IPython.display import Image, display

from pymc_ebm.energies import torus_pooling
from pymc_ebm.evaluation.gabor import neighbour_ratios
from pymc_ebm_demos import natural_images as study
from pymc_ebm_demos import natural_images_figures as figures

QUICK = os.environ.get("PYMC_EBM_QUICK", "") == "1"
settings = study.StudySettings.quick() if QUICK else study.StudySettings()
# the plain control on the map's grid (16×16 filters at full size)
settings = replace(settings, grid=settings.topographic_grid)
print(f"quick={QUICK}", settings)
X, X_test, whitening = study.load_patches(settings)


def show(path: str) -> None:
    """Show a PNG written to the working directory."""
    display(Image(filename=path))


# %% [markdown]
# ## 1. The pooling matrix
#
# Row $i$ of $V$ pools the 3×3 window of filters around grid position $i$,
# wrapping around the edges.

# %%
V = torus_pooling(*settings.grid, size=settings.pooling_size)
print(V.shape, "filters per pool:", set(V.sum(axis=1).tolist()))
print("pool 0 contains filters", np.flatnonzero(V[0]).tolist())

# %% [markdown]
# ## 2. Training the topographic product and the plain control

# %%
maps = {}
for name, topographic in [("topographic PoT", True), ("plain PoT (control)", False)]:
    energy = study.make_energy(X.shape[1], settings, topographic=topographic)
    _, seconds, per_update = study.train(energy, X, settings)
    quality = study.filter_quality(energy.W.get_value(), whitening, X_test)
    ratios = neighbour_ratios(quality.fits, *settings.grid, min_r2=0.5)
    maps[name] = quality
    print(f"{name}: {seconds:.1f} s ({per_update:.3f} s per update)")
    print("   ", {k: round(v, 3) for k, v in quality.summary(settings.min_r2).items()})
    print("    neighbour ratios:", {k: round(v, 3) for k, v in ratios.items()})

# %% [markdown]
# ## 3. The map: filters in their grid positions
#
# Left, the filters of the topographic product at their places on the
# torus; right, the orientation of each filter's Gabor fit (white where the
# fit explains less than half the variance).

# %%
quality = maps["topographic PoT"]
figures.topographic_map(quality.pixel_filters, quality.fits, settings.grid, "topographic_map.png")
show("topographic_map.png")
control = maps["plain PoT (control)"]
figures.topographic_map(control.pixel_filters, control.fits, settings.grid, "control_map.png")
show("control_map.png")

# %% [markdown]
# ## 4. Colour patches
#
# The same topographic product on whitened colour patches (8×8×3 at full
# size, 191 components): each filter is shown in colour at its grid position,
# and the Gabor is fitted to its luminance (the mean of the channels).

# %%

colour = replace(settings, color=True, size=4 if QUICK else 8)
Xc, Xc_test, colour_whitening = study.load_patches(colour)
colour_energy = study.make_energy(Xc.shape[1], colour, topographic=True)
_, seconds, _ = study.train(colour_energy, Xc, colour)
colour_quality = study.filter_quality(colour_energy.W.get_value(), colour_whitening, Xc_test)
print(f"colour: {Xc.shape[1]} components, {seconds:.1f} s")
print("   ", {k: round(v, 3) for k, v in colour_quality.summary(colour.min_r2).items()})
print("    neighbour ratios:", neighbour_ratios(colour_quality.fits, *colour.grid, min_r2=0.5))
figures.topographic_map(
    colour_quality.pixel_filters, colour_quality.fits, colour.grid, "colour_map.png"
)
show("colour_map.png")

# %% [markdown]
# ## 5. Measured at full size
#
# The topographic product has its own grid, `topographic_grid` (16 × 16: 256
# filters on the 255 inputs, about complete, 3 × 3 pools), trained with the
# recipe of the plain product. With 768 filters the dense pooling product
# $(v W^\top)^2 V^\top$ (768 × 768 per row) made an update cost 0.14 s against
# 0.04 s for the plain product, and learning was slower (Gabor R² median 0.23
# after 2000 updates); gathering each pool's 9 filters instead of the dense
# product was slower still under Numba (0.20 s). At full size, seed 0, 8000
# updates (0.027 s each): orientation neighbour ratio 0.46 and position ratio
# 0.60 (406 neighbour pairs of filters with R² ≥ 0.5), Gabor R² ≥ 0.8 share
# 0.51 (median R² 0.81). The demo's figures over seeds 0, 1 and 2
# (`python -m pymc_ebm_demos patches --seed S`, `topographic_neighbour_ratio`
# and `topographic_position_ratio`) are in case study 05, section 7.
