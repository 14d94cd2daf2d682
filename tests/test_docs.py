"""The documentation site's sources are complete, and the version has one source.

The site itself is built by ``tox -e docs`` (``make docs``), not here: these
checks are cheap and run in the tests environment.
"""

import re
import tomllib
from pathlib import Path

import pytest

import pymc_ebm

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def autosummary_names(markdown: str) -> set[str]:
    """Names listed in the ``.. autosummary::`` blocks of ``markdown``, fully qualified."""
    module = re.search(r"\.\. currentmodule:: ([\w.]+)", markdown).group(1)
    names = set()
    for block in re.findall(r"\.\. autosummary::\n(.*?)```", markdown, re.S):
        for line in block.splitlines():
            item = line.strip()
            if item and not item.startswith(":"):
                names.add(f"{module}.{item}")
    return names


def test_autosummary_names_parser() -> None:
    text = (
        "```{eval-rst}\n.. currentmodule:: pkg\n```\n"
        "```{eval-rst}\n.. autosummary::\n   :toctree: api\n\n   A\n   sub.f\n```\n"
    )
    assert autosummary_names(text) == {"pkg.A", "pkg.sub.f"}


def test_api_page_lists_every_public_name() -> None:
    listed = autosummary_names((DOCS / "api.md").read_text())
    public = {f"pymc_ebm.{name}" for name in pymc_ebm.__all__}
    assert not public - listed, f"not in docs/api.md: {sorted(public - listed)}"


def test_api_page_lists_every_public_name_of_the_documented_modules() -> None:
    listed = autosummary_names((DOCS / "api.md").read_text())
    from pymc_ebm.model import terms
    from pymc_ebm.step_methods import hmc_kernel, mass_adaptation

    modules = (pymc_ebm.datasets, pymc_ebm.evaluation.diagnostics, terms, hmc_kernel)
    for module in (*modules, mass_adaptation):
        public = {f"{module.__name__}.{name}" for name in module.__all__}
        public = {n for n in public if not n.rsplit(".", 1)[1].isupper()}  # constants aside
        assert not public - listed, f"not in docs/api.md: {sorted(public - listed)}"


def test_every_case_study_has_a_page_in_the_front_page_toctree() -> None:
    index = (DOCS / "index.md").read_text()
    toctrees = "".join(re.findall(r"```\{toctree\}(.*?)```", index, re.S))
    for script in sorted((ROOT / "case_studies").glob("[0-9]*.py")):
        assert f"case_studies/{script.stem}\n" in toctrees, script.name
    for page in ("install", "tour", "api", "changelog", "lecture"):
        assert re.search(rf"^{page}$", toctrees, re.M), page


def test_case_study_pages_say_how_their_outputs_were_made() -> None:
    pytest.importorskip("jupytext")
    import sys

    import nbformat

    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        from case_study_reader import read_case_study, stored_page
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    script = sorted((ROOT / "case_studies").glob("[0-9]*.py"))[0]
    # a stored full-size run: the note gives its size, time and commit, and how to rerun it
    stored = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("# Title"), nbformat.v4.new_code_cell("1")],
        metadata={
            "pymc_ebm": {
                "executed": "2026-01-02 03:04 UTC",
                "commit": "0123456789abcdef0123 (with uncommitted changes)",
                "run_seconds": 600.0,
            }
        },
    )
    notebook = stored_page(stored, script.stem)
    title, note = notebook.cells[0], notebook.cells[1]
    assert title.source.startswith("# ")
    assert note.cell_type == "markdown" and "full-size run" in note.source
    assert "2026-01-02 03:04 UTC" in note.source and "`0123456789ab`" in note.source
    assert "(with uncommitted changes)" in note.source and "in 10 min" in note.source
    assert f"`make notebooks ONLY={script.stem}`" in note.source
    # no stored run: the script without outputs, and a note saying so
    notebook = read_case_study(script.read_text())
    assert notebook.cells[0].source.startswith("# ")
    assert "No executed notebook" in notebook.cells[1].source
    code = [c.source for c in notebook.cells if c.cell_type == "code"]
    assert code and "PYMC_EBM_QUICK" in "".join(code)  # the script reads the variable


def test_version_has_one_source() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    attr = project["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "pymc_ebm.__version__"
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.dev\d+)?", pymc_ebm.__version__)
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## {pymc_ebm.__version__}" in changelog or "## Unreleased" in changelog


def test_site_check_finds_scripts_from_other_sites(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(DOCS))
    try:
        import check_site
    finally:
        sys.path.remove(str(DOCS))
    cdn = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js"
    (tmp_path / "sub").mkdir()
    (tmp_path / "online.html").write_text(f'<html><script defer src="{cdn}"></script></html>')
    (tmp_path / "sub" / "offline.html").write_text(
        '<script src="../_static/mathjax/tex-chtml.js"></script><script src="//x.org/a.js">'
    )
    (tmp_path / "plain.html").write_text('<script src="_static/doctools.js"></script>')
    assert check_site.remote_scripts(tmp_path) == [
        f"online.html: {cdn}",
        "sub/offline.html: //x.org/a.js",
    ]
    assert check_site.mathjax_pages(tmp_path) == ["online.html", "sub/offline.html"]
