"""Learning energies: contrastive divergence and its optimisers."""

from pymc_ebm.training.contrastive_divergence import ContrastiveDivergence, NonFiniteUpdateError
from pymc_ebm.training.missing_inputs import Minibatch
from pymc_ebm.training.optimizers import SGD, Adam, Optimizer

__all__ = [
    "SGD",
    "Adam",
    "ContrastiveDivergence",
    "Minibatch",
    "NonFiniteUpdateError",
    "Optimizer",
]
