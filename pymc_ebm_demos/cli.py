"""Command line: ``python -m pymc_ebm_demos NAME --out DIR [--quick] [--seed S] [--threads N]``.

``NAME`` is one of ``arm``, ``evaluate``, ``four-squares``, ``patches``, ``unigauss``;
the console script ``pymc-ebm-demo`` is the same command. The demos need the
``demos`` extra (``pip install 'pymc-ebm[demos]'``). They run with one
BLAS/OpenMP thread unless ``--threads`` says otherwise: their matrix products
are small, and spinning BLAS threads on a busy machine make them many times
slower (docs/scaling.md, "Threads on a CPU").
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from pathlib import Path

from pymc_ebm.__main__ import invoked_as

__all__ = ["DEMOS", "EXTRA_MODULES", "INSTALL_HINT", "main", "missing_extras"]

DEMOS = {
    "arm": "pymc_ebm_demos.arm",
    "unigauss": "pymc_ebm_demos.unigauss_clusters",
    "four-squares": "pymc_ebm_demos.four_squares",
    "patches": "pymc_ebm_demos.natural_images",
    "evaluate": "pymc_ebm_demos.evaluate",
}

# the import names of the `demos` extra's packages
EXTRA_MODULES = ("matplotlib", "sklearn", "skimage", "threadpoolctl")
INSTALL_HINT = "pip install 'pymc-ebm[demos]'"


def missing_extras() -> list[str]:
    """The packages of the ``demos`` extra that cannot be imported (their import names)."""
    return [name for name in EXTRA_MODULES if importlib.util.find_spec(name) is None]


DESCRIPTION = """\
Run one of the demos: it trains, samples, draws its figures and writes
summary.json (every key explained under "description") into the --out
folder. The demos need the `demos` extra:

    {install}

They run with one BLAS/OpenMP thread unless --threads says otherwise: their
matrix products are small, and spinning BLAS threads on a busy machine make
them many times slower (docs/scaling.md, "Threads on a CPU")."""


def _unusable_out(out: str) -> str | None:
    """Why ``--out`` cannot be the output folder, or ``None`` when it can."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        return f"{out!r} is an existing file, not a folder"
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{out!r} cannot be created: {str(existing)!r} is a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        what = "" if existing == path else f" ({str(existing)!r}, where it would be created)"
        return f"{out!r} is not writable{what}"
    return None


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    """Parse arguments and run a demo; returns the exit status.

    ``prog`` (the name in the help and messages) defaults to how the command
    was invoked: ``pymc-ebm-demo`` for the console script, else
    ``python -m pymc_ebm_demos``. Bad arguments exit with status 2 and a
    one-line message.
    """
    prog = invoked_as("python -m pymc_ebm_demos", argv) if prog is None else prog
    parser = argparse.ArgumentParser(
        prog=prog,
        description=DESCRIPTION.format(install=INSTALL_HINT),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", choices=sorted(DEMOS), help="the demo to run")
    parser.add_argument(
        "--out",
        default="demo_output",
        help="folder for figures and summary.json, created if missing (default: %(default)s)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, seconds per demo (default: full size)"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the data, the initial parameters and the samplers, a non-negative "
        "integer (default: the demo's own, 0; recorded in summary.json)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS/OpenMP threads, fastest at 1 for the demos' small products "
        "(default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"argument --threads: must be at least 1, got {args.threads}")
    if args.seed is not None and args.seed < 0:
        parser.error(f"argument --seed: must be a non-negative integer, got {args.seed}")
    problem = _unusable_out(args.out)
    if problem is not None:
        parser.error(f"argument --out: {problem}")
    missing = missing_extras()
    if missing:
        print(
            f"{prog}: the demos need the `demos` extra, and {', '.join(missing)} "
            f"cannot be imported; install it with\n    {INSTALL_HINT}",
            file=sys.stderr,
        )
        return 1
    from threadpoolctl import threadpool_limits

    module = importlib.import_module(DEMOS[args.name])
    kwargs = {} if args.seed is None else {"seed": args.seed}
    with threadpool_limits(limits=args.threads):
        module.run(args.out, quick=args.quick, **kwargs)
    return 0
