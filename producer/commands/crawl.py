"""``scrapy crawl`` that also fails (exit status 1) when items were not delivered.

Scrapy's own ``crawl`` exits 0 whatever happened after start-up; a producer
whose items did not reach the stream must not look like a success to its
supervisor (a container, CI, a shell script).
"""

from __future__ import annotations

import argparse

from scrapy.commands.crawl import Command as ScrapyCrawl
from scrapy.exceptions import UsageError

from producer.pipelines import CLOSE_REASON


class Command(ScrapyCrawl):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("run one spider: scrapy crawl <spider>")
        assert self.crawler_process is not None
        crawler = self._create_crawler(args[0])
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        stats = crawler.stats
        undelivered = stats.get_value("stream/undelivered", 0) if stats is not None else 0
        reason = stats.get_value("finish_reason") if stats is not None else None
        if self.crawler_process.bootstrap_failed or undelivered or reason == CLOSE_REASON:
            self.exitcode = 1
