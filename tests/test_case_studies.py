"""Every case study runs end to end at reduced size, and its .ipynb is not stale."""

from pathlib import Path

import pytest

pytest.importorskip("jupytext")
pytest.importorskip("nbclient")

import nbformat  # noqa: E402  (installed with nbclient)

from pymc_ebm.notebooks import (  # noqa: E402
    find_notebooks,
    main,
    paired_differences,
    run_notebook,
    sync_notebook,
)

CASE_STUDIES = Path(__file__).resolve().parents[1] / "case_studies"
SCRIPTS = find_notebooks(directory=CASE_STUDIES) if CASE_STUDIES.is_dir() else []


def _errors(notebook: nbformat.NotebookNode) -> list[str]:
    return [
        f"{out.get('ename')}: {out.get('evalue')}"
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "error"
    ]


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_case_study_runs_quick(script: Path, tmp_path: Path) -> None:
    executed = run_notebook(script, quick=True, out_dir=tmp_path)
    assert executed == tmp_path / script.stem / f"{script.stem}.ipynb"
    notebook = nbformat.read(executed, as_version=4)
    assert not _errors(notebook)
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert code_cells and all(c.execution_count is not None for c in code_cells)
    # figures saved to the working directory land beside the executed notebook
    # and are shown inline
    figures = sorted((tmp_path / script.stem).glob("*.png"))
    inline = [
        out for cell in code_cells for out in cell.outputs if "image/png" in out.get("data", {})
    ]
    assert len(inline) >= len(figures)


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_paired_notebook_is_up_to_date(script: Path) -> None:
    problems = paired_differences(script)
    assert not problems, (
        f"{script.with_suffix('.ipynb').name} is stale: {problems}; "
        f"run `python -m pymc_ebm.notebooks {script.stem} --sync`"
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
plt.plot([0, 1], [0, 1])
plt.savefig("toy.png")
plt.show()
"""


@pytest.fixture
def toy(tmp_path: Path) -> Path:
    folder = tmp_path / "case_studies"
    folder.mkdir()
    script = folder / "00_toy.py"
    script.write_text(TOY)
    return script


def _stdout(notebook: nbformat.NotebookNode) -> str:
    return "".join(
        out.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "stream" and out.name == "stdout"
    )


@pytest.mark.parametrize("quick", [True, False])
def test_run_notebook_environment(toy: Path, tmp_path: Path, quick: bool, monkeypatch) -> None:
    monkeypatch.setenv("PYMC_EBM_QUICK", "1")  # not passed on when quick=False
    monkeypatch.setenv("MPLBACKEND", "Agg")  # replaced by the inline backend
    executed = run_notebook(toy, quick=quick, out_dir=tmp_path / "out")
    notebook = nbformat.read(executed, as_version=4)
    text = _stdout(notebook)
    assert f"quick {'1' if quick else 'None'}" in text
    assert "cwd 00_toy" in text
    assert (executed.parent / "toy.png").is_file()
    assert any("image/png" in out.get("data", {}) for out in notebook.cells[1].outputs)


def test_run_notebook_failure_is_reported_and_saved(toy: Path, tmp_path: Path) -> None:
    from nbclient.exceptions import CellExecutionError

    toy.write_text(TOY + "\n# %%\nraise RuntimeError('broken case study')\n")
    with pytest.raises(CellExecutionError, match="broken case study"):
        run_notebook(toy, quick=True, out_dir=tmp_path / "out")
    saved = nbformat.read(tmp_path / "out" / "00_toy" / "00_toy.ipynb", as_version=4)
    assert _errors(saved) == ["RuntimeError: broken case study"]


def test_sync_and_staleness(toy: Path) -> None:
    assert paired_differences(toy) == ["00_toy.ipynb is missing"]
    target = sync_notebook(toy)
    assert paired_differences(toy) == []
    first = target.read_text()
    sync_notebook(toy)
    assert target.read_text() == first  # deterministic: no diff when nothing changed
    toy.write_text(TOY.replace("plt.plot([0, 1], [0, 1])", "plt.plot([0, 1], [1, 0])"))
    assert paired_differences(toy) == ["cell 1 (code) differs"]


def test_cli(toy: Path, capsys) -> None:
    folder = str(toy.parent)
    assert main(["--all", "--check", "--dir", folder]) == 1
    assert main(["00", "--sync", "--check", "--dir", folder]) == 0
    assert "ok 00_toy.ipynb is up to date" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--all", "--dir", folder])  # nothing to do
    with pytest.raises(SystemExit):
        main(["nope", "--check", "--dir", folder])
