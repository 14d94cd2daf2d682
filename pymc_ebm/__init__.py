"""pymc_ebm: energy-based models for PyMC.

Products of experts written as PyTensor energies, registered in a
``pm.Model`` as potentials so that PyMC's samplers draw from them, with
step methods and a contrastive-divergence trainer for learning.
"""

from pymc_ebm import datasets
from pymc_ebm.energies import Energy, Gaussian, Mixture, ProductOfExperts, StudentT, UniGauss
from pymc_ebm.io import load, save
from pymc_ebm.model import hidden, visible
from pymc_ebm.rejection import rejection_sample
from pymc_ebm.sampling import sample_fantasies

__version__ = "0.1.0"

__all__ = [
    "Energy",
    "Gaussian",
    "Mixture",
    "ProductOfExperts",
    "StudentT",
    "UniGauss",
    "datasets",
    "hidden",
    "load",
    "rejection_sample",
    "sample_fantasies",
    "save",
    "visible",
]
