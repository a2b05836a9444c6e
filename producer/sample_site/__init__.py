"""A generated quotes site, shaped like quotes.toscrape.com and its variants, on loopback.

Test code (and the demo) use it instead of the real site::

    expected = generate_site(tmp_dir, pages=3)
    with SiteServer(tmp_dir) as site:
        ...  # scrapy crawl quotes -a start_url=site.url
    # or: url, stop = serve_site(tmp_dir); ...; stop()

Every variant of the real site is served, in its markup and URL layout
(``VARIANTS``, from ``producer.variants``, maps each to its start path):

- ``main``: ``/`` and ``/page/N/``, ten ``div.quote`` blocks each and an
  ``li.next`` link on every page but the last; later pages say "No quotes
  found!". ``/author/<Slug>/`` pages, linked as ``/author/<Slug>`` (redirected
  to the slash form, as the live site does).
- ``js``, ``js-delayed``, ``js-onclick``: ``/js/`` (``/js/page/N/``) and so
  on, no quote markup: the records are a JSON array after ``var data =`` in
  a script; ``js-onclick`` keeps its Next URL only inside the script.
- ``scroll``: ``/scroll`` is empty; ``/api/quotes?page=N`` answers
  ``{"has_next", "page", "quotes", "tag", "top_ten_tags"}``.
- ``tableful``: ``/tableful/`` (``/tableful/page/N/``), no classes: a cell
  ``TEXT Author: NAME`` and a row ``Tags: a b c`` per quote.
- ``login``: ``/login`` takes any non-empty username with the form's
  ``csrf_token`` (checked against the ``session`` cookie); logged in, the main
  pages show a Logout link and a "(Goodreads page)" link per quote.
- ``search``: ``/search.aspx`` posts to ``/filter.aspx`` with a
  ``__VIEWSTATE``: choose an author, then a tag; one result row per quote.

``/robots.txt`` allows everything by default. ``generate_site`` writes only
``site.json`` (the page count and robots.txt); pages are rendered on request
from data made up here (see ``data``), and it returns the records a correct
crawl of the main site yields (``Expected``).
"""

from __future__ import annotations

import json
from pathlib import Path

from producer.variants import VARIANTS

from .data import QUOTES_PER_PAGE, Expected, SiteData
from .server import SITE_FILE, Hit, SiteServer, serve_site

__all__ = [
    "DEFAULT_ROBOTS",
    "QUOTES_PER_PAGE",
    "VARIANTS",
    "Expected",
    "Hit",
    "SiteServer",
    "generate_site",
    "serve_site",
]

DEFAULT_ROBOTS = "User-agent: *\nDisallow:\n"


def generate_site(
    directory: str | Path, pages: int = 3, *, robots: str | None = DEFAULT_ROBOTS
) -> Expected:
    """Make a site of ``pages`` full pages of quotes in ``directory`` (for ``SiteServer``).

    ``robots`` is the body of ``/robots.txt`` (``None``: no robots.txt, a 404).
    Returns the records a complete crawl of the main site must yield.
    """
    site = SiteData.build(pages, robots)
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    (root / SITE_FILE).write_text(json.dumps({"pages": pages, "robots": robots}), encoding="utf-8")
    return site.expected()
