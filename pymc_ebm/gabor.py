"""Old path of :mod:`pymc_ebm.evaluation.gabor`, kept for one release (importing it warns)."""

import warnings

from pymc_ebm.evaluation.gabor import *  # noqa: F403
from pymc_ebm.evaluation.gabor import __all__  # noqa: F401

warnings.warn(
    "pymc_ebm.gabor moved to pymc_ebm.evaluation.gabor; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
