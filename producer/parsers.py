"""What each variant of the quotes site shows, read from one response.

Pure functions from a ``Response`` (or the API's JSON) to records, so that
each page shape is tested on its own. A listing page gives a ``Listing``:
its quotes, the Goodreads link of each author where the page shows one, and
the URL of the next page. No browser: the JavaScript variants carry their
records as a JSON array after ``var data =``, read with the standard
library's JSON decoder from that point on.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
import urllib.parse
from typing import Any

from scrapy.http import Response, TextResponse

from producer.items import AuthorItem, QuoteItem


@dataclasses.dataclass
class Listing:
    """One page of a list of quotes."""

    quotes: list[QuoteItem]
    #: Author page URL -> the author's Goodreads URL, where the page shows one.
    goodreads: dict[str, str] = dataclasses.field(default_factory=dict)
    next_url: str | None = None


def canonical_author_url(url: str) -> str:
    """The author page URL with its trailing slash (the site redirects to that form)."""
    return url if url.endswith("/") else url + "/"


def main_listing(response: Response) -> Listing:
    """``div.quote`` blocks (the main site, logged in or not) and the ``li.next`` link."""
    listing = Listing([], next_url=response.css("li.next a::attr(href)").get())
    for quote in response.css("div.quote"):
        href = quote.xpath(".//a[normalize-space()='(about)']/@href").get()
        author_url = canonical_author_url(response.urljoin(href)) if href else ""
        listing.quotes.append(
            QuoteItem(
                text=quote.css("span.text::text").get(default=""),
                author=quote.css("small.author::text").get(default="").strip(),
                tags=quote.css("div.tags a.tag::text").getall(),
                author_url=author_url,
                page_url=response.url,
            )
        )
        goodreads = quote.xpath(".//a[normalize-space()='(Goodreads page)']/@href").get()
        if author_url and goodreads:
            listing.goodreads[author_url] = goodreads
    if listing.next_url:
        listing.next_url = response.urljoin(listing.next_url)
    return listing


_DATA = re.compile(r"\bvar\s+data\s*=\s*")
#: The Next button's target when only a click handler knows it (``/js-onclick/``).
_ONCLICK_NEXT = re.compile(
    r"""\.next\s*>\s*a["']\s*\)\s*\.on\(\s*["']click["']\s*,\s*function\s*\(\s*\)\s*\{\s*"""
    r"""window\.location\.href\s*=\s*["']([^"']+)["']"""
)


def script_data(response: TextResponse) -> list[dict[str, Any]] | None:
    """The JSON array after ``var data =`` in the page's scripts; ``None`` if there is none."""
    for script in response.xpath("//script/text()").getall():
        found = _DATA.search(script)
        if found is None:
            continue
        try:
            data, _ = json.JSONDecoder().raw_decode(script, found.end())
        except ValueError:
            continue
        if isinstance(data, list):
            return data
    return None


def script_listing(response: TextResponse) -> Listing:
    """The JavaScript variants: records in a script, Next as a link or only in a click handler."""
    data = script_data(response) or []
    listing = records_listing(data, response.url)
    if response.css("li.next"):
        href = response.css("li.next a::attr(href)").get()
        if href is None:
            onclick = _ONCLICK_NEXT.search(" ".join(response.xpath("//script/text()").getall()))
            href = onclick.group(1) if onclick else None
        listing.next_url = response.urljoin(href) if href else None
    return listing


def api_listing(response: TextResponse, page: int) -> Listing:
    """One answer of ``/api/quotes?page=N``; its next page while ``has_next`` is true."""
    document = response.json()
    if not isinstance(document, dict):
        return Listing([])
    listing = records_listing(document.get("quotes") or [], response.url)
    if document.get("has_next") is True:
        listing.next_url = response.urljoin(f"/api/quotes?page={page + 1}")
    return listing


def records_listing(records: list[Any], page_url: str) -> Listing:
    """Quotes from the site's data records ``{"text", "tags", "author": {"name", "slug"}}``.

    The slug gives the author page, the same URL the main site's "(about)" link
    leads to (made absolute against ``page_url``).
    """
    listing = Listing([])
    for record in records:
        if not isinstance(record, dict):
            continue
        author = record.get("author")
        if not isinstance(author, dict):
            author = {}
        slug = author.get("slug")
        tags = record.get("tags")
        listing.quotes.append(
            QuoteItem(
                text=str(record.get("text") or ""),
                author=str(author.get("name") or "").strip(),
                tags=[str(t) for t in tags] if isinstance(tags, list) else [],
                author_url=_author_url(page_url, slug),
                page_url=page_url,
            )
        )
    return listing


def _author_url(page_url: str, slug: Any) -> str:
    if not isinstance(slug, str) or not slug:
        return ""
    return urllib.parse.urljoin(page_url, f"/author/{slug}/")


def table_listing(response: Response) -> Listing:
    """``/tableful/``: a cell ``TEXT Author: NAME``, the next row ``Tags: ...``; no classes."""
    listing = Listing([])
    rows = response.xpath("//table//tr")
    for row, following in itertools.pairwise(rows):
        cell = "".join(row.xpath("./td[1]/text()").getall()).strip()
        tags_cell = following.xpath("./td[1]")
        if " Author: " not in cell or not tags_cell.xpath("normalize-space()").get("").startswith(
            "Tags:"
        ):
            continue
        text, author = cell.rsplit(" Author: ", 1)
        listing.quotes.append(
            QuoteItem(
                text=text,
                author=author.strip(),
                tags=[t.strip() for t in tags_cell.xpath("./a/text()").getall()],
                page_url=response.url,
            )
        )
    href = response.xpath("//tr/td/a[starts-with(normalize-space(), 'Next')]/@href").get()
    listing.next_url = response.urljoin(href) if href else None
    return listing


def author_page(response: Response, goodreads_url: str = "") -> AuthorItem:
    """``/author/<slug>/``: name (the page title), birth, description (stripped)."""
    details = response.css("div.author-details")
    return AuthorItem(
        name=details.css("h3.author-title::text").get(default="").strip(),
        born_date=details.css("span.author-born-date::text").get(default="").strip(),
        born_location=details.css("span.author-born-location::text").get(default="").strip(),
        description="".join(details.css("div.author-description ::text").getall()).strip(),
        url=response.url,
        goodreads_url=goodreads_url,
    )


def logged_in(response: Response) -> bool:
    """Whether the page shows the Logout link (a logged-in visitor's header)."""
    return bool(response.xpath("//a[normalize-space()='Logout']"))


def form_error(response: Response) -> str:
    """The error a form page shows (``p.error``), or an empty string."""
    return " ".join(response.css("p.error ::text").getall()).strip()


def options(response: Response, select: str) -> list[str]:
    """The non-empty choices of the form's ``<select name=...>``."""
    values = response.xpath(f"//select[@name='{select}']/option/@value").getall()
    return [v for v in values if v.strip()]


def search_results(response: Response) -> list[str]:
    """The quote texts among the results of ``/filter.aspx``."""
    return [t.strip() for t in response.css("div.results div.quote span::text").getall()]
