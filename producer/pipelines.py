"""Item pipelines: validate each record, then deliver it to the stream.

``ValidationPipeline`` drops a record missing its identity (a quote without
text or author, an author without a name) with a logged reason and the
``validation/dropped`` stats. ``StreamPipeline`` puts every other item, as one
envelope entry, in the buffer of a ``Batcher`` (see ``producer.batcher``:
batches of pipelined XADDs from a worker thread) and returns it at once; it
waits only while the buffer is full. Closing the spider sends what is left
and waits for Redis. When a batch can't be delivered by
``STREAM_RETRY_TIMEOUT``, it closes the spider with the reason
``stream_unavailable``, logs how many items were not delivered, and the
project's ``crawl`` command exits with status 1.
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
from producer.envelopes import to_envelope
from producer.items import AuthorItem, QuoteItem
from streamlib import PartitionedProducer, StreamProducer, client_from_url, mask_url
from streamlib.connection import ConnectionOptions
from streamlib.settings import load

log = logging.getLogger(__name__)

#: The spider close reason (``finish_reason`` stat) after a delivery failure.
CLOSE_REASON = "stream_unavailable"

#: Fields that make up each record's identity: never sent empty.
REQUIRED: dict[type, tuple[str, ...]] = {QuoteItem: ("text", "author"), AuthorItem: ("name",)}


class InvalidItem(DropItem):
    """A record missing a required field (counted under ``validation/dropped``)."""


class UndeliveredItem(DropItem):
    """An item whose batch could not be put in the stream."""


class ValidationPipeline:
    """Drops records missing a required field, with the reason in the log and stats."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ValidationPipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        # Our own dataclasses: their fields are read directly, no ItemAdapter.
        required = REQUIRED.get(type(item))
        if required is not None and not any(_blank(getattr(item, f)) for f in required):
            return item
        stats = self.crawler.stats
        assert stats is not None
        stats.inc_value("validation/dropped")
        if required is None:
            stats.inc_value("validation/dropped/unknown_type")
            raise InvalidItem(f"unknown record type {type(item).__name__}", log_level="WARNING")
        missing = [name for name in required if _blank(getattr(item, name))]
        for name in missing:
            stats.inc_value(f"validation/dropped/missing_{name}")
        source = getattr(item, "page_url", None) or getattr(item, "url", None)
        raise InvalidItem(
            f"{type(item).__name__} missing {', '.join(missing)} (from {source})",
            log_level="WARNING",
        )


def _blank(value: Any) -> bool:
    """Empty, ``None`` or only whitespace."""
    return not value or (type(value) is str and value.isspace())


class StreamPipeline:
    """Delivers items to the Redis Stream in batches, without blocking the reactor."""

    def __init__(self, crawler: Crawler, config: StreamConfig) -> None:
        self.crawler = crawler
        self.config = config
        self._batcher: Batcher | None = None
        self._backpressure: Backpressure | None = None
        self._closing: asyncio.Task[None] | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StreamPipeline:
        pipeline = cls(crawler, StreamConfig.from_settings(crawler.settings))
        # Connected after the CoreStats extension's handler, so it runs after it.
        crawler.signals.connect(pipeline._spider_closed, signal=signals.spider_closed)
        return pipeline

    async def open_spider(self) -> None:
        config = self.config
        # REDIS_USERNAME / REDIS_PASSWORD(_FILE) / REDIS_TLS_* as everywhere else.
        client = client_from_url(config.redis_url, load(ConnectionOptions))
        producer: StreamProducer | PartitionedProducer
        if config.partitions > 1:  # each item to partition crc32(key) mod P
            producer = PartitionedProducer(
                client,
                config.stream,
                config.partitions,
                batch_size=config.batch_size,
                retry_timeout=config.retry_timeout,
            )
        else:
            producer = StreamProducer(
                client,
                config.stream,
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
            self._backpressure = Backpressure(
                client,
                config.stream,
                config.backpressure_group,
                high=config.backpressure_high,
                low=config.backpressure_low,
                interval=config.backpressure_interval,
                pause=engine.pause,
                resume=engine.unpause,
            )
            self._backpressure.start()

    async def process_item(self, item: Any) -> Any:
        """Buffer the item's envelope and return at once; wait only while the buffer is full."""
        batcher = self._batcher
        assert batcher is not None
        try:
            room = batcher.submit(to_envelope(item))
            if room is not None:
                await room
        except DeliveryFailed as exc:
            raise UndeliveredItem(
                f"not delivered to the stream: {exc}", log_level="WARNING"
            ) from exc
        return item

    async def close_spider(self) -> None:
        batcher = self._batcher
        assert batcher is not None
        if self._backpressure is not None:
            await self._backpressure.stop()
        await batcher.drain()
        batcher.close()
        batcher.producer.client.close()
        self._record_stats()
        producer = batcher.producer
        log.info(
            "Stream summary: sent=%d batches=%d retries=%d undelivered=%d",
            producer.sent,
            producer.batches,
            producer.retries,
            batcher.undelivered,
        )
        if batcher.undelivered:
            log.error(
                "%d item(s) NOT delivered to stream %r at %s: %s",
                batcher.undelivered,
                self.config.stream,
                mask_url(self.config.redis_url),
                batcher.failure,
            )

    def _spider_closed(self, reason: str) -> None:
        """A failure known only once the crawl had ended still fails it (``finish_reason``)."""
        stats, batcher = self.crawler.stats, self._batcher
        if stats is None or batcher is None or not batcher.undelivered or reason == CLOSE_REASON:
            return
        log.error(
            "Delivery failed after the crawl ended (%s): finish_reason is %r",
            reason,
            CLOSE_REASON,
        )
        stats.set_value("finish_reason", CLOSE_REASON)

    def _stop_crawl(self, cause: BaseException) -> None:
        """Close the spider once, after the first delivery failure (the batcher's callback)."""
        engine = self.crawler.engine
        if self._closing is not None or engine is None or engine.spider is None:
            return
        log.error("Redis stream unavailable: stopping the crawl (%s)", cause)
        self._closing = asyncio.ensure_future(engine.close_spider_async(reason=CLOSE_REASON))

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
