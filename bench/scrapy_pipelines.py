"""Item pipelines the Scrapy case compares the project's with.

``RpushPipeline`` is the scrapy-redis way, written plainly: each item
serialised to JSON and sent with one RPUSH, in a thread of the reactor's pool
(``deferToThread``), so the crawl never waits on Redis in the reactor thread
but pays one round trip per item. ``NullPipeline`` does nothing: the crawl's
own rate, which no pipeline should lower.

Loaded by ``scrapy crawl`` through ``-s ITEM_PIPELINES=...``; they read the
same ``STREAM_REDIS_URL`` and ``STREAM_NAME`` settings as the project's
pipeline, the same way (``StreamConfig``: Scrapy settings, then the
environment, then the defaults; the list key is ``<STREAM_NAME>:items``).
"""

from __future__ import annotations

import json
from typing import Any

import redis
from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThread

from producer.config import StreamConfig


class RpushPipeline:
    """One RPUSH of the item's JSON per item, in a thread (as scrapy-redis's RedisPipeline)."""

    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.key = key
        self.server: redis.Redis | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RpushPipeline:
        config = StreamConfig.from_settings(crawler.settings)
        return cls(config.redis_url, f"{config.stream}:items")

    def open_spider(self) -> None:
        self.server = redis.Redis.from_url(self.url)

    def close_spider(self) -> None:
        if self.server is not None:
            self.server.close()

    def process_item(self, item: Any) -> Deferred[Any]:
        return deferToThread(self._push, item)

    def _push(self, item: Any) -> Any:
        assert self.server is not None
        self.server.rpush(self.key, json.dumps(ItemAdapter(item).asdict(), ensure_ascii=False))
        return item


class NullPipeline:
    """Passes every item through: the crawl alone."""

    def process_item(self, item: Any) -> Any:
        return item
