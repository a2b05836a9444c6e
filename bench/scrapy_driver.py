"""Item pipelines on their own, run as Scrapy runs them: N items through a real crawler.

    python -m bench.scrapy_driver PIPELINES_JSON ITEMS

(from the repository root, with ``STREAM_REDIS_URL`` and ``STREAM_NAME`` in the
environment, as ``scrapy crawl``). One process, the project's settings and
the asyncio reactor; ``ITEM_PIPELINES`` is ``PIPELINES_JSON``. A spider
requests one ``data:`` URL (no network, no parsing) and its callback yields
ITEMS ready-made ``QuoteItem``s: Scrapy's scraper then feeds them to the item
pipelines exactly as it feeds a page's items (``CONCURRENT_ITEMS`` at a
time, through the spider middlewares, the pipeline manager, the
``item_scraped`` signal and the stats), only without the downloading and
parsing that cap a crawl's rate.

The clock runs from the callback's first item to the ``spider_closed``
signal, which Scrapy sends after every pipeline's ``close_spider`` returned:
a pipeline that buffers pays for its final flush inside the window. Prints
one JSON object: items, items scraped, seconds, CPU seconds of the process
over the window (every thread, and the reactor thread alone).
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy import signals
from scrapy.crawler import AsyncCrawlerProcess
from scrapy.http import Response
from scrapy.utils.project import get_project_settings

from producer.items import QuoteItem

SITE = "http://127.0.0.1:8000"


def quote_items(count: int) -> list[QuoteItem]:
    """``count`` distinct quotes shaped like the site's (text, byline, 0-4 tags, URLs)."""
    words = ["change", "deep-thoughts", "thinking", "world", "life", "love", "humor", "truth"]
    return [
        QuoteItem(
            text=f"“Quote number {n}: the world as we have created it is a process of thinking.”",
            author=f"Author {n % 97}",
            tags=words[n % 5 : n % 5 + n % 4],
            author_url=f"{SITE}/author/Author-{n % 97}/",
            page_url=f"{SITE}/page/{n // 10 + 1}/",
        )
        for n in range(count)
    ]


class Clock:
    """Wall and CPU time from the first item to ``spider_closed``."""

    def __init__(self) -> None:
        self.t0 = self.t1 = 0.0
        self.cpu0 = self.cpu1 = 0.0
        #: CPU time of the reactor thread alone (the rest: worker threads).
        self.main0 = self.main1 = 0.0

    @staticmethod
    def _cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def start(self) -> None:
        self.cpu0, self.main0, self.t0 = self._cpu(), time.thread_time(), time.perf_counter()

    def stop(self) -> None:
        self.t1, self.main1, self.cpu1 = time.perf_counter(), time.thread_time(), self._cpu()


class FeedSpider(scrapy.Spider):
    """One ``data:`` response whose callback yields the prepared items."""

    name = "pipeline-feed"

    def __init__(self, items: list[QuoteItem], clock: Clock, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.items = items
        self.clock = clock

    async def start(self) -> AsyncIterator[Any]:
        yield scrapy.Request("data:,feed", callback=self.parse, dont_filter=True)

    def parse(self, response: Response, **kwargs: Any) -> Iterator[QuoteItem]:
        self.clock.start()
        yield from self.items


def main(pipelines: str, count: int) -> dict[str, Any]:
    """Feed ``count`` items to ``pipelines`` (JSON of ``ITEM_PIPELINES``); the measurement."""
    settings = get_project_settings()
    settings.set("ITEM_PIPELINES", json.loads(pipelines))
    settings.set("ROBOTSTXT_OBEY", False)
    settings.set("AUTOTHROTTLE_ENABLED", False)
    settings.set("LOG_LEVEL", "WARNING")
    items = quote_items(count)
    # The N items waiting to be fed would make every GC pass slower; a crawl
    # holds one page's items at a time. Freeze them out of the collector.
    gc.collect()
    gc.freeze()
    clock = Clock()
    process = AsyncCrawlerProcess(settings)
    crawler = process.create_crawler(FeedSpider)
    crawler.signals.connect(clock.stop, signal=signals.spider_closed)
    process.crawl(crawler, items=items, clock=clock)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats is not None else {}
    return {
        "items": count,
        "scraped": stats.get("item_scraped_count", 0),
        "finish_reason": stats.get("finish_reason"),
        "seconds": clock.t1 - clock.t0,
        "cpu_s": clock.cpu1 - clock.cpu0,
        "reactor_cpu_s": clock.main1 - clock.main0,
        "stream": {k: v for k, v in stats.items() if k.startswith("stream/")},
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]))))
