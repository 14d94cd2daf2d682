"""The site's case-study pages show full-size runs of the current code.

``docs/store_notebooks.py`` (``make notebooks``) executes every case study at
full size and stores the executed notebook in ``docs/executed/``, with the
sha256 of the study's script, its name and its size settings in
``metadata["pymc_ebm"]``. Here each stored notebook must exist, carry the hash
of the script as it is now, and hold a complete full-size run; a stale one
fails with the command that regenerates it. The hash covers the study's own
code only: a library change that alters the results is caught by the
reduced-size runs of ``tests/test_case_studies.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))
try:
    import store_notebooks
finally:
    sys.path.remove(str(ROOT / "docs"))

SCRIPTS = store_notebooks.scripts()
MAX_MB = 8  # a stored notebook holds PNG figures only; far larger means something went wrong


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_stored_notebook_was_made_from_the_current_script(script: Path) -> None:
    problem = store_notebooks.staleness(script)
    assert problem is None, problem


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.stem for p in SCRIPTS])
def test_stored_notebook_is_a_complete_full_size_run(script: Path) -> None:
    path = store_notebooks.stored_path(script.stem)
    if not path.is_file():
        pytest.skip("not stored (test_stored_notebook_was_made_from_the_current_script fails)")
    assert path.stat().st_size < MAX_MB * 1e6, f"{path.name}: {path.stat().st_size / 1e6:.1f} MB"
    notebook = nbformat.read(path, as_version=4)
    record = notebook.metadata["pymc_ebm"]
    assert record["settings"] == store_notebooks.FULL_SIZE
    assert record["study"] == script.stem and record["script"] == f"case_studies/{script.name}"
    assert record["executed"] and record["commit"]
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code and all(c.execution_count is not None for c in code)
    outputs = [out for c in code for out in c.outputs]
    assert not [out for out in outputs if out.output_type == "error"]
    assert any("image/png" in out.get("data", {}) for out in outputs)
    text = "".join(out.get("text", "") for out in outputs)
    assert "quick=True" not in text  # the case studies that print their size switch


TOY = """\
# %% [markdown]
# # A toy case study

# %%
import os

print("quick", os.environ.get("PYMC_EBM_QUICK"))
"""


def _stored_toy(tmp_path: Path, script_text: str) -> tuple[Path, Path]:
    """A toy case study in ``tmp_path/case_studies`` and its stored notebook (not executed)."""
    case_studies, stored = tmp_path / "case_studies", tmp_path / "executed"
    case_studies.mkdir()
    stored.mkdir()
    script = case_studies / "00_toy.py"
    script.write_text(script_text)
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["pymc_ebm"] = {"sha256": store_notebooks.script_hash(script)}
    nbformat.write(notebook, stored / "00_toy.ipynb")
    return script, stored


def test_a_changed_script_makes_its_stored_notebook_stale(tmp_path: Path) -> None:
    script, stored = _stored_toy(tmp_path, TOY)
    assert store_notebooks.staleness(script, stored) is None
    script.write_text(TOY.replace('"quick"', '"size"'))
    problem = store_notebooks.staleness(script, stored)
    assert problem and "00_toy.ipynb is stale" in problem
    assert "make notebooks ONLY=00_toy" in problem
    assert "python docs/store_notebooks.py --only 00_toy" in problem
    (stored / "00_toy.ipynb").unlink()
    assert "not stored" in store_notebooks.staleness(script, stored)


def test_hash_covers_the_script_the_name_and_the_size_settings() -> None:
    full = store_notebooks.study_hash(TOY, "00_toy")
    assert full == store_notebooks.study_hash(TOY, "00_toy", {"PYMC_EBM_QUICK": ""})
    assert full != store_notebooks.study_hash(TOY + "\n", "00_toy")
    assert full != store_notebooks.study_hash(TOY, "01_toy")
    assert full != store_notebooks.study_hash(TOY, "00_toy", {"PYMC_EBM_QUICK": "1"})


def test_store_runs_at_full_size_and_records_the_hash(tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("nbclient")
    pytest.importorskip("jupytext")
    monkeypatch.setenv("PYMC_EBM_QUICK", "1")  # removed for the full-size run
    script, stored = _stored_toy(tmp_path, TOY)
    (stored / "00_toy.ipynb").unlink()
    argv = ["--case-studies", str(script.parent), "--out", str(stored), "--only", "00_toy"]
    assert store_notebooks.main(argv) == 0
    notebook = nbformat.read(stored / "00_toy.ipynb", as_version=4)
    assert "quick None" in notebook.cells[1].outputs[0]["text"]
    record = notebook.metadata["pymc_ebm"]
    assert record["sha256"] == store_notebooks.script_hash(script)
    assert record["settings"] == {"PYMC_EBM_QUICK": ""}
    assert store_notebooks.staleness(script, stored) is None


def test_a_failing_study_is_not_stored(tmp_path: Path) -> None:
    pytest.importorskip("nbclient")
    pytest.importorskip("jupytext")
    script, stored = _stored_toy(tmp_path, TOY + "\nraise RuntimeError('boom')\n")
    (stored / "00_toy.ipynb").unlink()
    argv = ["--case-studies", str(script.parent), "--out", str(stored)]
    assert store_notebooks.main(argv) == 1
    assert not (stored / "00_toy.ipynb").exists()
