"""Learning energies: the trainer scaffold, CD, score matching, optimisers and checks."""

from pymc_ebm.training.contrastive_divergence import ContrastiveDivergence
from pymc_ebm.training.divergence import DivergenceCheck
from pymc_ebm.training.missing_inputs import Minibatch
from pymc_ebm.training.optimizers import SGD, Adam, Optimizer
from pymc_ebm.training.score_matching import ScoreMatching
from pymc_ebm.training.trainer import NonFiniteUpdateError, Trainer, TrainingDivergedError

__all__ = [
    "SGD",
    "Adam",
    "ContrastiveDivergence",
    "DivergenceCheck",
    "Minibatch",
    "NonFiniteUpdateError",
    "Optimizer",
    "ScoreMatching",
    "Trainer",
    "TrainingDivergedError",
]
