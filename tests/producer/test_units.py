"""The pieces on their own: validation, envelopes, settings (the batcher: test_batcher.py)."""

from __future__ import annotations

import pytest
from itemadapter import ItemAdapter
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.settings import Settings
from scrapy.utils.misc import load_object
from scrapy.utils.test import get_crawler

from producer import settings as project_settings
from producer.config import StreamConfig
from producer.envelopes import to_envelope
from producer.items import AuthorItem, QuoteItem
from producer.logformatter import QuietLogFormatter
from producer.pipelines import InvalidItem, ValidationPipeline
from producer.spiders.quotes import QuotesSpider
from streamlib import ConfigError, fingerprint


@pytest.mark.parametrize(
    ("item", "missing"),
    [
        (QuoteItem(text="", author="A", page_url="u"), ["text"]),
        (QuoteItem(text="“T”", author="  ", page_url="u"), ["author"]),
        (QuoteItem(), ["text", "author"]),
        (AuthorItem(name="", url="u"), ["name"]),
    ],
)
def test_a_record_missing_its_identity_is_dropped_and_counted(
    item: QuoteItem | AuthorItem, missing: list[str]
) -> None:
    crawler = get_crawler(QuotesSpider)
    crawler.stats.open_spider()  # type: ignore[union-attr]
    pipeline = ValidationPipeline.from_crawler(crawler)
    with pytest.raises(InvalidItem, match="missing " + ", ".join(missing)):
        pipeline.process_item(item)
    stats = crawler.stats.get_stats()  # type: ignore[union-attr]
    assert stats["validation/dropped"] == 1
    for name in missing:
        assert stats[f"validation/dropped/missing_{name}"] == 1


def test_a_complete_record_passes_validation() -> None:
    crawler = get_crawler(QuotesSpider)
    crawler.stats.open_spider()  # type: ignore[union-attr]
    item = QuoteItem(text="“T”", author="A", tags=[])
    assert ValidationPipeline.from_crawler(crawler).process_item(item) is item
    assert "validation/dropped" not in crawler.stats.get_stats()  # type: ignore[union-attr]


def test_envelopes_carry_type_and_stable_key() -> None:
    q = to_envelope(QuoteItem(text="“It’s”", author="Ann", tags=["x"], page_url="u"))
    assert (q.type, q.key) == ("quote", fingerprint("“It’s”", "Ann"))
    assert q.data["tags"] == ["x"]
    a = to_envelope(AuthorItem(name="Ann", description="d"))
    assert (a.type, a.key) == ("author", fingerprint("Ann"))


def test_envelope_data_is_what_itemadapter_gives_with_lists_copied() -> None:
    """The direct field read is the same wire data as ``ItemAdapter.asdict``."""
    tags = ["x", "y"]
    items = [
        QuoteItem(text="“T”", author="A", tags=tags, author_url="a/", page_url="p"),
        AuthorItem(name="A", born_date="d", born_location="l", description="s", url="a/"),
    ]
    for item in items:
        envelope = to_envelope(item)
        assert envelope.data == ItemAdapter(item).asdict()
        assert type(envelope.data) is dict
    sent = to_envelope(items[0]).data
    tags.append("changed after yielding")
    assert sent["tags"] == ["x", "y"]


def test_stream_settings_are_validated_and_the_password_masked() -> None:
    base = {
        "STREAM_REDIS_URL": "redis://u:s3cret@h:6379/0",
        "STREAM_NAME": "q",
        "STREAM_BATCH_SIZE": "50",
        "STREAM_MAX_DELAY": "0.5",
        "STREAM_RETRY_TIMEOUT": "10",
        "STREAM_BACKPRESSURE_GROUP": "",
        "STREAM_BACKPRESSURE_HIGH": 10,
        "STREAM_BACKPRESSURE_LOW": 5,
        "STREAM_BACKPRESSURE_INTERVAL": 1,
    }
    config = StreamConfig.from_settings(Settings(base))
    assert (config.batch_size, config.max_delay, config.backpressure_group) == (50, 0.5, None)
    assert "s3cret" not in repr(config)
    assert config.max_pending == 10_000  # the default bound of the buffer
    bigger = StreamConfig.from_settings(Settings({**base, "STREAM_BATCH_SIZE": "8000"}))
    assert bigger.max_pending == 16_000
    chosen = StreamConfig.from_settings(Settings({**base, "STREAM_MAX_PENDING": "64"}))
    assert chosen.max_pending == 64
    for bad, message in [
        ({"STREAM_BATCH_SIZE": "ten"}, "STREAM_BATCH_SIZE='ten' is not a number"),
        ({"STREAM_BATCH_SIZE": "0"}, "STREAM_BATCH_SIZE must be between"),
        ({"STREAM_MAX_DELAY": "0"}, "STREAM_MAX_DELAY must be > 0"),
        ({"STREAM_MAX_PENDING": "49"}, "STREAM_MAX_PENDING must be >= STREAM_BATCH_SIZE"),
        ({"STREAM_REDIS_URL": "http://h"}, "scheme must be one of"),
        ({"STREAM_BACKPRESSURE_GROUP": "g", "STREAM_BACKPRESSURE_LOW": 10}, "LOW < "),
    ]:
        with pytest.raises(ConfigError, match=message):
            StreamConfig.from_settings(Settings({**base, **bad}))


@pytest.mark.parametrize(("level", "logged"), [("INFO", False), ("DEBUG", True), (10, True)])
def test_per_item_debug_messages_are_built_only_at_debug(level: str | int, logged: bool) -> None:
    settings = {"LOG_FORMATTER": project_settings.LOG_FORMATTER, "LOG_LEVEL": level}
    crawler = get_crawler(QuotesSpider, settings)
    formatter = load_object(settings["LOG_FORMATTER"]).from_crawler(crawler)
    assert isinstance(formatter, QuietLogFormatter)
    spider = QuotesSpider()
    response = HtmlResponse("http://127.0.0.1/", request=Request("http://127.0.0.1/"))
    scraped = formatter.scraped(QuoteItem(text="“T”", author="A"), response, spider)
    crawled = formatter.crawled(response.request, response, spider)
    assert (scraped is not None, crawled is not None) == (logged, logged)
    if logged:
        assert scraped is not None and "Scraped from" in scraped["msg"]
