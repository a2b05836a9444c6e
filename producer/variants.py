"""The faces of the quotes site: each variant's name and the path a crawl starts at.

quotes.toscrape.com shows the same quotes in several ways (the sample site,
``producer.sample_site``, serves each one the same way). A crawl picks its
variant from ``-a variant=NAME``, or from the start URL's path.
"""

from __future__ import annotations

import urllib.parse

#: Each variant and its start path on the site.
VARIANTS: dict[str, str] = {
    "main": "/",
    "js": "/js/",
    "js-delayed": "/js-delayed/",
    "js-onclick": "/js-onclick/",
    "scroll": "/scroll",
    "tableful": "/tableful/",
    "login": "/login",
    "search": "/search.aspx",
}

#: Path prefixes that identify a variant, most specific first (anything else: main).
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("/js-delayed", "js-delayed"),
    ("/js-onclick", "js-onclick"),
    ("/js/", "js"),
    ("/scroll", "scroll"),
    ("/api/quotes", "scroll"),
    ("/tableful", "tableful"),
    ("/login", "login"),
    ("/search.aspx", "search"),
    ("/filter.aspx", "search"),
)


def detect_variant(url: str) -> str:
    """The variant a URL belongs to, from its path (``main`` if none matches)."""
    path = urllib.parse.urlsplit(url).path or "/"
    if path == "/js":
        return "js"
    return next((name for prefix, name in _PREFIXES if path.startswith(prefix)), "main")


def variant_url(site: str, variant: str) -> str:
    """Where a crawl of ``variant`` starts on the site at ``site`` (any URL of it)."""
    try:
        path = VARIANTS[variant]
    except KeyError:
        raise ValueError(
            f"unknown variant {variant!r}: choose one of {', '.join(VARIANTS)}"
        ) from None
    return urllib.parse.urljoin(site, path)
