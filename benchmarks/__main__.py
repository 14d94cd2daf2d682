"""``python -m benchmarks``: run the benchmarks and rewrite ``docs/benchmarks.md``.

Options: ``--quick`` (small sizes, about a minute), ``--only NAME`` (repeatable;
the other sections of an existing report are kept), ``--threads N`` (BLAS,
OpenMP and PyTorch threads for every implementation, default 1),
``--output PATH`` (default ``docs/benchmarks.md``), ``--strict`` (exit with
status 1 when a full-size target is missed; by default a run that completes
reports its misses and exits 0), ``--device gpu|cpu`` (run only the device
benchmark, ``benchmarks/device.py``, on that device; ``gpu`` exits with
status 2 at once where neither JAX nor PyTorch sees a GPU).
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import time
from pathlib import Path

from benchmarks import BENCHMARKS, DEVICE_BENCHMARK

SECTIONS = (*BENCHMARKS, DEVICE_BENCHMARK)

ROOT = Path(__file__).resolve().parent.parent
START = "<!-- bench:{} -->"
END = "<!-- /bench:{} -->"


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    parser.add_argument(
        "--only",
        action="append",
        choices=BENCHMARKS,
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads for BLAS/OpenMP/PyTorch in every implementation (default 1)",
    )
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument(
        "--device",
        choices=("gpu", "cpu"),
        help="run only the device benchmark (JAX backend and PyTorch, float32) on this device",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit with status 1 when a full-size target is missed (default: report it, exit 0)",
    )
    return parser.parse_args(argv)


def _limit_threads_early(n: int) -> None:
    """Thread counts for native libraries, before any of them is loaded."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(n)


def _cell(text: str) -> str:
    """Text for a Markdown table cell (a literal ``|`` would end the cell)."""
    return text.replace("|", "\\|")


def _section(res, threads: int) -> str:
    size = "quick sizes (`--quick`)" if res.quick else "full size"

    def verdict(check) -> str:
        return check.verdict + (" (quick sizes)" if res.quick else "")

    lines = [
        START.format(res.name),
        f"## `{res.name}`: {res.title}",
        "",
        f"*Compared:* {res.compared}.",
        "",
        f"*Run:* {time.strftime('%Y-%m-%d %H:%M', time.localtime())}, {size}, "
        f"{threads} thread(s), {res.seconds:.0f} s; load average before "
        f"{res.load_before}, after {res.load_after}.",
        "",
        "| measured | value | notes |",
        "|---|---|---|",
    ]
    lines += [f"| {_cell(r.what)} | {_cell(r.value)} | {_cell(r.note)} |" for r in res.rows]
    lines += ["", "| target | measured | required | result | notes |", "|---|---|---|---|---|"]
    for c in res.checks:
        measured = "n/a" if c.measured is None else f"{c.measured:.3g}{c.unit}"
        lines.append(
            f"| {_cell(c.name)} | {measured} | {c.op} {c.target:g}{c.unit} | {verdict(c)} "
            f"| {_cell(c.note)} |"
        )
    if res.quick:
        res.notes.append(
            "Quick sizes only check that the benchmark runs: the targets are set for the full "
            "sizes, and small problems weigh per-call overheads more."
        )
    if res.notes:
        lines.append("")
        lines += [f"* {n}" for n in res.notes]
    lines.append(END.format(res.name))
    return "\n".join(lines)


def _header(threads: int, pools: str, facts) -> str:
    rows = "\n".join(f"| {k} | {v.replace('{pools}', pools)} |" for k, v in facts)
    return f"""# Benchmarks

Written by `python -m benchmarks` (or `tox -e bench`; options `--quick`,
`--only NAME`, `--threads N`, `--output PATH`, `--strict`; code in
`benchmarks/`); targets from DESIGN.md §4. A missed target is reported here and
at the end of the run, which still exits 0; `--strict` exits 1 on a miss.
Every figure is a ratio measured in one process on one machine, with the
implementations interleaved (so that changes in the machine's load hit all of
them alike) and repeated; times are medians over the repeats, with [min – max].
The machine below is shared, so absolute times move a lot from run to run;
the ratios much less.

`python -m benchmarks --device gpu` runs only the `device` benchmark (the
768-expert PoT draw at batch 100 and 10 000, a CD update and AIS, JAX backend
against PyTorch, float32) on a GPU, and exits with status 2 at once where
neither JAX nor PyTorch sees one; `python -m benchmarks --device cpu` runs it
on the CPU (`--quick`: small sizes, seconds). The plain run leaves it out.
No GPU was available when it was written: its section below is a CPU run.

Every implementation uses the same number of threads ({threads}; `--threads`). On a
small shared machine, multi-threaded BLAS can be far slower than one thread (its
threads wait for each other while other processes hold the cores), so one thread
is the default: on the 2-core shared VM where these benchmarks were first run
(load about 2.5), `--threads 2` made one float64 `pot_hmc` draw about 9× slower
for every implementation (ShortRunHMC 762 ms, matrix-product floor 774 ms, against
83 ms and 77 ms with one thread).

## Machine (last run)

| fact | value |
|---|---|
{rows}
"""


def _merge(path: Path, header: str, sections: dict[str, str]) -> str:
    old = path.read_text() if path.exists() else ""
    kept = {}
    for name in SECTIONS:
        m = re.search(
            re.escape(START.format(name)) + r".*?" + re.escape(END.format(name)), old, re.S
        )
        if m:
            kept[name] = m.group(0)
    kept.update(sections)
    summary = ["## Summary", "", "| benchmark | target | result |", "|---|---|---|"]
    for name in SECTIONS:
        if name not in kept:
            continue
        for line in kept[name].splitlines():
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip("|"))]
            if len(cells) == 5 and cells[3].startswith(("**pass**", "**FAIL**", "skipped")):
                summary.append(f"| `{name}` | {cells[0]}: {cells[1]} ({cells[2]}) | {cells[3]} |")
    body = "\n\n".join(kept[name] for name in SECTIONS if name in kept)
    return header + "\n" + "\n".join(summary) + "\n\n" + body + "\n"


def _benchmark(name: str):
    """The module of benchmark ``name`` (its ``run(quick=...)`` returns a ``Result``)."""
    return importlib.import_module(f"benchmarks.{name}")


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    _limit_threads_early(args.threads)
    if args.device == "cpu":
        os.environ["JAX_PLATFORMS"] = "cpu"  # before JAX is imported: the CPU even beside a GPU
    if args.device == "gpu":
        from benchmarks.device import gpu_refusal

        refusal = gpu_refusal()
        if refusal is not None:
            print(f"python -m benchmarks --device gpu: {refusal}", file=sys.stderr)
            return 2
    # load every native library first, then limit whatever pools they opened
    import numpy  # noqa: F401
    import pymc  # noqa: F401
    import scipy.linalg.cython_blas  # noqa: F401

    try:
        import torch
    except ImportError:
        torch = None
    else:
        torch.set_num_threads(args.threads)
    from benchmarks._common import Threads, load_average, machine_facts, thread_pools

    names = [DEVICE_BENCHMARK] if args.device else args.only or list(BENCHMARKS)
    sections: dict[str, str] = {}
    missed: list[str] = []
    with Threads(args.threads):
        pools = thread_pools()
        facts = machine_facts(args.threads)
        for name in names:
            module = _benchmark(name)
            print(f"== {name} ({'quick' if args.quick else 'full'}) ...", flush=True)
            before = load_average()
            started = time.perf_counter()
            kwargs = {"threads": args.threads} if name == "pot_hmc" else {}
            if name == DEVICE_BENCHMARK:
                kwargs = {"device": args.device}
            res = module.run(quick=args.quick, **kwargs)
            res.seconds = time.perf_counter() - started
            res.load_before, res.load_after, res.quick = before, load_average(), args.quick
            for row in res.rows:
                print(f"   {row.what}: {row.value}  {row.note}")
            for check in res.checks:
                measured = "n/a" if check.measured is None else f"{check.measured:.3g}{check.unit}"
                print(
                    f"   [{check.verdict.strip('*')}] {check.name}: {measured} "
                    f"(target {check.op} {check.target:g}{check.unit})"
                )
                if check.passed is False and not args.quick:
                    missed.append(
                        f"{name}: {check.name} {measured} (target {check.op} "
                        f"{check.target:g}{check.unit})"
                    )
            print(f"   ({res.seconds:.0f} s)", flush=True)
            sections[name] = _section(res, args.threads)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(_merge(args.output, _header(args.threads, pools, facts), sections))
    print(f"wrote {args.output}")
    if missed:
        print(f"{len(missed)} target(s) missed:", *(f"  {m}" for m in missed), sep="\n")
        if args.strict:
            return 1
        print("(reported only; --strict exits with status 1 on a miss)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
