"""Case-study notebooks: keep the ``.ipynb`` in step with its script, and execute it.

Each case study is a jupytext "percent" script ``case_studies/NN_name.py``
paired with ``case_studies/NN_name.ipynb`` (header metadata
``formats: ipynb,py:percent``). The script is the source of truth: it is what
is reviewed and diffed; the notebook is generated from it with outputs
stripped. Executing a case study reads the script, runs it as a notebook in a
fresh ``python3`` kernel whose working directory is ``OUT/NN_name/`` and writes
the executed notebook there next to the figures it saves.

Under ``--quick`` the kernel sees ``PYMC_EBM_QUICK=1``; every case study reads
it (see :func:`quick_mode`) and shrinks its sizes so that it runs in about a
minute. This is what the test suite runs.

Command line::

    python -m pymc_ebm.notebooks [--all | NAMES...] [--execute] [--quick] [--sync]
                                 [--check] [--out DIR] [--dir DIR] [--timeout S]

This module needs the optional ``jupytext`` and ``nbclient`` packages (the
``notebooks`` extra). It is not imported by ``import pymc_ebm``, and it imports
them only inside the functions that use them.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "QUICK_ENV",
    "case_studies_dir",
    "find_notebooks",
    "main",
    "paired_differences",
    "quick_mode",
    "run_notebook",
    "sync_notebook",
]

#: Environment variable that asks a case study for reduced sizes.
QUICK_ENV = "PYMC_EBM_QUICK"

DEFAULT_OUT = "case_study_output"
DEFAULT_TIMEOUT = 1800
_INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def quick_mode() -> bool:
    """Whether a case study should run at reduced size (``PYMC_EBM_QUICK=1``).

    Case studies may call this or read the variable themselves; either way
    only the value ``"1"`` turns quick mode on.

    Returns
    -------
    bool
        ``True`` when the environment variable ``PYMC_EBM_QUICK`` is ``"1"``.

    Examples
    --------
    >>> import os
    >>> from unittest import mock
    >>> from pymc_ebm.notebooks import quick_mode
    >>> with mock.patch.dict(os.environ, {"PYMC_EBM_QUICK": "1"}):
    ...     quick_mode()
    True
    >>> with mock.patch.dict(os.environ, {"PYMC_EBM_QUICK": "0"}):
    ...     quick_mode()
    False
    """
    return os.environ.get(QUICK_ENV, "").strip() == "1"


def case_studies_dir() -> Path:
    """The ``case_studies`` folder: under the working directory, else beside the package.

    Returns
    -------
    Path
        ``./case_studies`` when it exists (the repository root, where tox runs),
        otherwise the folder next to the ``pymc_ebm`` package of a source
        checkout (which may not exist for an installed wheel).

    Examples
    --------
    >>> from pymc_ebm.notebooks import case_studies_dir
    >>> case_studies_dir().name
    'case_studies'
    """
    here = Path.cwd() / "case_studies"
    if here.is_dir():
        return here
    return Path(__file__).resolve().parents[1] / "case_studies"


def find_notebooks(
    names: Sequence[str] | None = None, directory: str | os.PathLike | None = None
) -> list[Path]:
    r"""Resolve case-study scripts by name, prefix or path.

    Parameters
    ----------
    names : sequence of str, optional
        Each a path to a ``.py`` file, a stem (``"01_mixtures_and_products"``),
        or a unique prefix of one (``"01"``). ``None`` means all of them.
    directory : path, optional
        Where the scripts live; :func:`case_studies_dir` by default.

    Returns
    -------
    list of Path
        The ``.py`` scripts, sorted by name when ``names`` is ``None``.

    Raises
    ------
    FileNotFoundError
        When a name matches no script.
    ValueError
        When a prefix matches more than one script.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pymc_ebm.notebooks import find_notebooks
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "01_first.py").write_text("# %%\n")
    >>> [p.name for p in find_notebooks(["01"], directory=folder)]
    ['01_first.py']
    """
    folder = Path(directory) if directory is not None else case_studies_dir()
    scripts = sorted(p for p in folder.glob("*.py") if not p.name.startswith("_"))
    if names is None:
        return scripts
    found = []
    for name in names:
        as_path = Path(name)
        if as_path.suffix == ".py" and as_path.is_file():
            found.append(as_path)
            continue
        stem = as_path.stem if as_path.suffix in {".py", ".ipynb"} else as_path.name
        exact = [p for p in scripts if p.stem == stem]
        matches = exact or [p for p in scripts if p.stem.startswith(stem)]
        if not matches:
            raise FileNotFoundError(f"no case study named {name!r} in {folder}")
        if len(matches) > 1:
            raise ValueError(
                f"{name!r} matches several case studies: {', '.join(p.stem for p in matches)}"
            )
        found.append(matches[0])
    return found


def _read_script(path: Path) -> Any:
    import jupytext

    return jupytext.read(path, fmt="py:percent")


def sync_notebook(path: str | os.PathLike) -> Path:
    r"""Regenerate the paired ``.ipynb`` of a percent script, without outputs.

    Cell ids are derived from the cells' contents, so that syncing again
    after an edit changes only the cells that were edited.

    Parameters
    ----------
    path : path
        The ``.py`` script.

    Returns
    -------
    Path
        The ``.ipynb`` written beside it.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pymc_ebm.notebooks import sync_notebook
    >>> script = pathlib.Path(tempfile.mkdtemp()) / "00_demo.py"
    >>> _ = script.write_text("# %% [markdown]\n# Hello\n\n# %%\nprint(1 + 1)\n")
    >>> sync_notebook(script).name
    '00_demo.ipynb'
    """
    import jupytext

    path = Path(path)
    notebook = _read_script(path)
    seen: dict[str, int] = {}
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        # ids from the content, so that a re-sync changes only the cells that changed
        digest = hashlib.sha1(f"{cell.cell_type}\n{cell.source}".encode()).hexdigest()[:8]
        seen[digest] = seen.get(digest, 0) + 1
        cell.id = digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"
    target = path.with_suffix(".ipynb")
    jupytext.write(notebook, target, fmt="ipynb")
    return target


def _cells(notebook: Any) -> list[tuple[str, str]]:
    return [
        (cell.cell_type, cell.source.strip())
        for cell in notebook.cells
        if cell.cell_type in {"code", "markdown"}
    ]


def paired_differences(path: str | os.PathLike) -> list[str]:
    r"""Differences between a percent script and its paired ``.ipynb``.

    Code and markdown cells are compared in order (sources stripped of
    surrounding blank lines); outputs and metadata are ignored.

    Parameters
    ----------
    path : path
        The ``.py`` script.

    Returns
    -------
    list of str
        Empty when the notebook is up to date, otherwise one line per problem
        (missing notebook, different number of cells, first differing cells).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pymc_ebm.notebooks import paired_differences, sync_notebook
    >>> script = pathlib.Path(tempfile.mkdtemp()) / "00_demo.py"
    >>> _ = script.write_text("# %%\nx = 1\n")
    >>> _ = sync_notebook(script)
    >>> paired_differences(script)
    []
    >>> _ = script.write_text("# %%\nx = 2\n")
    >>> paired_differences(script)
    ['cell 0 (code) differs']
    """
    import nbformat

    path = Path(path)
    target = path.with_suffix(".ipynb")
    if not target.is_file():
        return [f"{target.name} is missing"]
    ours = _cells(_read_script(path))
    theirs = _cells(nbformat.read(target, as_version=4))
    problems = []
    if len(ours) != len(theirs):
        problems.append(f"{path.name} has {len(ours)} cells, {target.name} has {len(theirs)}")
    for i, (a, b) in enumerate(zip(ours, theirs, strict=False)):
        if a != b:
            problems.append(f"cell {i} ({a[0]}) differs")
    return problems


def run_notebook(
    path: str | os.PathLike,
    quick: bool = False,
    out_dir: str | os.PathLike | None = None,
    *,
    timeout: int = DEFAULT_TIMEOUT,
    kernel_name: str = "python3",
) -> Path:
    r"""Execute a case-study script as a notebook and save the executed copy.

    The script is read with jupytext and run by nbclient in a fresh kernel
    whose working directory is ``out_dir/<stem>/``, so the figures it saves
    land there, next to the executed ``<stem>.ipynb``. The kernel inherits the
    environment, with ``PYMC_EBM_QUICK=1`` when ``quick`` is true, and with
    matplotlib's inline backend (whatever ``MPLBACKEND`` says) so that the
    figures are shown in the executed notebook.

    Parameters
    ----------
    path : path
        The ``.py`` percent script.
    quick : bool, default False
        Run at reduced size (sets ``PYMC_EBM_QUICK=1`` for the kernel; when
        false the variable is removed, so the notebook runs at full size).
    out_dir : path, optional
        Where to write; ``case_study_output`` under the working directory by
        default.
    timeout : int, default 1800
        Seconds allowed per cell.
    kernel_name : str, default "python3"
        Jupyter kernel to run.

    Returns
    -------
    Path
        The executed notebook. It is also written when a cell fails, before
        the error propagates.

    Raises
    ------
    nbclient.exceptions.CellExecutionError
        When a cell raises.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pymc_ebm.notebooks import run_notebook
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> script = folder / "00_demo.py"
    >>> _ = script.write_text("# %%\nimport os\nprint(os.environ['PYMC_EBM_QUICK'])\n")
    >>> executed = run_notebook(script, quick=True, out_dir=folder / "out")  # doctest: +SKIP
    >>> executed.relative_to(folder).as_posix()  # doctest: +SKIP
    'out/00_demo/00_demo.ipynb'
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(path).resolve()
    work_dir = Path(out_dir if out_dir is not None else DEFAULT_OUT).resolve() / path.stem
    work_dir.mkdir(parents=True, exist_ok=True)
    notebook = _read_script(path)
    notebook.metadata["kernelspec"] = {
        "name": kernel_name,
        "display_name": f"Python 3 ({kernel_name})",
        "language": "python",
    }
    env = dict(os.environ)
    env["MPLBACKEND"] = _INLINE_BACKEND
    if quick:
        env[QUICK_ENV] = "1"
    else:
        env.pop(QUICK_ENV, None)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(work_dir)}},
    )
    executed = work_dir / f"{path.stem}.ipynb"
    try:
        client.execute(env=env, cwd=str(work_dir))
    finally:
        nbformat.write(notebook, executed)
    return executed


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pymc_ebm.notebooks",
        description="Sync, check and execute the case-study notebooks.",
    )
    parser.add_argument("names", nargs="*", help="case studies by stem, prefix or path")
    parser.add_argument("--all", action="store_true", help="every case_studies/*.py")
    parser.add_argument("--sync", action="store_true", help="regenerate each .ipynb from its .py")
    parser.add_argument(
        "--check", action="store_true", help="fail when an .ipynb is stale or missing"
    )
    parser.add_argument("--execute", action="store_true", help="run each notebook")
    parser.add_argument("--quick", action="store_true", help=f"set {QUICK_ENV}=1 (reduced sizes)")
    parser.add_argument(
        "--out", default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--dir", default=None, help="folder of the scripts (default: case_studies)"
    )
    parser.add_argument(
        "--timeout", type=int, default=DEFAULT_TIMEOUT, help="seconds allowed per cell"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    r"""Command-line entry point; returns the exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; ``sys.argv[1:]`` by default.

    Returns
    -------
    int
        0 on success, 1 when a notebook failed or is stale, 2 on usage errors.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from pymc_ebm.notebooks import main
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "00_demo.py").write_text("# %%\nx = 1\n")
    >>> main(["--all", "--sync", "--check", "--dir", str(folder)])
    synced 00_demo.ipynb
    ok 00_demo.ipynb is up to date
    0
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if args.all == bool(args.names):
        parser.error("name the case studies or pass --all (not both)")
    if not (args.sync or args.check or args.execute):
        parser.error("nothing to do: pass --sync, --check and/or --execute")
    try:
        scripts = find_notebooks(None if args.all else args.names, directory=args.dir)
    except (FileNotFoundError, ValueError) as err:
        parser.error(str(err))
    if not scripts:
        print("no case studies found", file=sys.stderr)
        return 1

    failed = []
    for script in scripts:
        if args.sync:
            print(f"synced {sync_notebook(script).name}", flush=True)
        if args.check:
            problems = paired_differences(script)
            for problem in problems:
                print(f"stale {script.stem}: {problem}", file=sys.stderr)
            if problems:
                failed.append(script.stem)
            else:
                print(f"ok {script.with_suffix('.ipynb').name} is up to date", flush=True)
        if args.execute:
            start = time.perf_counter()
            mode = "quick" if args.quick else "full size"
            print(f"executing {script.name} ({mode}) ...", flush=True)
            try:
                executed = run_notebook(
                    script, quick=args.quick, out_dir=args.out, timeout=args.timeout
                )
            except Exception as err:  # report every notebook, fail at the end
                print(f"FAILED {script.name}: {type(err).__name__}: {err}", file=sys.stderr)
                failed.append(script.stem)
                continue
            elapsed = time.perf_counter() - start
            print(f"  wrote {executed} in {elapsed:.1f} s", flush=True)
    if failed:
        print(f"failed: {', '.join(dict.fromkeys(failed))}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
