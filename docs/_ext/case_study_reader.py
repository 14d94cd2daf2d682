"""The case-study pages: stored full-size notebooks, with a note under the title.

A case study's page is its executed notebook ``docs/executed/NN_name.ipynb``
(written by ``docs/store_notebooks.py`` from a full-size run), rendered
without running it again; :func:`stored_page` puts a note under its title
saying when, from which commit and at which size the outputs were made.
Without a stored notebook the page is the script itself, read by
:func:`read_case_study`, with no outputs and a note saying so.
"""

from __future__ import annotations

import jupytext
import nbformat

STORED_NOTE = """\
```{{note}}
The outputs on this page are those of a **full-size run** of this case study
(without `PYMC_EBM_QUICK`), stored in `docs/executed/{name}.ipynb` and shown
here as they were computed: executed {executed} from commit `{commit}`{dirty}{took}.
The test suite checks that the stored notebook was made from the current
script and settings (a hash recorded in its metadata);
`make notebooks ONLY={name}` regenerates it. The test suite itself runs
every case study at the reduced size (`PYMC_EBM_QUICK=1`). How the site is
built: {{doc}}`/building_the_docs`.
```
"""

MISSING_NOTE = """\
```{note}
No executed notebook of this case study is stored yet, so this page shows its
code without outputs; `make notebooks` runs it at full size and stores it.
How the site is built: {doc}`/building_the_docs`.
```
"""


def _insert_after_title(notebook: nbformat.NotebookNode, text: str) -> nbformat.NotebookNode:
    first_markdown = next(
        (i for i, cell in enumerate(notebook.cells) if cell.cell_type == "markdown"), -1
    )
    notebook.cells.insert(first_markdown + 1, nbformat.v4.new_markdown_cell(text))
    return notebook


def stored_page(notebook: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """``notebook`` (a stored executed case study) with the note on its run under its title."""
    record = notebook.metadata.get("pymc_ebm", {})
    commit = record.get("commit", "unknown")
    sha, _, rest = commit.partition(" ")
    seconds = record.get("run_seconds")
    took = f", in {seconds / 60:.0f} min" if seconds else ""
    note = STORED_NOTE.format(
        name=name,
        executed=record.get("executed", "at an unknown time"),
        commit=sha[:12] or "unknown",
        dirty=f" {rest}" if rest else "",
        took=took,
    )
    return _insert_after_title(notebook, note)


def read_case_study(text: str) -> nbformat.NotebookNode:
    """Parse ``text`` (a percent script with no stored run) and insert the note after its title."""
    return _insert_after_title(jupytext.reads(text, fmt="py:percent"), MISSING_NOTE)
