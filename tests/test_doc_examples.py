"""Every Python code block of README.md and docs/*.md runs as written, in order per page.

Each page runs in its own process (a page may set the backend or environment
variables), its blocks one after the other in one namespace, so a block may
use what an earlier block of the same page defined and nothing else. A block
that cannot run here says why in an HTML comment on the line above it:
``<!-- doc-test: needs jax -->`` (run where JAX is installed, as in
``tox -e jax``) or ``<!-- doc-test: skip, REASON -->``. Where a block's full
size would slow the suite, :data:`QUICK` swaps a setting for a smaller one;
each swap must match the page's text, so the table cannot drift from it.

No block may emit a warning, nor a warning of PyMC's logger (such as its
R-hat and "at least 4 chains" advice): an example that prints them teaches
the reader to ignore them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# page -> (text in the page, what the suite runs instead)
QUICK: dict[str, list[tuple[str, str]]] = {
    "docs/guide.md": [
        (
            'idata = pm.sample(var_names=["v"])',
            'idata = pm.sample(100, tune=100, var_names=["v"], compute_convergence_checks=False)',
        ),
        # at 100 draws the convergence checks would only say the run is short
        (
            "idata = pm.sample()  ",
            "idata = pm.sample(100, tune=100, compute_convergence_checks=False) ",
        ),
        ("history = cd.fit(X, n_updates=2000)", "history = cd.fit(X, n_updates=20)"),
    ],
    "docs/scaling.md": [("n_updates=1000)", "n_updates=5)")],
}

BLOCK = re.compile(
    r"(?:^<!-- doc-test: (?P<marker>[^>]*?) -->\n)?^```python\n(?P<code>.*?)^```", re.S | re.M
)

RUNNER = r"""
import json, logging, sys, warnings

blocks = json.load(sys.stdin)
logged = []


class Collect(logging.Handler):
    def emit(self, record):
        logged.append(f"{record.name}: {record.getMessage()}")


logging.getLogger("pymc").addHandler(Collect(level=logging.WARNING))
namespace = {"__name__": "__main__"}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    for i, code in enumerate(blocks):
        exec(compile(code, f"<block {i + 1}>", "exec"), namespace)
warned = [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught]
print("DOC-TEST-RESULT " + json.dumps({"warnings": warned, "logged": logged}))
"""


def blocks_of(text: str) -> list[tuple[str | None, str]]:
    """``(marker, code)`` of every Python block of a page's ``text``, in order."""
    return [(m["marker"], m["code"]) for m in BLOCK.finditer(text)]


def page_blocks(page: Path) -> list[tuple[str | None, str]]:
    return blocks_of(page.read_text())


def quick(name: str, code: str) -> str:
    for old, new in QUICK.get(name, []):
        code = code.replace(old, new)
    return code


def test_block_parser_reads_markers() -> None:
    text = "a\n```python\nx = 1\n```\n<!-- doc-test: needs jax -->\n```python\ny = 2\n```\n"
    assert blocks_of(text) == [(None, "x = 1\n"), ("needs jax", "y = 2\n")]


def test_every_quick_swap_matches_its_page() -> None:
    for name, swaps in QUICK.items():
        code = "".join(c for _, c in page_blocks(ROOT / name))
        for old, _ in swaps:
            assert old in code, f"{name}: QUICK swap {old!r} is not in the page any more"


def test_every_marker_is_known_and_every_skip_says_why() -> None:
    for page in PAGES:
        for marker, _ in page_blocks(page):
            if marker is None or marker == "needs jax":
                continue
            assert re.fullmatch(r"skip, \S.{9,}", marker), f"{page.name}: marker {marker!r}"


@pytest.mark.parametrize(
    "page", [p for p in PAGES if page_blocks(p)], ids=lambda p: str(p.relative_to(ROOT))
)
def test_page_examples_run_as_written_without_warnings(page: Path, tmp_path: Path) -> None:
    name = str(page.relative_to(ROOT))
    has_jax = importlib.util.find_spec("jax") is not None
    blocks = []
    for marker, code in page_blocks(page):
        if marker == "needs jax" and not has_jax:
            continue
        if marker is not None and marker.startswith("skip"):
            continue
        blocks.append(quick(name, code))
    if not blocks:
        pytest.skip(f"every block of {name} needs the jax extra")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, "-c", RUNNER],
        input=json.dumps(blocks),
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, f"{name}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    line = next(x for x in done.stdout.splitlines() if x.startswith("DOC-TEST-RESULT "))
    result = json.loads(line.removeprefix("DOC-TEST-RESULT "))
    assert not result["warnings"], f"{name} warns:\n" + "\n".join(result["warnings"])
    assert not result["logged"], f"{name} logs:\n" + "\n".join(result["logged"])
