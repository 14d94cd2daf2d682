"""Energy functions: expert families and their combinations."""

from pymc_ebm.energies.base import Energy
from pymc_ebm.energies.combine import Mixture, ProductOfExperts
from pymc_ebm.energies.constraints import FASConstraints
from pymc_ebm.energies.gaussian import Gaussian
from pymc_ebm.energies.mlp import MLPEnergy
from pymc_ebm.energies.student_t import StudentT
from pymc_ebm.energies.topographic import TopographicStudentT, torus_pooling
from pymc_ebm.energies.unigauss import UniGauss

__all__ = [
    "Energy",
    "FASConstraints",
    "Gaussian",
    "MLPEnergy",
    "Mixture",
    "ProductOfExperts",
    "StudentT",
    "TopographicStudentT",
    "UniGauss",
    "torus_pooling",
]
