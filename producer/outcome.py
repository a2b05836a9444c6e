"""How a crawl ended, as an exit status and one line saying why.

Scrapy's ``crawl`` exits 0 after any crawl that started, whatever happened.
A producer is run by schedulers and supervisors that only see the exit
status, so ``CrawlWatch`` follows the crawl through Scrapy's signals and
decides at the end (``verdict``):

====  ================================================================
code  meaning
====  ================================================================
0     the crawl scraped items and every one is in the stream
1     the crawl could not start: bad settings, or the spider's start
      requests failed (``finish_reason`` ``start_error``, e.g. a start
      URL without a scheme)
3     the site failed: no page could be fetched (connection refused, DNS,
      timeouts, an HTTP error status after the retries, robots.txt)
4     the crawl fetched pages but scraped no items
5     items were not delivered to the stream (``stream/undelivered``)
====  ================================================================

(2 is Scrapy's own: a usage error on the command line.) The first that
applies wins, in the order 1, 5, 3, 4. Only the start of a crawl decides
code 3: a page failing halfway through a crawl that fetched others is
Scrapy's usual business (``log_count/ERROR``, the ``downloader/`` stats).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK
from twisted.python.failure import Failure

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_NOT_STARTED = 1
EXIT_SITE_FAILED = 3
EXIT_NO_ITEMS = 4
EXIT_UNDELIVERED = 5

#: The spider close reason (``finish_reason`` stat) after a delivery failure.
UNDELIVERED_REASON = "stream_unavailable"
#: Stats where the verdict is kept for the ``crawl`` command (and the stats dump).
EXIT_CODE_STAT = "crawl/exit_code"
EXIT_REASON_STAT = "crawl/exit_reason"

_EXCEPTION_STATS = "downloader/exception_type_count/"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """A crawl's exit status and the reason, in one line."""

    code: int
    reason: str


class CrawlWatch:
    """Follows one crawl's pages and start, and gives the verdict at its end."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        #: The first request scheduled (the start page).
        self.start_url: str | None = None
        #: Responses to the spider's own requests (robots.txt and the like not counted).
        self.pages = 0
        #: Of those, the ones with a 2xx status.
        self.pages_ok = 0
        #: The last response with an error status: (status, url).
        self.last_error: tuple[int, str] | None = None
        #: Why the start requests could not be made, if they could not.
        self.start_failure: str | None = None
        crawler.signals.connect(self._scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(self._received, signal=signals.response_received)
        crawler.signals.connect(self._spider_error, signal=signals.spider_error)

    def _scheduled(self, request: Request, **kwargs: Any) -> None:
        if self.start_url is None:
            self.start_url = request.url

    def _received(self, response: Response, request: Request, **kwargs: Any) -> None:
        if request.callback is NO_CALLBACK:  # robots.txt, media pipelines' downloads
            return
        self.pages += 1
        if 200 <= response.status < 300:
            self.pages_ok += 1
        elif response.status >= 400:
            self.last_error = (response.status, response.url)

    def _spider_error(self, failure: Failure, response: Response | None, **kwargs: Any) -> None:
        if response is None and self.start_failure is None:  # raised while reading start()
            self.start_failure = failure.getErrorMessage()

    def verdict(self) -> Outcome:
        """The exit status the crawl deserves, from what was seen and the final stats."""
        stats = self.crawler.stats
        value = stats.get_value if stats is not None else (lambda name, default=None: default)
        reason = value("finish_reason")
        undelivered = int(value("stream/undelivered", 0) or 0)
        items = int(value("item_scraped_count", 0) or 0)
        if reason == "start_error":
            why = self.start_failure or "the spider's start requests failed"
            return Outcome(EXIT_NOT_STARTED, f"the crawl could not start: {why}")
        if undelivered or reason == UNDELIVERED_REASON:
            return Outcome(
                EXIT_UNDELIVERED, f"{undelivered} item(s) were not delivered to the stream"
            )
        if self.pages_ok == 0 and items == 0:
            failure = self._site_failure(stats.get_stats() if stats is not None else {})
            if failure is not None:
                return Outcome(EXIT_SITE_FAILED, failure)
        if items == 0:
            return Outcome(
                EXIT_NO_ITEMS,
                f"no items scraped from {self.pages} page(s) (finish_reason {reason})",
            )
        return Outcome(EXIT_OK, f"{items} item(s) scraped and delivered")

    def _site_failure(self, stats: dict[str, Any]) -> str | None:
        """Why no page came back, if something failed; ``None`` if nothing was even tried."""
        start = self.start_url or "the start page"
        if self.last_error is not None:
            status, url = self.last_error
            retried = " after retries" if stats.get("retry/max_reached") else ""
            return f"the site answered HTTP {status} for {url}{retried}"
        errors = sorted(
            name.removeprefix(_EXCEPTION_STATS).rsplit(".", 1)[-1]
            for name in stats
            if name.startswith(_EXCEPTION_STATS)
        )
        if errors:
            return f"could not fetch {start}: {', '.join(errors)}"
        if stats.get("robotstxt/forbidden"):
            return f"robots.txt forbids {start}"
        if self.start_url is not None:
            return f"no page could be fetched from {start}"
        return None

    def conclude(self) -> Outcome:
        """The verdict, logged (one line) and kept in the stats for the ``crawl`` command."""
        outcome = self.verdict()
        stats = self.crawler.stats
        if stats is not None:
            stats.set_value(EXIT_CODE_STAT, outcome.code)
            stats.set_value(EXIT_REASON_STAT, outcome.reason)
        if outcome.code != EXIT_OK:
            log.error("Crawl failed (exit status %d): %s", outcome.code, outcome.reason)
        return outcome
