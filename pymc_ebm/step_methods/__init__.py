"""Step methods for energy-based models, usable inside ``pm.sample``.

Importing this package registers :class:`UniGaussGibbs` and
:class:`StudentTGibbs` at the front of ``pymc.step_methods.STEP_METHODS``, so
``pm.sample()`` picks them for uni-gauss and Student-t models.
"""

from pymc_ebm.step_methods.box_jump import BoxJump, hmc_with_box_jumps
from pymc_ebm.step_methods.leapfrog import compile_leapfrog, leapfrog
from pymc_ebm.step_methods.mode_jump import ModeJump
from pymc_ebm.step_methods.short_run_hmc import ShortRunHMC
from pymc_ebm.step_methods.student_t_gibbs import StudentTGibbs, StudentTKernel
from pymc_ebm.step_methods.unigauss_gibbs import UniGaussGibbs, UniGaussKernel, sample_visible

__all__ = [
    "BoxJump",
    "ModeJump",
    "ShortRunHMC",
    "StudentTGibbs",
    "StudentTKernel",
    "UniGaussGibbs",
    "UniGaussKernel",
    "compile_leapfrog",
    "hmc_with_box_jumps",
    "leapfrog",
    "sample_visible",
]
