"""``LogFormatter`` without the per-item and per-page DEBUG records below ``LOG_LEVEL``.

Scrapy asks its log formatter for a "Scraped from ..." message for every
item and a "Crawled (200) ..." one for every response, both at DEBUG, and
logs them. Its root logger passes everything and the handler filters by
``LOG_LEVEL``, so at the default INFO each message still builds a
``LogRecord`` (caller lookup included) only to be thrown away: about 15 us
per item, a third of Scrapy's own per-item work when a pipeline is fed
items alone (bench case 6). Returning ``None`` is Scrapy's documented way to
skip a message; with ``LOG_LEVEL=DEBUG`` both are logged as before.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.logformatter import LogFormatter, LogFormatterResult
from twisted.python.failure import Failure


class QuietLogFormatter(LogFormatter):
    """Skips ``crawled`` and ``scraped`` messages unless the crawl logs at DEBUG."""

    def __init__(self, debug: bool) -> None:
        self.debug = debug

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> QuietLogFormatter:
        settings = crawler.settings
        level = settings.get("LOG_LEVEL")
        number = logging.getLevelName(level.upper()) if isinstance(level, str) else level
        enabled = settings.getbool("LOG_ENABLED", True)
        return cls(enabled and (not isinstance(number, int) or number <= logging.DEBUG))

    # Scrapy's stubs say these return a result; its scraper and engine skip
    # the message on None (documented for LogFormatter).
    def crawled(  # type: ignore[override]
        self, request: Request, response: Response, spider: Spider
    ) -> LogFormatterResult | None:
        return super().crawled(request, response, spider) if self.debug else None

    def scraped(  # type: ignore[override]
        self, item: Any, response: Response | Failure | None, spider: Spider
    ) -> LogFormatterResult | None:
        return super().scraped(item, response, spider) if self.debug else None
