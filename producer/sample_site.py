"""A generated quotes site, shaped like quotes.toscrape.com, served on loopback.

Test code (and the demo) use it instead of the real site::

    expected = generate_site(tmp_dir, pages=3)
    url, stop = serve_site(tmp_dir)
    ...  # scrapy crawl quotes -a start_url=url
    stop()

The layout and markup follow the real site: ``/`` and ``/page/N/`` with ten
``div.quote`` blocks each and an ``li.next`` link on every page but the last,
``/page/<last+1>/`` saying "No quotes found!", ``/author/<Slug>/`` pages
(linked as ``/author/<Slug>``, which ``http.server`` redirects to the slash
form, as the live site does), tag links, and ``/robots.txt``. Text is escaped
the way the site's templates do it (``'`` as ``&#39;``, ``"`` as ``&#34;``).

The data is made up here, not copied: it includes curly quotes, apostrophes,
straight double quotes, non-ASCII letters, a quote with no tags, an author
description with surrounding whitespace, and one author whose byline differs
from the title of their page (``Émile Dupont fils`` vs ``Émile Dupont-fils``).

``generate_site`` returns the records a correct crawl yields (``Expected``).
"""

from __future__ import annotations

import dataclasses
import http.server
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

QUOTES_PER_PAGE = 10
DEFAULT_ROBOTS = "User-agent: *\nDisallow: /login\n"


@dataclasses.dataclass(frozen=True)
class Author:
    slug: str
    byline: str  # the name under each quote
    name: str  # the title of the author's page
    born_date: str
    born_location: str
    description: str  # as written in the page, surrounding whitespace included


AUTHORS: tuple[Author, ...] = (
    Author(
        "Ada-Quill", "Ada Quill", "Ada Quill", "March 3, 1901", "in Leeds, England",
        "Ada Quill wrote short plays & long letters.",
    ),
    Author(
        "Emile-Dupont-fils", "Émile Dupont fils", "Émile Dupont-fils", "July 1, 1850",
        "in Lyon, France",
        "\n   Émile Dupont (the son) wrote \"plays\" that aren't his father's.  \n",
    ),
    Author(
        "Bo-OMalley", "Bo O'Malley", "Bo O'Malley", "June 9, 1977", "in Cork, Ireland",
        "  Bo O'Malley is a <fictional> poet.",
    ),
    Author(
        "J-R-Penn", "J.R. Penn", "J.R. Penn", "December 24, 1933", "in Austin, Texas",
        "J.R. Penn kept notebooks.\n\nMany of them.",
    ),
    Author(
        "Zoe-Lark", "Zoë Lark", "Zoë Lark", "May 5, 1988", "in Oslo, Norway",
        "Zoë Lark  sings.\t",
    ),
)  # fmt: skip

TAGS = ("life", "love", "books", "humor", "truth", "wit", "time", "hope")


@dataclasses.dataclass(frozen=True)
class Expected:
    """What a complete crawl of the generated site yields."""

    #: One dict per quote, in site order: text, author, tags, author_url, page_url (paths).
    quotes: list[dict[str, Any]]
    #: One dict per author that has a quote: name, born_date, born_location,
    #: description (stripped), url (path with trailing slash).
    authors: list[dict[str, Any]]
    pages: int

    @property
    def paths(self) -> set[str]:
        """Every page path a complete crawl requests (without robots.txt)."""
        paths = {"/"} | {f"/page/{n}/" for n in range(2, self.pages + 1)}
        return paths | {a["url"] for a in self.authors}


def _quote_text(n: int) -> str:
    """The n-th quote's text (n from 1), cycling through the tricky shapes."""
    shapes = (
        "“Quote {n}: it's the words we keep that keep us.”",
        '“Quote {n}: "Never," she said, "say never."”',
        "“Quote {n}: a plain sentence.”",
        "“Quote {n}: café, naïve & <angle> brackets…”",
        "“... quote {n} begins with an ellipsis and ends without a full stop”",
    )
    return shapes[n % len(shapes)].format(n=n)


def _quote_tags(n: int) -> list[str]:
    if n % 7 == 3:
        return []  # quotes with no tags exist on the real site too
    count = 1 + n % 3
    return sorted({TAGS[(n * (i + 2)) % len(TAGS)] for i in range(count)})


def _esc(text: str) -> str:
    """Escape like the site's Jinja templates: ``'`` is ``&#39;``, ``"`` is ``&#34;``."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("'", "&#39;")
    )


_HEAD = """<!DOCTYPE html>
<html lang="en">
<head>
\t<meta charset="UTF-8">
\t<title>Quotes to Scrape</title>
    <link rel="stylesheet" href="/static/bootstrap.min.css">
</head>
<body>
    <div class="container">
        <div class="row header-box">
            <div class="col-md-8">
                <h1>
                    <a href="/" style="text-decoration: none">Quotes to Scrape</a>
                </h1>
            </div>
            <div class="col-md-4">
                <p>
                    <a href="/login">Login</a>
                </p>
            </div>
        </div>
"""
_FOOT = """
    </div>
    <footer class="footer">
        <div class="container">
            <p class="text-muted">Quotes by: <a href="https://example.invalid/">nobody</a></p>
        </div>
    </footer>
</body>
</html>"""


def _quote_html(text: str, author: Author, tags: list[str]) -> str:
    tag_links = "".join(
        f'\n            <a class="tag" href="/tag/{t}/page/1/">{t}</a>\n' for t in tags
    )
    return f"""
    <div class="quote" itemscope itemtype="http://schema.org/CreativeWork">
        <span class="text" itemprop="text">{_esc(text)}</span>
        <span>by <small class="author" itemprop="author">{_esc(author.byline)}</small>
        <a href="/author/{author.slug}">(about)</a>
        </span>
        <div class="tags">
            Tags:
            <meta class="keywords" itemprop="keywords" content="{",".join(tags)}" /    > 
            {tag_links}
        </div>
    </div>
"""  # the stray space after the meta tag is in the real markup too


def _pager(page: int, has_next: bool) -> str:
    items = []
    if page > 1:
        items.append(
            f'\n            <li class="previous">\n                <a href="/page/{page - 1}/">'
            '<span aria-hidden="true">&larr;</span> Previous</a>\n            </li>\n'
        )
    if has_next:
        items.append(
            f'\n            <li class="next">\n                <a href="/page/{page + 1}/">'
            'Next <span aria-hidden="true">&rarr;</span></a>\n            </li>\n'
        )
    return f'\n    <nav>\n        <ul class="pager">\n{"".join(items)}\n        </ul>\n    </nav>'


def _list_page(page: int, quotes_html: str, has_next: bool) -> str:
    body = quotes_html or "\nNo quotes found!\n"
    return (
        f'{_HEAD}\n<div class="row">\n    <div class="col-md-8">\n{body}{_pager(page, has_next)}'
        f'\n    </div>\n    <div class="col-md-4 tags-box">\n        <h2>Top Ten tags</h2>\n'
        f"    </div>\n</div>\n{_FOOT}"
    )


def _author_page(author: Author) -> str:
    return f"""{_HEAD}
<div class="author-details">
    <h3 class="author-title">{_esc(author.name)}</h3>
    <p><strong>Born:</strong> <span class="author-born-date">{_esc(author.born_date)}</span> <span class="author-born-location">{_esc(author.born_location)}</span></p>
    <p><strong>Description:</strong></p>
    <div class="author-description">
        {_esc(author.description)}
    </div>
</div>
{_FOOT}"""  # noqa: E501


def _write(root: Path, path: str, html: str) -> None:
    target = root / path.strip("/") / "index.html" if path != "/" else root / "index.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")


def generate_site(
    directory: str | Path, pages: int = 3, *, robots: str | None = DEFAULT_ROBOTS
) -> Expected:
    """Write a site of ``pages`` full pages (plus the empty one after) into ``directory``.

    ``robots`` is the body of ``/robots.txt`` (``None``: no robots.txt, a 404).
    Returns the records a complete crawl must yield.
    """
    if pages < 1:
        raise ValueError("a site needs at least one page of quotes")
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    quotes: list[dict[str, Any]] = []
    used: dict[str, Author] = {}
    for page in range(1, pages + 1):
        blocks = []
        for i in range(QUOTES_PER_PAGE):
            n = (page - 1) * QUOTES_PER_PAGE + i + 1
            author = AUTHORS[(n * 3 + page) % len(AUTHORS)]
            text, tags = _quote_text(n), _quote_tags(n)
            blocks.append(_quote_html(text, author, tags))
            used.setdefault(author.slug, author)
            page_path = "/" if page == 1 else f"/page/{page}/"
            quotes.append(
                {
                    "text": text,
                    "author": author.byline,
                    "tags": tags,
                    "author_url": f"/author/{author.slug}/",
                    "page_url": page_path,
                }
            )
        html = _list_page(page, "".join(blocks), has_next=page < pages)
        _write(root, f"/page/{page}/", html)
        if page == 1:
            _write(root, "/", html)
    _write(root, f"/page/{pages + 1}/", _list_page(pages + 1, "", has_next=False))
    authors = []
    for author in used.values():
        _write(root, f"/author/{author.slug}/", _author_page(author))
        authors.append(
            {
                "name": author.name,
                "born_date": author.born_date,
                "born_location": author.born_location,
                "description": author.description.strip(),
                "url": f"/author/{author.slug}/",
            }
        )
    if robots is not None:
        (root / "robots.txt").write_text(robots, encoding="utf-8")
    return Expected(quotes=quotes, authors=authors, pages=pages)


@dataclasses.dataclass(frozen=True)
class Hit:
    """One request the site answered."""

    path: str
    status: int
    user_agent: str


class SiteServer:
    """A threaded ``http.server`` for ``directory`` on 127.0.0.1, port chosen by the OS.

    ``host`` and ``port`` choose otherwise (the compose file's ``site`` service
    listens on 0.0.0.0:8000). ``hits`` lists every request answered, in order
    (thread-safe to read).
    """

    def __init__(self, directory: str | Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.hits: list[Hit] = []
        lock = threading.Lock()
        hits = self.hits
        root = str(directory)

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, directory=root, **kwargs)

            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                with lock:
                    hits.append(Hit(self.path, int(code), self.headers.get("User-Agent", "")))

            def log_message(self, format: str, *args: Any) -> None:
                pass  # no access log on stderr

        self._httpd = http.server.ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="quotesite", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>/`` (the host given, if another)."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/"

    def paths(self, status: int | None = 200) -> set[str]:
        """Paths answered so far (with ``status``, or any status for ``None``)."""
        return {h.path for h in list(self.hits) if status is None or h.status == status}

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> SiteServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_site(directory: str | Path) -> tuple[str, Callable[[], None]]:
    """Serve ``directory`` on 127.0.0.1 in a thread: returns ``(url, stop)``."""
    server = SiteServer(directory)
    return server.url, server.stop


# Manual use, and the compose file's site service:
#   python -m producer.sample_site [DIR [PAGES [HOST:PORT]]]   (default: 127.0.0.1, a free port)
if __name__ == "__main__":  # pragma: no cover
    import sys
    import time

    site_dir = sys.argv[1] if len(sys.argv) > 1 else "quotesite"
    exp = generate_site(site_dir, pages=int(sys.argv[2]) if len(sys.argv) > 2 else 3)
    bind_host, _, bind_port = (sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1:0").rpartition(":")
    site = SiteServer(site_dir, host=bind_host, port=int(bind_port))
    print(f"{len(exp.quotes)} quotes, {len(exp.authors)} authors at {site.url} (Ctrl-C stops)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        site.stop()
