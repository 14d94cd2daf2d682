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
import sys

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


def main(argv: list[str] | None = None, prog: str = "python -m pymc_ebm_demos") -> int:
    """Parse arguments and run a demo; returns the exit status."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    parser.add_argument("name", choices=sorted(DEMOS), help="the demo to run")
    parser.add_argument("--out", default="demo_output", help="folder for figures and summary.json")
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds, for tests)")
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the data, the initial parameters and the samplers "
        "(default: the study's own; recorded in summary.json)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS/OpenMP threads (default 1: fastest for the demos' small products)",
    )
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error("--threads must be at least 1")
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
