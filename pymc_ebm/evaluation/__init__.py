"""How good is an energy: its log partition function and the log-likelihood of data.

* :func:`log_partition`: ``log Z`` by quadrature (1-D/2-D), in closed form
  (:mod:`~pymc_ebm.evaluation.exact`) or by annealed importance sampling
  (:mod:`~pymc_ebm.evaluation.ais`).
* :func:`log_likelihood`: mean log density of data given ``log Z``.
"""

from pymc_ebm.evaluation.likelihood import LogLikelihood, log_likelihood
from pymc_ebm.evaluation.partition import LogPartition, log_partition

__all__ = ["LogLikelihood", "LogPartition", "log_likelihood", "log_partition"]
