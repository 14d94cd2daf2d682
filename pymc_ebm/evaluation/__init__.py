"""How good is an energy: its log partition function, the log-likelihood of data, diagnostics.

* :func:`log_partition`: ``log Z`` by quadrature (1-D/2-D,
  :mod:`~pymc_ebm.evaluation.quadrature`), in closed form
  (:mod:`~pymc_ebm.evaluation.exact`) or by annealed importance sampling
  (:mod:`~pymc_ebm.evaluation.ais`).
* :func:`log_likelihood`: mean log density of data given ``log Z``.
* :func:`rejection_sample`: exact draws from a small discrete product of experts.
* :mod:`~pymc_ebm.evaluation.diagnostics`: ArviZ summaries of the package's samplers.
* :mod:`~pymc_ebm.evaluation.gabor`: Gabor fits and topographic smoothness of learned filters.
"""

from pymc_ebm.evaluation import diagnostics
from pymc_ebm.evaluation.likelihood import LogLikelihood, log_likelihood
from pymc_ebm.evaluation.partition import LogPartition, log_partition
from pymc_ebm.evaluation.quadrature import GridDensity, grid_density, log_partition_quadrature
from pymc_ebm.evaluation.rejection import rejection_sample

__all__ = [
    "GridDensity",
    "LogLikelihood",
    "LogPartition",
    "diagnostics",
    "grid_density",
    "log_likelihood",
    "log_partition",
    "log_partition_quadrature",
    "rejection_sample",
]
