"""``scrapy crawl`` that exits with the crawl's verdict (``producer.outcome``).

Scrapy's own ``crawl`` exits 0 after any crawl that started, whatever
happened; a producer whose site failed, that found nothing, or whose items
did not reach the stream must not look like a success to its supervisor (a
container, CI, a shell script). ``StreamPipeline`` decides the status when
the spider closes and keeps it in the ``crawl/exit_code`` stat; this command
exits with it, and with 1 and one line saying why when the crawl could not
even be set up (a bad setting, a bad spider argument). Any project can use
it: ``COMMANDS_MODULE = "producer.commands"``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

from scrapy.commands.crawl import Command as ScrapyCrawl
from scrapy.exceptions import UsageError
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from producer.outcome import EXIT_CODE_STAT, EXIT_NOT_STARTED
from streamlib import StreamlibError

log = logging.getLogger("producer.outcome")

#: Set-up errors whose message says it all: logged in one line, no traceback.
EXPLAINED = (StreamlibError, ValueError)


class Command(ScrapyCrawl):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("run one spider: scrapy crawl <spider>")
        assert self.crawler_process is not None
        crawler = self._create_crawler(args[0])
        running: Any = self.crawler_process.crawl(crawler, **opts.spargs)
        if isinstance(running, Deferred):
            running.addErrback(lambda failure: _not_started(failure.value))
        elif isinstance(running, asyncio.Future):
            running.add_done_callback(_report_setup_error)
        self.crawler_process.start()
        if self.crawler_process.bootstrap_failed:
            self.exitcode = EXIT_NOT_STARTED
        elif crawler.stats is not None:
            self.exitcode = int(crawler.stats.get_value(EXIT_CODE_STAT, 0))


def _report_setup_error(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:  # retrieved: no asyncio traceback
        _not_started(task.exception())


def _not_started(exc: BaseException | Failure | None) -> None:
    """The one line for a crawl that could not be set up (a traceback only for the unexpected)."""
    if isinstance(exc, Failure):
        exc = exc.value
    log.error(
        "Crawl failed (exit status %d): the crawl could not start: %s",
        EXIT_NOT_STARTED,
        exc,
        exc_info=None if isinstance(exc, EXPLAINED) else exc,
    )
