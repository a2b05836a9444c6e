"""The ``quotes`` spider: every quote of the site, and every author once, from any variant.

``scrapy crawl quotes [-a start_url=URL] [-a variant=NAME]`` reads the
variant from ``-a variant`` or else from the start URL's path
(``producer.variants``), and yields the same records with the same keys
from each one:

- ``main``, ``login``, ``js``, ``js-delayed``, ``js-onclick``, ``tableful``:
  list pages, followed through their Next link to the end; a page without
  quotes ends the pagination, whatever links it has. ``login`` first posts
  the login form (``-a username=...``, any non-empty name works on the
  site), then reads the main pages with their "(Goodreads page)" links.
- ``scroll``: the empty ``/scroll`` page, then ``/api/quotes?page=N`` while
  ``has_next`` is true.
- ``search``: ``/search.aspx``, each author, then each of their tags
  (``POST /filter.aspx``, the form's ``__VIEWSTATE`` carried along); a
  quote's tags are the tags it was found under, so it is yielded once all of
  its author's tags were searched. Quotes without tags can't be found so.

Each author page (``/author/<Slug>/``) is requested once, wherever the
variant links to it or its data gives the slug (main, login, JavaScript,
scroll); ``tableful`` and ``search`` show no author links.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

import scrapy
from scrapy.exceptions import CloseSpider
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from producer import parsers
from producer.items import AuthorItem, QuoteItem
from producer.parsers import Listing
from producer.variants import VARIANTS, detect_variant, variant_url

DEFAULT_START_URL = "https://quotes.toscrape.com/"

#: How each listing variant's pages are read.
LISTINGS: dict[str, Callable[[TextResponse], Listing]] = {
    "main": parsers.main_listing,
    "login": parsers.main_listing,
    "js": parsers.script_listing,
    "js-delayed": parsers.script_listing,
    "js-onclick": parsers.script_listing,
    "tableful": parsers.table_listing,
}


class QuotesSpider(scrapy.Spider):
    name = "quotes"

    def __init__(
        self,
        start_url: str | None = None,
        variant: str | None = None,
        username: str = "quotestream",
        password: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if variant is not None and variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}: choose one of {', '.join(VARIANTS)}")
        self.variant = variant or detect_variant(start_url or DEFAULT_START_URL)
        self.start_url = start_url or variant_url(DEFAULT_START_URL, self.variant)
        self.username = username
        self.password = password
        self._authors_requested: set[str] = set()
        self._search = SearchResults()

    async def start(self) -> AsyncIterator[Any]:
        first = {
            "scroll": self.parse_scroll,
            "login": self.parse_login,
            "search": self.parse_search,
        }
        yield scrapy.Request(self.start_url, callback=first.get(self.variant, self.parse))

    # -- list pages ----------------------------------------------------------------------

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        """A list page of a listing variant."""
        assert isinstance(response, TextResponse)
        yield from self._listing(response, LISTINGS[self.variant](response), self.parse)

    def parse_scroll(self, response: Response) -> Iterator[Any]:
        """``/scroll`` has no quotes: they come from the API, a page at a time."""
        yield response.follow("/api/quotes?page=1", self.parse_api, cb_kwargs={"page": 1})

    def parse_api(self, response: Response, page: int) -> Iterator[Any]:
        assert isinstance(response, TextResponse)
        listing = parsers.api_listing(response, page)
        yield from self._listing(response, listing, self.parse_api, {"page": page + 1})

    def _listing(
        self,
        response: Response,
        listing: Listing,
        callback: Callable[..., Iterable[Any]],
        cb_kwargs: dict[str, Any] | None = None,
    ) -> Iterator[Any]:
        """The page's quotes, a request per author not seen yet, and the next page."""
        if not listing.quotes:
            self.logger.info("No quotes on %s: end of the pagination", response.url)
            return
        for quote in listing.quotes:
            yield quote
            author_url = quote.author_url
            if author_url and author_url not in self._authors_requested:
                self._authors_requested.add(author_url)
                yield scrapy.Request(
                    author_url,
                    callback=self.parse_author,
                    cb_kwargs={"goodreads_url": listing.goodreads.get(author_url, "")},
                )
        if listing.next_url:
            yield scrapy.Request(listing.next_url, callback=callback, cb_kwargs=cb_kwargs)

    def parse_author(self, response: Response, goodreads_url: str = "") -> Iterator[AuthorItem]:
        yield parsers.author_page(response, goodreads_url)

    # -- login ---------------------------------------------------------------------------

    def parse_login(self, response: Response) -> Iterator[Any]:
        """Post the login form; its hidden ``csrf_token`` goes along."""
        assert isinstance(response, TextResponse)
        yield scrapy.FormRequest.from_response(
            response,
            formdata={"username": self.username, "password": self.password},
            callback=self.after_login,
        )

    def after_login(self, response: Response) -> Iterator[Any]:
        if not parsers.logged_in(response):
            reason = parsers.form_error(response) or "no Logout link after the login form"
            self.logger.error("Login as %r failed: %s", self.username, reason)
            raise CloseSpider("login_failed")
        self.logger.info("Logged in as %r", self.username)
        yield from self.parse(response)

    # -- search form ---------------------------------------------------------------------

    def parse_search(self, response: Response) -> Iterator[Any]:
        """The search form: one post per author (the view state comes along)."""
        assert isinstance(response, TextResponse)
        for author in parsers.options(response, "author"):
            yield scrapy.FormRequest.from_response(
                response,
                formdata={"author": author},
                callback=self.parse_search_author,
                cb_kwargs={"author": author},
            )

    def parse_search_author(self, response: Response, author: str) -> Iterator[Any]:
        """An author chosen: one post per tag, with this answer's view state."""
        assert isinstance(response, TextResponse)
        tags = parsers.options(response, "tag")
        self._search.expect(author, len(tags))
        for tag in tags:
            yield scrapy.FormRequest.from_response(
                response,
                formdata={"author": author, "tag": tag},
                callback=self.parse_search_results,
                errback=self.search_failed,
                cb_kwargs={"author": author, "tag": tag},
            )

    def parse_search_results(self, response: Response, author: str, tag: str) -> Iterator[Any]:
        found = parsers.search_results(response)
        yield from self._search.add(author, tag, found, response.url)

    def search_failed(self, failure: Failure) -> None:
        kwargs = failure.request.cb_kwargs  # type: ignore[attr-defined]
        self.logger.error(
            "Search for %r, tag %r failed: %s; that author's quotes are left out "
            "(their tags would be incomplete)",
            kwargs["author"],
            kwargs["tag"],
            failure.getErrorMessage(),
        )
        self._search.fail(kwargs["author"])


class SearchResults:
    """Quotes found through the search form, each held until its author's tags are all in."""

    def __init__(self) -> None:
        self._pending: dict[str, int] = {}
        self._tags: dict[str, dict[str, set[str]]] = {}
        self._failed: set[str] = set()

    def expect(self, author: str, searches: int) -> None:
        self._pending[author] = searches
        self._tags.setdefault(author, {})

    def add(self, author: str, tag: str, texts: list[str], page_url: str) -> list[QuoteItem]:
        """Record one tag's results; the author's quotes once it was the last search."""
        for text in texts:
            self._tags[author].setdefault(text, set()).add(tag)
        return self._done(author, page_url)

    def fail(self, author: str) -> None:
        """One search failed: the author's quotes are dropped (their tags would be incomplete)."""
        self._failed.add(author)
        self._done(author, "")

    def _done(self, author: str, page_url: str) -> list[QuoteItem]:
        self._pending[author] -= 1
        if self._pending[author] > 0:
            return []
        found = self._tags.pop(author)
        if author in self._failed:
            return []
        return [
            QuoteItem(text=text, author=author, tags=sorted(tags), page_url=page_url)
            for text, tags in found.items()
        ]
