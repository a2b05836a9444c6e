"""The ``quotes`` spider: every quote of the site, and every author once.

``scrapy crawl quotes [-a start_url=URL]`` starts at the site's first page,
follows the "Next" link (``li.next a``) to the end, yields a ``QuoteItem`` per
quote and requests each author's page once, yielding an ``AuthorItem`` from it.
A page without quotes ends the pagination, whatever links it has.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.http import Response

from producer.items import AuthorItem, QuoteItem

DEFAULT_START_URL = "https://quotes.toscrape.com/"


def canonical_author_url(url: str) -> str:
    """The author page URL with its trailing slash (the site redirects to that form)."""
    return url if url.endswith("/") else url + "/"


class QuotesSpider(scrapy.Spider):
    name = "quotes"

    def __init__(self, start_url: str = DEFAULT_START_URL, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_url = start_url
        self._authors_requested: set[str] = set()

    async def start(self) -> AsyncIterator[Any]:
        yield scrapy.Request(self.start_url, callback=self.parse)

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        quotes = response.css("div.quote")
        if not quotes:
            self.logger.info("No quotes on %s: end of the pagination", response.url)
            return
        for quote in quotes:
            href = quote.css("span a::attr(href)").get()
            author_url = canonical_author_url(response.urljoin(href)) if href else ""
            yield QuoteItem(
                text=quote.css("span.text::text").get(default=""),
                author=quote.css("small.author::text").get(default="").strip(),
                tags=quote.css("div.tags a.tag::text").getall(),
                author_url=author_url,
                page_url=response.url,
            )
            if author_url and author_url not in self._authors_requested:
                self._authors_requested.add(author_url)
                yield scrapy.Request(author_url, callback=self.parse_author)
        next_href = response.css("li.next a::attr(href)").get()
        if next_href:
            yield response.follow(next_href, callback=self.parse)

    def parse_author(self, response: Response) -> Iterator[AuthorItem]:
        details = response.css("div.author-details")
        yield AuthorItem(
            name=details.css("h3.author-title::text").get(default="").strip(),
            born_date=details.css("span.author-born-date::text").get(default="").strip(),
            born_location=details.css("span.author-born-location::text").get(default="").strip(),
            description="".join(details.css("div.author-description ::text").getall()).strip(),
            url=response.url,
        )
