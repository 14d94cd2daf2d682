"""Every case study runs end to end at reduced size, and its .ipynb is not stale.

The case studies are jupytext percent scripts ``case_studies/NN_name.py``
paired with ``NN_name.ipynb``; ``jupytext --sync case_studies/*.py``
regenerates the notebooks and ``tox -e case-studies`` executes them at full
size. Here each script is read with jupytext and run by nbclient in a fresh
kernel, in ``tmp_path``, with ``PYMC_EBM_QUICK=1`` (reduced sizes).
"""

import os
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
pytest.importorskip("nbclient")

import nbformat  # noqa: E402  (installed with nbclient)
from jupytext.cli import jupytext as jupytext_cli  # noqa: E402
from jupytext.compare import NotebookDifference, compare_notebooks  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CASE_STUDIES = ROOT / "case_studies"
SCRIPTS = sorted(CASE_STUDIES.glob("[0-9]*.py"))
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


def execute_quick(script: Path, work_dir: Path) -> nbformat.NotebookNode:
    """Run ``script`` as a notebook in ``work_dir`` with ``PYMC_EBM_QUICK=1``, figures inline.

    The kernel imports ``pymc_ebm`` from this checkout, as the tests do.
    """
    notebook = jupytext.read(script)
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYMC_EBM_QUICK="1", MPLBACKEND=INLINE_BACKEND, PYTHONPATH=path)
    client = NotebookClient(notebook, timeout=1800, kernel_name="python3")
    client.execute(env=env, cwd=str(work_dir))
    return notebook


def stale_cells(script: Path) -> str | None:
    """How the paired ``.ipynb`` differs from the script (inputs only), or ``None``."""
    try:
        compare_notebooks(
            nbformat.read(script.with_suffix(".ipynb"), as_version=4), jupytext.read(script)
        )
    except NotebookDifference as err:
        return str(err)
    return None


def _errors(notebook: nbformat.NotebookNode) -> list[str]:
    return [
        f"{out.get('ename')}: {out.get('evalue')}"
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "error"
    ]


def _inline_figures(notebook: nbformat.NotebookNode) -> int:
    return sum(
        "image/png" in out.get("data", {})
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.outputs
    )


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_case_study_runs_quick(script: Path, tmp_path: Path) -> None:
    notebook = execute_quick(script, tmp_path)
    assert not _errors(notebook)
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert code_cells and all(c.execution_count is not None for c in code_cells)
    # figures saved to the working directory are also shown inline
    figures = sorted(tmp_path.glob("*.png"))
    assert figures and _inline_figures(notebook) >= len(figures)


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_paired_notebook_is_up_to_date(script: Path) -> None:
    problem = stale_cells(script)
    assert problem is None, (
        f"{script.with_suffix('.ipynb').name} is stale ({problem}); "
        f"run `jupytext --sync {script.relative_to(CASE_STUDIES.parent)}`"
    )
    header = nbformat.read(script.with_suffix(".ipynb"), as_version=4).metadata
    assert header["jupytext"]["formats"] == "ipynb,py:percent"


TOY = """\
# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# A toy case study.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt

print("quick", os.environ.get("PYMC_EBM_QUICK"))
print("cwd", Path.cwd().name)
import pymc_ebm

print("package", Path(pymc_ebm.__file__).parents[1])
plt.plot([0, 1], [0, 1])
plt.savefig("toy.png")
plt.show()
"""


def test_quick_run_sees_the_switch_and_shows_figures(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("MPLBACKEND", "Agg")  # replaced by the inline backend
    script = tmp_path / "00_toy.py"
    script.write_text(TOY)
    work_dir = tmp_path / "work"
    work_dir.mkdir()
    notebook = execute_quick(script, work_dir)
    text = "".join(out.get("text", "") for out in notebook.cells[1].outputs)
    assert "quick 1" in text and "cwd work" in text
    assert f"package {ROOT}" in text
    assert (work_dir / "toy.png").is_file()
    assert _inline_figures(notebook) == 1


def test_staleness_check_after_jupytext_sync(tmp_path: Path) -> None:
    script = tmp_path / "00_toy.py"
    script.write_text(TOY)
    assert jupytext_cli(["--sync", "--quiet", str(script)]) == 0
    assert stale_cells(script) is None
    script.write_text(TOY.replace("plt.plot([0, 1], [0, 1])", "plt.plot([0, 1], [1, 0])"))
    assert "plt.plot([0, 1], [1, 0])" in (stale_cells(script) or "")
