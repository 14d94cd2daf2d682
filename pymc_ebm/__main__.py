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
import os
import sys

__all__ = ["INSTALL_HINT", "invoked_as", "main"]

INSTALL_HINT = "pip install 'pymc-ebm[demos]'"

DESCRIPTION = """\
The demos have moved to their own package, pymc_ebm_demos, which needs the
`demos` extra ({install}). Run them with

    python -m pymc_ebm_demos NAME --out DIR [--quick] [--seed S] [--threads N]

or with the console script pymc-ebm-demo. For one release,

    {prog} demo NAME ...

forwards its arguments there."""


def invoked_as(default: str, argv: list[str] | None = None) -> str:
    """How the command was invoked: the console script's name, else ``default``.

    ``python -m package`` sets ``sys.argv[0]`` to the package's ``__main__.py``;
    a console script sets it to the script's path. Called with ``argv`` (a
    ``main(argv)`` from code, not from the command line), ``sys.argv`` is the
    host program's, so the answer is ``default``.
    """
    if argv is not None:
        return default
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return default if name in ("", "-c", "__main__.py") else name


def main(argv: list[str] | None = None) -> int:
    """Forward ``demo ARGS`` to the demos' command line; returns the exit status."""
    prog = invoked_as("python -m pymc_ebm", argv)
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] != "demo":
        parser = argparse.ArgumentParser(
            prog=prog,
            description=DESCRIPTION.format(install=INSTALL_HINT, prog=prog),
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
            f"{prog} demo: the demos cannot be imported ({err}); "
            f"install them with\n    {INSTALL_HINT}",
            file=sys.stderr,
        )
        return 1
    print(f"note: `{prog} demo` has moved to `python -m pymc_ebm_demos`", file=sys.stderr)
    return cli.main(argv[1:], prog=f"{prog} demo")


if __name__ == "__main__":
    sys.exit(main())
