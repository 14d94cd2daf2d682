"""Check the built site's local links, and that the front page reaches the main pages.

Usage: ``python docs/check_site.py docs/_build/html`` (run by ``tox -e docs``).

* Every link of every page that stays on the site must point at a file that
  exists, and a ``#fragment`` on it at an ``id`` of that page (Sphinx's
  ``linkcheck`` builder leaves both unchecked for built pages).
* ``index.html`` must link to the tour, the API reference and every case study.
* No page loads a script from another site (MathJax included: it is bundled by
  ``sphinx-mathjax-offline``, so the maths renders without a network), and a
  page with maths loads the bundled MathJax.

Cross-references are already checked by the HTML build itself (``-W``).
"""

from __future__ import annotations

import sys
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parents[1]


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()
        self.scripts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"])
        if tag == "a" and values.get("href"):
            self.hrefs.append(values["href"])
        if tag == "script" and values.get("src"):
            self.scripts.append(values["src"])


@cache
def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(errors="replace"))
    return page


def broken_links(html_dir: Path) -> list[str]:
    """``page: href`` for every local link whose file or fragment does not exist."""
    broken = []
    for page_path in sorted(html_dir.rglob("*.html")):
        for href in _parse(page_path).hrefs:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc:
                continue  # other sites: not checked (no network on the build machines)
            target = page_path
            if parts.path:
                target = (page_path.parent / unquote(parts.path)).resolve()
            if not target.exists():
                broken.append(f"{page_path.relative_to(html_dir)}: {href}")
            elif parts.fragment and target.suffix == ".html":
                if unquote(parts.fragment) not in _parse(target).ids:
                    broken.append(f"{page_path.relative_to(html_dir)}: {href} (no such id)")
    return sorted(set(broken))


def front_page_gaps(html_dir: Path) -> list[str]:
    """Required pages that ``index.html`` does not link to."""
    linked = {urlsplit(h).path for h in _parse(html_dir / "index.html").hrefs}
    required = {"tour.html", "api.html"}
    required |= {f"case_studies/{p.stem}.html" for p in (ROOT / "case_studies").glob("[0-9]*.py")}
    return sorted(required - linked)


def remote_scripts(html_dir: Path) -> list[str]:
    """``page: src`` for every script a page loads from another site (``http(s)://``, ``//``)."""
    remote = []
    for page_path in sorted(html_dir.rglob("*.html")):
        for src in _parse(page_path).scripts:
            parts = urlsplit(src)
            if parts.scheme in ("http", "https") or parts.netloc:
                remote.append(f"{page_path.relative_to(html_dir)}: {src}")
    return remote


def mathjax_pages(html_dir: Path) -> list[str]:
    """The pages that load MathJax (from the site itself, once :func:`remote_scripts` passes)."""
    return sorted(
        str(page_path.relative_to(html_dir))
        for page_path in html_dir.rglob("*.html")
        if any("mathjax" in src.lower() for src in _parse(page_path).scripts)
    )


def main(html_dir: Path) -> int:
    """Print what is wrong; 0 when nothing is."""
    broken, gaps = broken_links(html_dir), front_page_gaps(html_dir)
    remote, maths = remote_scripts(html_dir), mathjax_pages(html_dir)
    for line in broken:
        print(f"broken link: {line}")
    for path in gaps:
        print(f"index.html does not link to {path}")
    for line in remote:
        print(f"script from another site (the site must work offline): {line}")
    if not maths:
        print("no page loads MathJax: the maths would not render")
    pages = len(list(html_dir.rglob("*.html")))
    failed = bool(broken or gaps or remote or not maths)
    if not failed:
        print(f"{pages} pages: every local link resolves; index.html reaches the tour, the API")
        print("reference and every case study; no script comes from another site, and the")
        print(f"{len(maths)} pages with maths load the bundled MathJax")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
