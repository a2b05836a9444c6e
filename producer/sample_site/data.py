"""The sample site's content: made-up authors and quotes, and what a crawl must yield.

Nothing here is copied from the real site. The data is shaped to catch
parsing mistakes: curly quotes, apostrophes, straight double quotes,
non-ASCII letters, ``<`` and ``&``, a quote with no tags, an author
description with surrounding whitespace, and one author whose byline differs
from the title of their page (``Émile Dupont fils`` vs ``Émile Dupont-fils``).
The content is a pure function of the page count, so the server rebuilds it
from ``site.json`` instead of reading rendered files.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

QUOTES_PER_PAGE = 10
#: Where the site's "(Goodreads page)" links point (the path comes from the author).
GOODREADS = "http://goodreads.com"


@dataclasses.dataclass(frozen=True)
class Author:
    slug: str
    byline: str  # the name under each quote
    name: str  # the title of the author's page
    born_date: str
    born_location: str
    description: str  # as written in the page, surrounding whitespace included
    goodreads_link: str  # a path on GOODREADS, as in the site's data

    @property
    def path(self) -> str:
        """The author page, in its canonical form (trailing slash)."""
        return f"/author/{self.slug}/"

    @property
    def goodreads_url(self) -> str:
        """The "(Goodreads page)" link a logged-in visitor sees."""
        return GOODREADS + self.goodreads_link


AUTHORS: tuple[Author, ...] = (
    Author(
        "Ada-Quill", "Ada Quill", "Ada Quill", "March 3, 1901", "in Leeds, England",
        "Ada Quill wrote short plays & long letters.", "/author/show/101.Ada_Quill",
    ),
    Author(
        "Emile-Dupont-fils", "Émile Dupont fils", "Émile Dupont-fils", "July 1, 1850",
        "in Lyon, France",
        "\n   Émile Dupont (the son) wrote \"plays\" that aren't his father's.  \n",
        "/author/show/102.Emile_Dupont_fils",
    ),
    Author(
        "Bo-OMalley", "Bo O'Malley", "Bo O'Malley", "June 9, 1977", "in Cork, Ireland",
        "  Bo O'Malley is a <fictional> poet.", "/author/show/103.Bo_O_Malley",
    ),
    Author(
        "J-R-Penn", "J.R. Penn", "J.R. Penn", "December 24, 1933", "in Austin, Texas",
        "J.R. Penn kept notebooks.\n\nMany of them.", "/author/show/104.J_R_Penn",
    ),
    Author(
        "Zoe-Lark", "Zoë Lark", "Zoë Lark", "May 5, 1988", "in Oslo, Norway",
        "Zoë Lark  sings.\t", "/author/show/105.Zoe_Lark",
    ),
)  # fmt: skip

TAGS = ("life", "love", "books", "humor", "truth", "wit", "time", "hope")


@dataclasses.dataclass(frozen=True)
class SiteQuote:
    """One quote of the site."""

    text: str
    author: Author
    tags: tuple[str, ...]


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


def _quote_tags(n: int) -> tuple[str, ...]:
    if n % 7 == 3:
        return ()  # quotes with no tags exist on the real site too
    count = 1 + n % 3
    return tuple(sorted({TAGS[(n * (i + 2)) % len(TAGS)] for i in range(count)}))


@dataclasses.dataclass(frozen=True)
class SiteData:
    """Everything the site shows: ``pages`` pages of quotes, and their authors."""

    pages: int
    #: The body of ``/robots.txt``; ``None``: no robots.txt (a 404).
    robots: str | None
    quotes: tuple[SiteQuote, ...]

    @classmethod
    def build(cls, pages: int, robots: str | None) -> SiteData:
        if pages < 1:
            raise ValueError("a site needs at least one page of quotes")
        quotes = []
        for page in range(1, pages + 1):
            for i in range(QUOTES_PER_PAGE):
                n = (page - 1) * QUOTES_PER_PAGE + i + 1
                author = AUTHORS[(n * 3 + page) % len(AUTHORS)]
                quotes.append(SiteQuote(_quote_text(n), author, _quote_tags(n)))
        return cls(pages, robots, tuple(quotes))

    def page(self, number: int) -> tuple[list[SiteQuote], bool]:
        """The quotes of list page ``number`` (from 1), and whether a next page exists."""
        if number < 1:
            return [], False
        start, end = (number - 1) * QUOTES_PER_PAGE, number * QUOTES_PER_PAGE
        return list(self.quotes[start:end]), len(self.quotes) > end

    @functools.cached_property
    def authors(self) -> dict[str, Author]:
        """The authors with a quote, by slug, in order of first appearance."""
        return {q.author.slug: q.author for q in self.quotes}

    @functools.cached_property
    def by_author_and_tag(self) -> dict[str, dict[str, list[SiteQuote]]]:
        """Byline -> tag -> quotes, in order of appearance (the search form's choices)."""
        found: dict[str, dict[str, list[SiteQuote]]] = {}
        for q in self.quotes:
            tags = found.setdefault(q.author.byline, {})
            for tag in q.tags:
                tags.setdefault(tag, []).append(q)
        return found

    def expected(self) -> Expected:
        """The records a complete crawl of the main site yields."""
        quotes = []
        for number in range(1, self.pages + 1):
            page_path = "/" if number == 1 else f"/page/{number}/"
            for q in self.page(number)[0]:
                quotes.append(
                    {
                        "text": q.text,
                        "author": q.author.byline,
                        "tags": list(q.tags),
                        "author_url": q.author.path,
                        "page_url": page_path,
                    }
                )
        authors = [
            {
                "name": a.name,
                "born_date": a.born_date,
                "born_location": a.born_location,
                "description": a.description.strip(),
                "url": a.path,
                "goodreads_url": "",
            }
            for a in self.authors.values()
        ]
        goodreads = {a.path: a.goodreads_url for a in self.authors.values()}
        return Expected(quotes=quotes, authors=authors, pages=self.pages, goodreads=goodreads)


@dataclasses.dataclass(frozen=True)
class Expected:
    """What a complete crawl of the generated site yields."""

    #: One dict per quote, in site order: text, author, tags, author_url, page_url (paths).
    quotes: list[dict[str, Any]]
    #: One dict per author that has a quote: name, born_date, born_location,
    #: description (stripped), url (path with trailing slash), goodreads_url
    #: (empty: the main site shows it only to a logged-in visitor).
    authors: list[dict[str, Any]]
    pages: int
    #: Author page path -> the Goodreads URL a logged-in crawl stores on the author.
    goodreads: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def paths(self) -> set[str]:
        """Every page path a complete crawl of the main site requests (without robots.txt)."""
        paths = {"/"} | {f"/page/{n}/" for n in range(2, self.pages + 1)}
        return paths | {a["url"] for a in self.authors}
