"""Execute the case studies at full size and store the executed notebooks for the site.

Usage (``make notebooks``, ``tox -e notebooks``)::

    python docs/store_notebooks.py                  # every case study, one after another
    python docs/store_notebooks.py --only 05_natural_images

Each case study ``case_studies/NN_name.py`` (a jupytext percent script) is
read with jupytext and executed by nbclient in a fresh kernel, in a temporary
working directory, **without** ``PYMC_EBM_QUICK`` (the full size), with the
figures inline. The executed notebook is written to
``docs/executed/NN_name.ipynb``, and ``metadata["pymc_ebm"]`` records:

* ``sha256``: :func:`study_hash` of the script's text, the study's name and
  the settings that select its size (:data:`FULL_SIZE`);
* ``script``, ``study``, ``settings``: what went into the hash;
* ``executed`` (UTC time), ``commit`` (``git rev-parse HEAD``, with
  a mark when the case studies or the packages had uncommitted changes), ``run_seconds``,
  and the versions of Python, PyMC and PyTensor.

The site (``make docs``) renders these notebooks without running them, and
``tests/test_stored_notebooks.py`` checks that each recorded hash is the hash
of the current script: a stale notebook fails the test, naming the command
that regenerates it. The hash covers the study's own code, not the library:
a library change that alters the results is caught by the reduced-size run
of every case study in the test suite, not by the hash.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASE_STUDIES = ROOT / "case_studies"
STORED = ROOT / "docs" / "executed"
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
METADATA_KEY = "pymc_ebm"

#: The environment variables that select a case study's size, as the full-size run sets them
#: (``""``: unset). They are part of the hash, and removed from the kernel's environment.
FULL_SIZE: dict[str, str] = {"PYMC_EBM_QUICK": ""}

REGENERATE = "make notebooks ONLY={name}"
REGENERATE_PYTHON = "python docs/store_notebooks.py --only {name}"


def scripts(case_studies: Path = CASE_STUDIES) -> list[Path]:
    """The case-study scripts, ``NN_name.py``, in order."""
    return sorted(case_studies.glob("[0-9]*.py"))


def study_hash(script_text: str, name: str, settings: dict[str, str] | None = None) -> str:
    """sha256 of a study's script text, its name and the settings that select its size."""
    record = {
        "study": name,
        "settings": dict(sorted((FULL_SIZE if settings is None else settings).items())),
        "script": script_text,
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def script_hash(script: Path) -> str:
    """:func:`study_hash` of ``script`` as it is now, at full size."""
    return study_hash(script.read_text(encoding="utf-8"), script.stem)


def stored_path(name: str, stored: Path = STORED) -> Path:
    """Where the executed notebook of study ``name`` is stored."""
    return stored / f"{name}.ipynb"


def regenerate_command(name: str) -> str:
    """The commands that regenerate the stored notebook of study ``name``, for messages."""
    return f"`{REGENERATE.format(name=name)}` (or `{REGENERATE_PYTHON.format(name=name)}`)"


def staleness(script: Path, stored: Path = STORED) -> str | None:
    """Why the stored notebook of ``script`` does not show the current code, or ``None``."""
    import nbformat

    name = script.stem
    path = stored_path(name, stored)
    if not path.is_file():
        return f"{path.name} is not stored; run {regenerate_command(name)}"
    recorded = nbformat.read(path, as_version=4).metadata.get(METADATA_KEY, {})
    if recorded.get("sha256") != script_hash(script):
        return (
            f"{path.name} is stale: it was executed from another version of "
            f"case_studies/{script.name} or other settings (recorded hash "
            f"{str(recorded.get('sha256'))[:12]}, current {script_hash(script)[:12]}); "
            f"run {regenerate_command(name)}"
        )
    return None


def _git(*args: str) -> str:
    try:
        out = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return ""
    return out.strip()


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for package in ("pymc", "pytensor", "numpy"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            pass
    return found


def execute(script: Path, work_dir: Path, settings: dict[str, str] | None = None, timeout=None):
    """Run ``script`` as a notebook in ``work_dir`` with ``settings`` in the environment.

    A setting of ``""`` is removed from the environment. The kernel imports
    ``pymc_ebm`` from this checkout, as the tests do.
    """
    import jupytext
    from nbclient import NotebookClient

    settings = FULL_SIZE if settings is None else settings
    notebook = jupytext.read(script)
    env = dict(os.environ, MPLBACKEND=INLINE_BACKEND)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    for key, value in settings.items():
        if value:
            env[key] = value
        else:
            env.pop(key, None)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3")
    client.execute(env=env, cwd=str(work_dir))
    return notebook


def store(
    script: Path,
    stored: Path = STORED,
    settings: dict[str, str] | None = None,
    timeout: int | None = None,
) -> Path:
    """Execute ``script`` and write the executed notebook with its record; return its path."""
    import nbformat

    settings = FULL_SIZE if settings is None else settings
    text = script.read_text(encoding="utf-8")  # the code that runs, read before it runs
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"{script.stem}_") as work_dir:
        notebook = execute(script, Path(work_dir), settings, timeout=timeout)
    seconds = time.perf_counter() - start
    commit = _git("rev-parse", "HEAD")
    code = ("case_studies", "pymc_ebm", "pymc_ebm_demos")
    if commit and _git("status", "--porcelain", "--untracked-files=no", "--", *code):
        commit += " (with uncommitted changes)"
    notebook.metadata[METADATA_KEY] = {
        "sha256": study_hash(text, script.stem, settings),
        "study": script.stem,
        "script": f"case_studies/{script.name}",
        "settings": dict(sorted(settings.items())),
        "executed": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit,
        "run_seconds": round(seconds, 1),
        "versions": _versions(),
    }
    stored.mkdir(parents=True, exist_ok=True)
    path = stored_path(script.stem, stored)
    nbformat.write(notebook, path)
    return path


def main(argv: list[str] | None = None) -> int:
    """Execute the chosen case studies at full size and store them; 0 on success."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="a study, e.g. 05_natural_images (repeatable)",
    )
    parser.add_argument(
        "--stale", action="store_true", help="only the studies whose stored notebook is stale"
    )
    parser.add_argument("--case-studies", type=Path, default=CASE_STUDIES, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=STORED, help="where to write (docs/executed)")
    args = parser.parse_args(argv)
    chosen = scripts(args.case_studies)
    if args.only:
        known = {p.stem: p for p in chosen}
        unknown = [n for n in args.only if n.removesuffix(".py") not in known]
        if unknown:
            parser.error(f"no such case study: {', '.join(unknown)} (known: {', '.join(known)})")
        chosen = [known[n.removesuffix(".py")] for n in args.only]
    if args.stale:
        chosen = [p for p in chosen if staleness(p, args.out) is not None]
    failed = []
    for script in chosen:
        print(f"executing {script.name} at full size ...", flush=True)
        start = time.perf_counter()
        try:
            path = store(script, args.out)
        except Exception as err:  # a failing study is not stored; the others still run
            print(f"FAILED {script.name}: {type(err).__name__}: {err}", flush=True)
            failed.append(script.stem)
            continue
        size = path.stat().st_size / 1e6
        print(
            f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} "
            f"({time.perf_counter() - start:.0f} s, {size:.1f} MB)",
            flush=True,
        )
    if failed:
        print(f"not stored (their cells raised): {', '.join(failed)}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
