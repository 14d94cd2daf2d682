"""Learning energies: the trainer scaffold, contrastive divergence and its optimisers."""

from pymc_ebm.training.contrastive_divergence import ContrastiveDivergence
from pymc_ebm.training.missing_inputs import Minibatch
from pymc_ebm.training.optimizers import SGD, Adam, Optimizer
from pymc_ebm.training.trainer import NonFiniteUpdateError, Trainer

__all__ = [
    "SGD",
    "Adam",
    "ContrastiveDivergence",
    "Minibatch",
    "NonFiniteUpdateError",
    "Optimizer",
    "Trainer",
]
