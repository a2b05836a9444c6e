"""Scrapy settings of the quotestream producer.

The ``STREAM_*`` settings mirror DESIGN.md's names. Each one can also come
from the environment variable of the same name (the container sets them
there); ``STREAM_REDIS_URL`` falls back to ``REDIS_URL`` and ``STREAM_NAME``
to ``STREAM``. ``-s NAME=VALUE`` on the command line wins over both.
See docs/producer.md for the table.
"""

from __future__ import annotations

import os

from streamlib import constants

BOT_NAME = "quotestream"
SPIDER_MODULES = ["producer.spiders"]
NEWSPIDER_MODULE = "producer.spiders"
# `crawl` that exits non-zero when items were not delivered to the stream.
COMMANDS_MODULE = "producer.commands"

# Polite by default: identify ourselves, obey robots.txt, adapt the pace.
USER_AGENT = "quotestream/0.1 (+https://github.com/quotestream/quotestream)"
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS_PER_DOMAIN = 4
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 1.0
AUTOTHROTTLE_MAX_DELAY = 10.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 2.0

# The stream pipeline awaits Redis in a worker thread from asyncio coroutines.
TWISTED_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"

ITEM_PIPELINES = {
    "producer.pipelines.ValidationPipeline": 100,
    "producer.pipelines.StreamPipeline": 800,
}

# No network consoles in a producer: the telnet console and the remote-control
# server both let whoever reaches the port run code in the crawler.
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False

LOG_LEVEL = "INFO"
# The per-item "Scraped from" and per-page "Crawled" DEBUG messages are only
# built when LOG_LEVEL is DEBUG (producer/logformatter.py).
LOG_FORMATTER = "producer.logformatter.QuietLogFormatter"
FEED_EXPORT_ENCODING = "utf-8"

STREAM_REDIS_URL = (
    os.environ.get("STREAM_REDIS_URL") or os.environ.get("REDIS_URL") or constants.DEFAULT_REDIS_URL
)
STREAM_NAME = os.environ.get("STREAM_NAME") or os.environ.get("STREAM") or constants.DEFAULT_STREAM
#: Entries per pipelined XADD round trip.
STREAM_BATCH_SIZE = os.environ.get("STREAM_BATCH_SIZE") or constants.DEFAULT_BATCH_SIZE
#: Seconds an item waits at most for its batch to fill before it is sent anyway.
STREAM_MAX_DELAY = os.environ.get("STREAM_MAX_DELAY") or 1.0
#: Items accepted by the pipeline and not yet in Redis before it waits for room
#: (empty: 10000, or twice STREAM_BATCH_SIZE if that is larger).
STREAM_MAX_PENDING = os.environ.get("STREAM_MAX_PENDING") or ""
#: Seconds a batch is resent while Redis is unreachable before the crawl stops.
STREAM_RETRY_TIMEOUT = os.environ.get("STREAM_RETRY_TIMEOUT") or 60.0
#: Partitions of the stream (Redis Cluster scale-out, docs/cluster.md); falls back to PARTITIONS.
STREAM_PARTITIONS = os.environ.get("STREAM_PARTITIONS") or os.environ.get("PARTITIONS") or 1
#: Backpressure: the consumer group whose lag pauses the crawl (empty: off).
STREAM_BACKPRESSURE_GROUP = os.environ.get("STREAM_BACKPRESSURE_GROUP") or ""
STREAM_BACKPRESSURE_HIGH = os.environ.get("STREAM_BACKPRESSURE_HIGH") or 10_000
STREAM_BACKPRESSURE_LOW = os.environ.get("STREAM_BACKPRESSURE_LOW") or 5_000
#: Seconds between two lag checks.
STREAM_BACKPRESSURE_INTERVAL = os.environ.get("STREAM_BACKPRESSURE_INTERVAL") or 1.0
