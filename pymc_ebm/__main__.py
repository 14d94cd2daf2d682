"""Command line: ``python -m pymc_ebm demo NAME --out DIR [--quick] [--seed S] [--threads N]``.

``NAME`` is one of ``arm``, ``evaluate``, ``four-squares``, ``patches``, ``unigauss``.
The demos run with one BLAS/OpenMP thread unless ``--threads`` says otherwise:
their matrix products are small, and spinning BLAS threads on a busy machine
make them many times slower (docs/scaling.md, "Threads on a CPU").
"""

from __future__ import annotations

import argparse
import importlib
import sys

DEMOS = {
    "arm": "pymc_ebm.studies.arm",
    "unigauss": "pymc_ebm.studies.unigauss_clusters",
    "four-squares": "pymc_ebm.studies.four_squares",
    "patches": "pymc_ebm.studies.natural_images",
    "evaluate": "pymc_ebm.studies.evaluate",
}


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run a demo; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m pymc_ebm", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run a case study end to end")
    demo.add_argument("name", choices=sorted(DEMOS))
    demo.add_argument("--out", default="demo_output", help="folder for figures and summary.json")
    demo.add_argument("--quick", action="store_true", help="small sizes (seconds, for tests)")
    demo.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the data, the initial parameters and the samplers "
        "(default: the study's own; recorded in summary.json)",
    )
    demo.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS/OpenMP threads (default 1: fastest for the demos' small products)",
    )
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    from threadpoolctl import threadpool_limits

    module = importlib.import_module(DEMOS[args.name])
    kwargs = {} if args.seed is None else {"seed": args.seed}
    with threadpool_limits(limits=args.threads):
        module.run(args.out, quick=args.quick, **kwargs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
