"""``python -m pymc_ebm_demos NAME --out DIR ...``: see :mod:`pymc_ebm_demos.cli`."""

import sys

from pymc_ebm_demos.cli import main

if __name__ == "__main__":
    sys.exit(main())
