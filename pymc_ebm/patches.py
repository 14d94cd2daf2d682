"""Old path of :mod:`pymc_ebm.datasets.patches`, kept for one release (importing it warns)."""

import warnings

from pymc_ebm.datasets.patches import *  # noqa: F403
from pymc_ebm.datasets.patches import __all__  # noqa: F401

warnings.warn(
    "pymc_ebm.patches moved to pymc_ebm.datasets.patches; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
