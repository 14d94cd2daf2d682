"""pymc_ebm: energy-based models for PyMC.

Products of experts written as PyTensor energies, registered in a
``pm.Model`` as potentials so that PyMC's samplers draw from them, with
step methods and a contrastive-divergence trainer for learning.
"""

from pymc_ebm import datasets
from pymc_ebm.backends import backend, compile_kwargs, get_backend, set_backend
from pymc_ebm.energies import (
    Energy,
    FASConstraints,
    Gaussian,
    Mixture,
    MLPEnergy,
    ProductOfExperts,
    StudentT,
    TopographicStudentT,
    UniGauss,
)
from pymc_ebm.evaluation import (
    GridDensity,
    LogLikelihood,
    LogPartition,
    diagnostics,
    grid_density,
    log_likelihood,
    log_partition,
    log_partition_quadrature,
    rejection_sample,
)
from pymc_ebm.io import load, save
from pymc_ebm.model import hidden, impute, sample_fantasies, visible
from pymc_ebm.step_methods import BoxJump, ModeJump, ShortRunHMC, StudentTGibbs, UniGaussGibbs
from pymc_ebm.training import ContrastiveDivergence, ScoreMatching, TrainingDivergedError

__version__ = "0.1.0"

__all__ = [
    "BoxJump",
    "ContrastiveDivergence",
    "Energy",
    "FASConstraints",
    "Gaussian",
    "MLPEnergy",
    "GridDensity",
    "LogLikelihood",
    "LogPartition",
    "Mixture",
    "ModeJump",
    "ProductOfExperts",
    "ScoreMatching",
    "ShortRunHMC",
    "StudentT",
    "StudentTGibbs",
    "TopographicStudentT",
    "TrainingDivergedError",
    "UniGauss",
    "UniGaussGibbs",
    "backend",
    "compile_kwargs",
    "datasets",
    "diagnostics",
    "get_backend",
    "grid_density",
    "hidden",
    "impute",
    "load",
    "log_likelihood",
    "log_partition",
    "log_partition_quadrature",
    "rejection_sample",
    "sample_fantasies",
    "save",
    "set_backend",
    "visible",
]
