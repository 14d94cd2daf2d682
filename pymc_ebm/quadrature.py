"""Old path of :mod:`pymc_ebm.evaluation.quadrature`, kept for one release (importing it warns)."""

import warnings

from pymc_ebm.evaluation.quadrature import *  # noqa: F403
from pymc_ebm.evaluation.quadrature import __all__  # noqa: F401

warnings.warn(
    "pymc_ebm.quadrature moved to pymc_ebm.evaluation.quadrature; "
    "the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
