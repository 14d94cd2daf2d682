import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def pytest_report_header(config):
    """Say which backend compiles the package's functions (``PYMC_EBM_BACKEND``)."""
    import pymc_ebm

    return f"pymc_ebm backend: {pymc_ebm.get_backend()}"


@pytest.fixture(autouse=True, scope="session")
def _headless_matplotlib():
    """Never open a window: plots go to the non-interactive Agg backend."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    yield


def run_python_m(
    command: str,
    replace: dict[str, object] | None = None,
    extra: Iterable[object] = (),
    timeout: float = 600,
) -> subprocess.CompletedProcess:
    """Run a documented ``python -m ...`` command line as a subprocess; fail if it fails.

    ``command`` is written as in the docs; its words found in ``replace`` are
    replaced (e.g. an output folder by a temporary one) and ``extra`` words are
    appended. It runs with this interpreter, from the repository root (so the
    checkout's packages are the ones imported, as for a fresh clone), with the
    environment of the tests (``PYTENSOR_FLAGS`` among it) and ``MPLBACKEND=Agg``.
    """
    words = shlex.split(command)
    assert words[:2] == ["python", "-m"], f"not a `python -m` command: {command!r}"
    replace = {k: str(v) for k, v in (replace or {}).items()}
    argv = [sys.executable, *(replace.get(w, w) for w in words[1:]), *map(str, extra)]
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert proc.returncode == 0, (
        f"`{shlex.join(argv)}` exited with {proc.returncode}\n"
        f"--- stdout (end) ---\n{proc.stdout[-4000:]}\n--- stderr (end) ---\n{proc.stderr[-4000:]}"
    )
    return proc


@pytest.fixture
def python_m() -> Callable[..., subprocess.CompletedProcess]:
    """:func:`run_python_m`: a documented command line, run as the docs say."""
    return run_python_m


#: PyTensor mode of the test backend: the VM linker with Python thunks only (no C
#: code to compile) and PyTensor's fast_compile rewrites.
PYTHON_VM_MODE = "PYMC_EBM_TEST_PYTHON_VM"


@pytest.fixture
def python_vm_backend(monkeypatch):
    """A third backend (Python-only VM linker), to see the backend switch work."""
    from pytensor.compile.mode import Mode, predefined_modes, register_mode
    from pytensor.link.vm import VMLinker

    from pymc_ebm import backends

    if PYTHON_VM_MODE not in predefined_modes:
        register_mode(
            PYTHON_VM_MODE, Mode(VMLinker(use_cloop=False, c_thunks=False), "fast_compile")
        )
    monkeypatch.setitem(backends.BACKENDS, "python_vm", PYTHON_VM_MODE)
    return "python_vm"
