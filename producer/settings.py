"""Scrapy settings of the quotestream producer.

No ``STREAM_*`` setting here: the stream pipeline holds every default
(``producer.config``) and reads each one from ``-s NAME=VALUE``, else from
the environment variable of the same name (``STREAM_REDIS_URL`` falls back
to ``REDIS_URL``, ``STREAM_NAME`` to ``STREAM``), else its default. See
docs/producer.md for the table. Nothing here reads the environment.
"""

from __future__ import annotations

BOT_NAME = "quotestream"
SPIDER_MODULES = ["producer.spiders"]
NEWSPIDER_MODULE = "producer.spiders"
# `crawl` that exits with the crawl's verdict (producer.outcome).
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
