"""Sphinx configuration of the pymc_ebm documentation site (``make docs``)."""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(DOCS))  # store_notebooks
sys.path.insert(0, str(ROOT))

import pymc_ebm  # noqa: E402

project = "pymc_ebm"
author = "pymc_ebm developers"
copyright = "pymc_ebm developers"  # noqa: A001
release = pymc_ebm.__version__
version = release

templates_path = ["_templates"]

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # a bundled MathJax, copied into _static/: maths renders offline
    "numpydoc",
]

# -- sources --------------------------------------------------------------------------------------
# A case study's page is its executed notebook, docs/executed/NN_name.ipynb, written by
# docs/store_notebooks.py (`make notebooks`) from a full-size run: it is copied to
# docs/case_studies/ (ignored by git) with a note under the title and rendered as it is, without
# running it again. A stored notebook that was not made from the current script is a warning
# (an error under -W) naming the command that regenerates it; a case study with no stored
# notebook is shown from its script, without outputs, with a warning too.

import nbformat  # noqa: E402
import store_notebooks  # noqa: E402
from case_study_reader import stored_page  # noqa: E402

_SOURCE_PROBLEMS: list[str] = []


def _write_if_changed(path: Path, data: bytes) -> None:
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)  # unchanged files keep their time: no rebuild


def _stage_case_studies() -> None:
    target = DOCS / "case_studies"
    target.mkdir(exist_ok=True)
    wanted = set()
    for script in store_notebooks.scripts():
        stored = store_notebooks.stored_path(script.stem)
        problem = store_notebooks.staleness(script)
        if problem:
            _SOURCE_PROBLEMS.append(problem)
        if stored.is_file():
            page = stored_page(nbformat.read(stored, as_version=4), script.stem)
            copy = target / stored.name
            _write_if_changed(copy, (nbformat.writes(page) + "\n").encode())
        else:
            copy = target / script.name
            _write_if_changed(copy, script.read_bytes())
        wanted.add(copy.name)
    for old in [*target.glob("*.py"), *target.glob("*.ipynb")]:
        if old.name not in wanted:
            old.unlink()


_stage_case_studies()


def _warn_source_problems(app) -> None:
    from sphinx.util import logging

    for problem in _SOURCE_PROBLEMS:
        logging.getLogger(__name__).warning(f"case study: {problem}")


def setup(app) -> None:
    """Report stale or missing stored notebooks as warnings (errors under ``-W``)."""
    app.connect("builder-inited", _warn_source_problems)


# myst-nb registers .md, .ipynb and the custom .py format itself (.py: a script with no stored
# notebook, shown without outputs)
nb_custom_formats = {".py": "case_study_reader.read_case_study"}
exclude_patterns = [
    "_build",
    "_ext",
    "executed",  # the stored notebooks: shown through their copies in case_studies/
    "conf.py",
    "check_site.py",
    "store_notebooks.py",
    "**.ipynb_checkpoints",
]
root_doc = "index"

# -- MyST and myst-nb -----------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
# The case studies are never executed here (their outputs are the stored full-size runs); the
# other notebook pages (the tour) run during the build, cached by jupyter-cache in
# docs/_build/.jupyter_cache: an unchanged page is not rerun.
nb_execution_mode = "cache"
nb_execution_excludepatterns = ["case_studies/*"]
nb_execution_timeout = 1800
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_in_temp = True  # a notebook page writes nothing into docs/
nb_merge_streams = True

# -- API reference --------------------------------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "none"  # numpydoc shows the documented types
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

intersphinx_mapping: dict[str, tuple[str, str | None]] = {}  # no network on the build machines

# -- HTML -----------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"pymc_ebm {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}

# -- link check (internal only: the build machines have no network) -------------------------------
linkcheck_ignore = [r"https?://.*", r"mailto:.*"]
