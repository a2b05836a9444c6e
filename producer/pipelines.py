"""Item pipelines: check each record's identity, then deliver it to the stream.

``StreamPipeline`` works in any Scrapy project from settings alone
(``ITEM_PIPELINES = {"producer.pipelines.StreamPipeline": 800}`` and the
``STREAM_*`` settings; every default lives in ``producer.config``). Each item
becomes one envelope (``producer.envelopes``: type, stable key, data) in the
buffer of a ``Batcher`` (``producer.batcher``: batches of pipelined XADDs
from a worker thread) and is returned at once; the pipeline waits only while
the buffer is full. Closing the spider sends what is left and waits for
Redis. When a batch can't be delivered by ``STREAM_RETRY_TIMEOUT``, it closes
the spider with the reason ``stream_unavailable`` and logs how many items
were not delivered.

The pipeline also logs the crawl's progress (``producer.progress``),
decides its exit status (``producer.outcome``; the project's ``crawl``
command exits with it), pauses the crawl while a consumer group lags
(``producer.backpressure``), and keeps Scrapy's cookie handling off the
internet (``producer.suffixlist``).

``ValidationPipeline`` makes the same identity check early, before other
pipelines: a record whose key fields are blank (a quote without text or
author, an author without a name) is dropped with a logged reason and the
``validation/dropped`` stats.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from producer.backpressure import Backpressure
from producer.batcher import Batcher, DeliveryFailed
from producer.config import StreamConfig
from producer.envelopes import ItemKinds, UnusableItem
from producer.outcome import UNDELIVERED_REASON, CrawlWatch
from producer.progress import ProgressLog, Snapshot, rate
from producer.suffixlist import use_bundled_suffix_list
from streamlib import PartitionedProducer, client_from_url, mask_url
from streamlib.connection import ConnectionOptions
from streamlib.flow import GroupLag, Throttle
from streamlib.settings import load

log = logging.getLogger(__name__)


class InvalidItem(DropItem):
    """A record without its identity, or without a JSON form (``validation/dropped``)."""


class UndeliveredItem(DropItem):
    """An item whose batch could not be put in the stream."""


def item_kinds(crawler: Crawler, config: StreamConfig) -> ItemKinds:
    """Types and keys per ``STREAM_ITEM_TYPES`` and ``STREAM_KEY_FIELDS``; dicts: the spider."""
    spider = crawler.spider
    return ItemKinds(
        config.item_types, config.key_fields, dict_type=spider.name if spider else "dict"
    )


def _invalid(crawler: Crawler, item: Any, exc: UnusableItem) -> InvalidItem:
    """Count the drop in the stats; the ``DropItem`` to raise."""
    stats = crawler.stats
    assert stats is not None
    stats.inc_value("validation/dropped")
    for reason in exc.reasons:
        stats.inc_value(f"validation/dropped/{reason}")
    source = getattr(item, "page_url", None) or getattr(item, "url", None)
    where = f" (from {source})" if isinstance(source, str) and source else ""
    return InvalidItem(f"{exc}{where}", log_level="WARNING")


class ValidationPipeline:
    """Drops records whose key fields are blank, with the reason in the log and stats."""

    def __init__(self, crawler: Crawler, kinds: ItemKinds) -> None:
        self.crawler = crawler
        self.kinds = kinds

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidationPipeline:
        return cls(crawler, item_kinds(crawler, StreamConfig.from_settings(crawler.settings)))

    def process_item(self, item: Any) -> Any:
        try:
            self.kinds.check(item)
        except UnusableItem as exc:
            raise _invalid(self.crawler, item, exc) from None
        return item


class StreamPipeline:
    """Delivers items to the Redis Stream in batches, without blocking the reactor."""

    def __init__(self, crawler: Crawler, config: StreamConfig) -> None:
        self.crawler = crawler
        self.config = config
        self.kinds = item_kinds(crawler, config)
        self.watch = CrawlWatch(crawler)
        self._batcher: Batcher | None = None
        self._backpressure: Backpressure | None = None
        self._progress: ProgressLog | None = None
        self._closing: asyncio.Task[None] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StreamPipeline:
        pipeline = cls(crawler, StreamConfig.from_settings(crawler.settings))
        use_bundled_suffix_list()
        # Connected after the CoreStats extension's handler, so it runs after it.
        crawler.signals.connect(pipeline._spider_closed, signal=signals.spider_closed)
        return pipeline

    async def open_spider(self) -> None:
        config = self.config
        # REDIS_USERNAME / REDIS_PASSWORD(_FILE) / REDIS_TLS_* as everywhere else.
        client = client_from_url(config.redis_url, load(ConnectionOptions))
        # Each item to partition crc32(key) mod P; P = 1 is the plain stream.
        producer = PartitionedProducer(
            client,
            config.stream,
            config.partitions,
            batch_size=config.batch_size,
            retry_timeout=config.retry_timeout,
        )
        self._batcher = Batcher(
            producer,
            batch_size=config.batch_size,
            max_delay=config.max_delay,
            max_pending=config.max_pending,
            on_failure=self._stop_crawl,
            on_batch=self._record_stats,
        )
        log.info(
            "Sending items to stream %r (%d partition(s)) at %s "
            "(batches of %d, max delay %gs, at most %d items pending, retry for %gs)",
            config.stream,
            config.partitions,
            mask_url(config.redis_url),
            config.batch_size,
            config.max_delay,
            config.max_pending,
            config.retry_timeout,
        )
        if config.backpressure_group is not None:
            engine = self.crawler.engine
            assert engine is not None
            lag = GroupLag(client, config.stream, config.backpressure_group, config.partitions)
            limits = config.backpressure_limits()
            log.info(
                "Backpressure on %s: pause at a lag of %d, resume at %d "
                "(STREAM_BACKPRESSURE_GROUP=off turns it off)",
                lag,
                limits.high,
                limits.low,
            )
            self._backpressure = Backpressure(
                Throttle(lag, limits),
                interval=config.backpressure_interval,
                pause=engine.pause,
                resume=engine.unpause,
            )
            self._backpressure.start()
        else:
            log.info(
                "Backpressure off: no consumer group to follow "
                "(GROUP or STREAM_BACKPRESSURE_GROUP names one)"
            )
        self._progress = ProgressLog(self._snapshot, config.progress_interval)
        self._progress.start()

    async def process_item(self, item: Any) -> Any:
        """Buffer the item's envelope and return at once; wait only while the buffer is full."""
        batcher = self._batcher
        assert batcher is not None
        try:
            room = batcher.submit(self.kinds.envelope(item))
            if room is not None:
                await room
        except UnusableItem as exc:
            raise _invalid(self.crawler, item, exc) from None
        except DeliveryFailed as exc:
            raise UndeliveredItem(
                f"not delivered to the stream: {exc}", log_level="WARNING"
            ) from exc
        return item

    async def close_spider(self) -> None:
        batcher = self._batcher
        assert batcher is not None
        if self._progress is not None:
            await self._progress.stop()
        if self._backpressure is not None:
            await self._backpressure.stop()
        await batcher.drain()
        batcher.close()
        batcher.producer.client.close()
        self._record_stats()
        if batcher.undelivered:
            log.error(
                "%d item(s) NOT delivered to stream %r at %s: %s",
                batcher.undelivered,
                self.config.stream,
                mask_url(self.config.redis_url),
                batcher.failure,
            )

    def _spider_closed(self, reason: str) -> None:
        """The summary line, and the crawl's verdict (``producer.outcome``)."""
        stats, batcher = self.crawler.stats, self._batcher
        if stats is not None and batcher is not None:
            if batcher.undelivered and reason != UNDELIVERED_REASON:
                # A failure known only once the crawl had ended still fails it.
                log.error(
                    "Delivery failed after the crawl ended (%s): finish_reason is %r",
                    reason,
                    UNDELIVERED_REASON,
                )
                stats.set_value("finish_reason", UNDELIVERED_REASON)
            self._log_summary()
        self.watch.conclude()

    def _log_summary(self) -> None:
        batcher, progress = self._batcher, self._progress
        assert batcher is not None
        producer = batcher.producer
        now = self._snapshot()
        first = progress.first if progress is not None and progress.first is not None else now
        stats = self.crawler.stats
        dropped = stats.get_value("item_dropped_count", 0) if stats is not None else 0
        log.info(
            "Stream summary: sent=%d batches=%d retries=%d undelivered=%d "
            "(%d pages, %d items, %d dropped, %.1f items/s over %.1fs)",
            producer.sent,
            producer.batches,
            producer.retries,
            batcher.undelivered,
            now.pages,
            now.items,
            dropped,
            rate(now, first),
            now.at - first.at,
        )

    def _snapshot(self) -> Snapshot:
        batcher, backpressure, stats = self._batcher, self._backpressure, self.crawler.stats
        assert batcher is not None
        return Snapshot(
            pages=self.watch.pages,
            items=stats.get_value("item_scraped_count", 0) if stats is not None else 0,
            sent=batcher.producer.sent,
            in_flight=batcher.pending,
            paused=backpressure.paused if backpressure is not None else None,
            lag=backpressure.lag if backpressure is not None else None,
        )

    def _stop_crawl(self, cause: BaseException) -> None:
        """Close the spider once, after the first delivery failure (the batcher's callback)."""
        engine = self.crawler.engine
        if self._closing is not None or engine is None or engine.spider is None:
            return
        log.error("Redis stream unavailable: stopping the crawl (%s)", cause)
        self._closing = asyncio.ensure_future(engine.close_spider_async(reason=UNDELIVERED_REASON))

    def _record_stats(self) -> None:
        stats, batcher = self.crawler.stats, self._batcher
        if stats is None or batcher is None:
            return
        stats.set_value("stream/sent", batcher.producer.sent)
        stats.set_value("stream/batches", batcher.producer.batches)
        stats.set_value("stream/retries", batcher.producer.retries)
        stats.set_value("stream/undelivered", batcher.undelivered)
        stats.set_value("stream/buffer_waits", batcher.waits)
        if self._backpressure is not None:
            stats.set_value("stream/backpressure_pauses", self._backpressure.pauses)
