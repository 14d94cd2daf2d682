"""Sphinx configuration of the pymc_ebm documentation site (``make docs``)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))
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
    "numpydoc",
]

# -- sources --------------------------------------------------------------------------------------
# The case studies live in ../case_studies as jupytext percent scripts; they are copied to
# docs/case_studies/ (ignored by git) at every build and read by myst-nb through jupytext.


def _copy_case_studies() -> None:
    target = DOCS / "case_studies"
    target.mkdir(exist_ok=True)
    wanted = {p.name for p in (ROOT / "case_studies").glob("[0-9]*.py")}
    for old in target.glob("*.py"):
        if old.name not in wanted:
            old.unlink()
    for name in sorted(wanted):
        source, copy = ROOT / "case_studies" / name, target / name
        if not copy.exists() or copy.read_bytes() != source.read_bytes():
            shutil.copyfile(source, copy)  # unchanged files keep their time: no rebuild


_copy_case_studies()

# myst-nb registers .md, .ipynb and the custom .py format itself
nb_custom_formats = {".py": "case_study_reader.read_case_study"}
exclude_patterns = ["_build", "_ext", "conf.py", "check_site.py", "**.ipynb_checkpoints"]
root_doc = "index"

# -- MyST and myst-nb -----------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
# Notebooks run during the build at reduced size (PYMC_EBM_QUICK=1, set by `tox -e docs`),
# cached by jupyter-cache in docs/_build/.jupyter_cache: an unchanged case study is not rerun.
nb_execution_mode = "cache"
nb_execution_timeout = 1800
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_in_temp = True  # the case studies save figures to their working directory
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
