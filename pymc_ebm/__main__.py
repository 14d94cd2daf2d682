"""``python -m pymc_ebm demo NAME ...`` has moved to ``python -m pymc_ebm_demos NAME ...``.

The demos live in their own package, ``pymc_ebm_demos``, which needs the
``demos`` extra (``pip install 'pymc-ebm[demos]'``): run them with
``python -m pymc_ebm_demos NAME --out DIR [--quick] [--seed S] [--threads N]``
or the console script ``pymc-ebm-demo``. For one release,
``python -m pymc_ebm demo NAME ...`` forwards its arguments there.
"""

from __future__ import annotations

import argparse
import importlib
import sys

INSTALL_HINT = "pip install 'pymc-ebm[demos]'"


def main(argv: list[str] | None = None) -> int:
    """Forward ``demo ARGS`` to the demos' command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "demo":
        parser = argparse.ArgumentParser(
            prog="python -m pymc_ebm",
            description=__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        commands = parser.add_subparsers(dest="command", required=True)
        commands.add_parser(
            "demo", help="moved to `python -m pymc_ebm_demos NAME ...` (forwarded there)"
        )
        parser.parse_args(argv)  # prints the help, or exits with the usage error
        return 2
    try:
        cli = importlib.import_module("pymc_ebm_demos.cli")
    except ImportError as err:
        print(
            f"python -m pymc_ebm demo: the demos cannot be imported ({err}); "
            f"install them with\n    {INSTALL_HINT}",
            file=sys.stderr,
        )
        return 1
    print(
        "note: `python -m pymc_ebm demo` has moved to `python -m pymc_ebm_demos`",
        file=sys.stderr,
    )
    return cli.main(argv[1:], prog="python -m pymc_ebm demo")


if __name__ == "__main__":
    sys.exit(main())
