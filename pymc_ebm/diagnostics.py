"""Old path of :mod:`pymc_ebm.evaluation.diagnostics`, kept for one release (it warns)."""

import warnings

from pymc_ebm.evaluation.diagnostics import *  # noqa: F403
from pymc_ebm.evaluation.diagnostics import __all__  # noqa: F401

warnings.warn(
    "pymc_ebm.diagnostics moved to pymc_ebm.evaluation.diagnostics; "
    "the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
