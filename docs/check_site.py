"""Check the built site's local links, and that the front page reaches the main pages.

Usage: ``python docs/check_site.py docs/_build/html`` (run by ``tox -e docs``).

* Every link of every page that stays on the site must point at a file that
  exists, and a ``#fragment`` on it at an ``id`` of that page (Sphinx's
  ``linkcheck`` builder leaves both unchecked for built pages).
* ``index.html`` must link to the tour, the API reference and every case study.

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

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"])
        if tag == "a" and values.get("href"):
            self.hrefs.append(values["href"])


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


def main(html_dir: Path) -> int:
    """Print what is wrong; 0 when nothing is."""
    broken, gaps = broken_links(html_dir), front_page_gaps(html_dir)
    for line in broken:
        print(f"broken link: {line}")
    for path in gaps:
        print(f"index.html does not link to {path}")
    pages = len(list(html_dir.rglob("*.html")))
    if not (broken or gaps):
        print(f"{pages} pages: every local link resolves; index.html reaches the tour, the API")
        print("reference and every case study")
    return 1 if broken or gaps else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
