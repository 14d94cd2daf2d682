"""Check the built site's front page: one click reaches the tour, the API and each case study.

Usage: ``python docs/check_front_page.py docs/_build/html`` (run by ``tox -e docs``).
Every link of ``index.html`` that stays on the site must point at a file that
exists; Sphinx's own checks (``-W`` on the HTML build, ``-b linkcheck``) cover
the cross-references and local links of every page.
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def main(html_dir: Path) -> int:
    """Return 0 when every required page is linked from index.html and every local link exists."""
    index = html_dir / "index.html"
    parser = _Links()
    parser.feed(index.read_text())
    local = {urlsplit(h).path for h in parser.hrefs if not urlsplit(h).scheme and urlsplit(h).path}
    missing_files = sorted(p for p in local if not (html_dir / p).exists())
    required = {"tour.html", "api.html"}
    required |= {f"case_studies/{p.stem}.html" for p in (ROOT / "case_studies").glob("[0-9]*.py")}
    not_linked = sorted(required - local)
    for path in missing_files:
        print(f"index.html links to {path}, which is not in {html_dir}")
    for path in not_linked:
        print(f"index.html does not link to {path}")
    if not (missing_files or not_linked):
        print(f"index.html: {len(local)} local links, all present; reaches {sorted(required)}")
    return 1 if missing_files or not_linked else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
