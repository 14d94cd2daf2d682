"""Read a case-study script (jupytext percent format) as a notebook for myst-nb.

A note saying how the page's outputs were produced is put under the title.
"""

from __future__ import annotations

import jupytext
import nbformat

EXECUTION_NOTE = """\
```{note}
The outputs on this page were computed while the documentation was built, at
the **reduced size** the test suite uses (`PYMC_EBM_QUICK=1`: fewer draws,
fewer training updates, coarser grids), and cached by jupyter-cache. The
numbers and figures are therefore noisier than a full-size run; run the
notebook yourself without `PYMC_EBM_QUICK`, or `make case-studies`, for the
full-size results. Why the site is built this way: {doc}`/building_the_docs`.
```
"""


def read_case_study(text: str) -> nbformat.NotebookNode:
    """Parse ``text`` (a percent script) and insert the execution note after its title cell."""
    notebook = jupytext.reads(text, fmt="py:percent")
    first_markdown = next(
        (i for i, cell in enumerate(notebook.cells) if cell.cell_type == "markdown"), -1
    )
    notebook.cells.insert(first_markdown + 1, nbformat.v4.new_markdown_cell(EXECUTION_NOTE))
    return notebook
