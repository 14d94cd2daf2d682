"""Shared helpers: result tables, interleaved timing, thread limits, machine facts."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Row:
    """One line of a result table."""

    what: str
    value: str
    note: str = ""


@dataclass
class Check:
    """A target: ``measured`` compared with ``target`` (``>=`` or ``<=``)."""

    name: str
    measured: float | None
    target: float
    op: str  # ">=" or "<="
    unit: str = "×"
    note: str = ""

    @property
    def passed(self) -> bool | None:
        if self.measured is None or not np.isfinite(self.measured):
            return None
        return self.measured >= self.target if self.op == ">=" else self.measured <= self.target

    @property
    def verdict(self) -> str:
        return {True: "**pass**", False: "**FAIL**", None: "skipped"}[self.passed]


@dataclass
class Result:
    """What one benchmark measured."""

    name: str
    title: str
    compared: str
    rows: list[Row] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    load_before: str = ""
    load_after: str = ""
    seconds: float = 0.0
    quick: bool = False

    def row(self, what: str, value: str, note: str = "") -> None:
        self.rows.append(Row(what, value, note))


def fmt_time(seconds: float) -> str:
    """Seconds as µs/ms/s with three significant digits."""
    if not np.isfinite(seconds):
        return "n/a"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def load_average() -> str:
    """``os.getloadavg()`` as a string (1, 5, 15 minutes)."""
    try:
        return "{:.2f}, {:.2f}, {:.2f}".format(*os.getloadavg())
    except OSError:
        return "n/a"


def interleaved(
    fns: dict[str, Callable[[], Any]],
    *,
    repeats: int,
    inner: dict[str, int] | int = 1,
    warmup: int = 1,
) -> dict[str, list[float]]:
    """Time every function ``repeats`` times, alternating between them.

    Each repeat calls each function ``inner`` times back to back and records
    the mean time per call; the order of the functions rotates between
    repeats so that a burst of load on the machine hits all of them alike.

    Returns
    -------
    dict
        Per function, the list of ``repeats`` mean times per call (seconds).
    """
    names = list(fns)
    counts = {n: inner if isinstance(inner, int) else inner[n] for n in names}
    for name in names:
        for _ in range(warmup):
            fns[name]()
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(repeats):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            fn, k = fns[name], counts[name]
            start = time.perf_counter()
            for _ in range(k):
                fn()
            times[name].append((time.perf_counter() - start) / k)
    return times


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sequence."""
    return float(statistics.median(values))


def paired_ratio(num: Sequence[float], den: Sequence[float]) -> float:
    """Median over repeats of ``num[i] / den[i]`` (repeats taken side by side)."""
    return median([a / b for a, b in zip(num, den, strict=True)])


def min_ratio(num: Sequence[float], den: Sequence[float]) -> float:
    """``min(num) / min(den)``: the ratio of the least-disturbed repeats."""
    return min(num) / min(den)


def spread(values: Sequence[float]) -> str:
    """``median [min – max]`` of times."""
    return f"{fmt_time(median(values))} [{fmt_time(min(values))} – {fmt_time(max(values))}]"


# -- threads ------------------------------------------------------------------


class Threads:
    """Limit BLAS/OpenMP pools (threadpoolctl) and PyTorch to ``n`` threads."""

    def __init__(self, n: int) -> None:
        self.n = n
        self._limiter = None

    def __enter__(self) -> Threads:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            self._limiter = None
        else:
            self._limiter = threadpool_limits(self.n)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._limiter is not None:
            self._limiter.restore_original_limits()


def thread_pools() -> str:
    """The native thread pools threadpoolctl sees, with their current sizes."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    pools = []
    for info in threadpool_info():
        lib = os.path.basename(info.get("filepath", "?"))
        pools.append(
            f"{info.get('internal_api')} {info.get('version') or ''} ({lib}): "
            f"{info.get('num_threads')} threads"
        )
    return "; ".join(pools) or "none found"


# -- machine facts -----------------------------------------------------------------


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (or ``platform.processor``)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions() -> dict[str, str]:
    """Versions of the libraries the benchmarks use."""
    import arviz
    import numba
    import pymc
    import pytensor
    import scipy

    import pymc_ebm

    out = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pytensor": pytensor.__version__,
        "pymc": pymc.__version__,
        "arviz": arviz.__version__,
        "numba": numba.__version__,
        "pymc_ebm": pymc_ebm.__version__,
    }
    try:
        import torch
    except ImportError:
        out["torch"] = "not installed"
    else:
        out["torch"] = torch.__version__
    return out


def machine_facts(threads: int) -> list[tuple[str, str]]:
    """(fact, value) pairs for the header of the report."""
    import pytensor

    mode = pytensor.compile.mode.get_default_mode()
    facts = [
        ("CPU", cpu_model()),
        ("logical cores", str(os.cpu_count())),
        ("platform", platform.platform()),
        ("load average at start (1, 5, 15 min)", load_average()),
        ("threads used by every implementation", str(threads)),
        ("native thread pools (threadpoolctl, while limited)", "{pools}"),
        ("PyTensor default linker", type(mode.linker).__name__),
        ("PyTensor floatX (default)", pytensor.config.floatX),
        ("PYTENSOR_FLAGS", os.environ.get("PYTENSOR_FLAGS", "")),
    ]
    facts += [(f"{name} version", v) for name, v in versions().items()]
    return facts


TORCH_MISSING = "PyTorch is not installed: its comparison is skipped (`pip install .[bench]`)."


def optional_torch(res: Result) -> Any:
    """``torch``, or ``None`` after printing and noting in ``res`` that it is skipped."""
    try:
        import torch
    except ImportError:
        print(f"   {TORCH_MISSING}", flush=True)
        res.notes.append(TORCH_MISSING)
        return None
    return torch
