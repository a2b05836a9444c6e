"""The pieces on their own: validation, envelopes, parsers, progress, settings.

(The batcher: test_batcher.py; whole crawls: test_crawl.py and the others.)
"""

from __future__ import annotations

import dataclasses
import datetime

import attrs
import pytest
import scrapy
from itemadapter import ItemAdapter
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.settings import Settings
from scrapy.utils.misc import load_object
from scrapy.utils.test import get_crawler

from producer import parsers
from producer import settings as project_settings
from producer.config import StreamConfig
from producer.envelopes import ItemKinds, UnusableItem
from producer.items import AuthorItem, QuoteItem
from producer.logformatter import QuietLogFormatter
from producer.pipelines import InvalidItem, ValidationPipeline
from producer.progress import Snapshot, progress_line
from producer.sample_site import pages
from producer.sample_site.data import SiteData
from producer.spiders.quotes import QuotesSpider
from producer.variants import VARIANTS, detect_variant, variant_url
from streamlib import ConfigError, fingerprint


@pytest.mark.parametrize(
    ("item", "missing"),
    [
        (QuoteItem(text="", author="A", page_url="u"), ["text"]),
        (QuoteItem(text="“T”", author="  ", page_url="u"), ["author"]),
        (QuoteItem(), ["text", "author"]),
        (AuthorItem(name="", url="u"), ["name"]),
        ({"isbn": " ", "title": "T"}, ["isbn"]),
    ],
)
def test_a_record_missing_its_identity_is_dropped_and_counted(
    item: object, missing: list[str]
) -> None:
    crawler = get_crawler(
        QuotesSpider,
        {"STREAM_KEY_FIELDS": {"quotes": ["isbn"]}},  # dicts: the spider's name
    )
    crawler.spider = QuotesSpider()
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


def test_quotes_and_authors_keep_their_types_and_keys() -> None:
    kinds = ItemKinds()
    q = kinds.envelope(QuoteItem(text="“It’s”", author="Ann", tags=["x"], page_url="u"))
    assert (q.type, q.key) == ("quote", fingerprint("“It’s”", "Ann"))
    assert q.data["tags"] == ["x"]
    a = kinds.envelope(AuthorItem(name="Ann", description="d"))
    assert (a.type, a.key) == ("author", fingerprint("Ann"))


def test_envelope_data_is_what_itemadapter_gives_with_lists_copied() -> None:
    """The direct field read is the same wire data as ``ItemAdapter.asdict``."""
    tags = ["x", "y"]
    items = [
        QuoteItem(text="“T”", author="A", tags=tags, author_url="a/", page_url="p"),
        AuthorItem(name="A", born_date="d", born_location="l", description="s", url="a/"),
    ]
    for item in items:
        envelope = ItemKinds().envelope(item)
        assert envelope.data == ItemAdapter(item).asdict()
        assert type(envelope.data) is dict
    sent = ItemKinds().envelope(items[0]).data
    tags.append("changed after yielding")
    assert sent["tags"] == ["x", "y"]


class BookItem(scrapy.Item):
    isbn = scrapy.Field()
    title = scrapy.Field()


class SpecialBook(BookItem):
    pass


@dataclasses.dataclass
class Review:
    book: str
    stars: int


@attrs.define
class Shelf:
    name: str
    books: list[str]


def test_items_of_every_kind_become_envelopes() -> None:
    kinds = ItemKinds(
        {"tests.producer.test_units.BookItem": "book", "Review": "review"},
        {"book": ["isbn"], "review": ("book", "stars")},
        dict_type="myspider",
    )
    book = kinds.envelope(BookItem(isbn="978", title="T"))
    assert (book.type, book.key, book.data) == (
        "book",
        fingerprint("978"),
        {"isbn": "978", "title": "T"},
    )
    # A subclass of a mapped class is that type too; non-string key parts as JSON.
    assert kinds.envelope(SpecialBook(isbn="978", title="U")).key == book.key
    review = kinds.envelope(Review("978", 5))
    assert (review.type, review.key) == ("review", fingerprint("978", "5"))
    # Not mapped: the class name, and the whole item is the key.
    shelf = kinds.envelope(Shelf("s", ["978"]))
    assert (shelf.type, shelf.data) == ("Shelf", {"name": "s", "books": ["978"]})
    # Dicts take the spider's name; their key does not depend on the order of the fields.
    first = kinds.envelope({"a": 1, "b": [1, 2]})
    second = kinds.envelope({"b": [1, 2], "a": 1})
    assert first.type == "myspider" and first.key == second.key
    assert kinds.envelope({"a": 2, "b": [1, 2]}).key != first.key


def test_an_item_json_cannot_hold_is_unusable() -> None:
    with pytest.raises(UnusableItem, match="not JSON-serialisable") as caught:
        ItemKinds().envelope({"when": datetime.date(2020, 1, 1)})
    assert caught.value.reasons == ("unencodable",)
    with pytest.raises(UnusableItem, match="quote missing author"):
        ItemKinds().envelope(QuoteItem(text="T", author=""))


def _response(url: str, html: str) -> HtmlResponse:
    return HtmlResponse(url, body=html.encode(), encoding="utf-8", request=Request(url))


SITE = SiteData.build(pages=2, robots=None)


@pytest.mark.parametrize("variant", ["js", "js-delayed", "js-onclick"])
def test_script_pages_are_read_without_a_browser(variant: str) -> None:
    first = parsers.script_listing(
        _response(f"http://h/{variant}/", pages.js_page(SITE, variant, 1))
    )
    main = parsers.main_listing(_response("http://h/", pages.main_page(SITE, 1)))
    assert [(q.text, q.author, q.tags, q.author_url) for q in first.quotes] == [
        (q.text, q.author, q.tags, q.author_url) for q in main.quotes
    ]
    assert first.next_url == f"http://h/{variant}/page/2/"
    # The last page: the script still names a page after it, but there is no Next button.
    last = parsers.script_listing(
        _response(f"http://h/{variant}/page/2/", pages.js_page(SITE, variant, 2))
    )
    assert len(last.quotes) == 10 and last.next_url is None


def test_a_logged_in_page_gives_each_author_their_goodreads_link() -> None:
    listing = parsers.main_listing(_response("http://h/", pages.main_page(SITE, 1, logged_in=True)))
    assert listing.goodreads
    for author_url, link in listing.goodreads.items():
        slug = author_url.removeprefix("http://h/author/").rstrip("/")
        assert link == SITE.authors[slug].goodreads_url
    assert not parsers.main_listing(_response("http://h/", pages.main_page(SITE, 1))).goodreads


def test_table_cells_give_text_author_and_tags() -> None:
    listing = parsers.table_listing(_response("http://h/tableful/", pages.table_page(SITE, 1)))
    expected = SITE.page(1)[0]
    assert [(q.text, q.author, q.tags) for q in listing.quotes] == [
        (q.text, q.author.byline, list(q.tags)) for q in expected
    ]
    assert listing.next_url == "http://h/tableful/page/2/"


def test_the_variant_comes_from_the_start_url() -> None:
    for name, path in VARIANTS.items():
        assert detect_variant(f"http://h{path}") == name
        assert detect_variant(variant_url("http://h/page/3/", name)) == name
    assert detect_variant("http://h/js/page/4/") == "js"
    assert detect_variant("http://h/api/quotes?page=2") == "scroll"
    assert detect_variant("http://h/page/2/") == "main"
    spider = QuotesSpider(variant="tableful")
    assert (spider.variant, spider.start_url) == (
        "tableful",
        "https://quotes.toscrape.com/tableful/",
    )
    with pytest.raises(ValueError, match="unknown variant 'nope'"):
        QuotesSpider(variant="nope")


def test_a_progress_line_says_how_far_the_crawl_is() -> None:
    before = Snapshot(pages=2, items=10, sent=0, in_flight=10, at=100.0)
    now = Snapshot(pages=5, items=60, sent=50, in_flight=10, paused=True, lag=1200, at=110.0)
    assert progress_line(now, before) == (
        "Progress: 5 pages, 60 items (5.0/s), 50 sent to the stream, 10 in flight, "
        "backpressure: paused, group lag 1200"
    )
    off = Snapshot(pages=5, items=60, sent=60, in_flight=0, at=110.0)
    assert "backpressure" not in progress_line(off, before)


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
    config = StreamConfig.from_settings(Settings(base), {})
    assert (config.batch_size, config.max_delay, config.backpressure_group) == (50, 0.5, None)
    assert "s3cret" not in repr(config)
    assert config.max_pending == 10_000  # the default bound of the buffer
    bigger = StreamConfig.from_settings(Settings({**base, "STREAM_BATCH_SIZE": "8000"}))
    assert bigger.max_pending == 16_000
    chosen = StreamConfig.from_settings(Settings({**base, "STREAM_MAX_PENDING": "64"}))
    assert chosen.max_pending == 64
    for bad, message in [
        ({"STREAM_BATCH_SIZE": "ten"}, "STREAM_BATCH_SIZE='ten' is not a whole number"),
        ({"STREAM_BATCH_SIZE": "0"}, "STREAM_BATCH_SIZE must be between"),
        ({"STREAM_MAX_DELAY": "0"}, "STREAM_MAX_DELAY must be > 0"),
        ({"STREAM_MAX_PENDING": "49"}, "STREAM_MAX_PENDING must be >= STREAM_BATCH_SIZE"),
        ({"STREAM_REDIS_URL": "http://h"}, "scheme must be one of"),
        ({"STREAM_BACKPRESSURE_GROUP": "g", "STREAM_BACKPRESSURE_LOW": 10}, "LOW < "),
        ({"STREAM_ITEM_TYPES": "{nope"}, "STREAM_ITEM_TYPES must be a JSON object"),
        ({"STREAM_PROGRESS_INTERVAL": "-1"}, "STREAM_PROGRESS_INTERVAL must be >= 0"),
    ]:
        with pytest.raises(ConfigError, match=message):
            StreamConfig.from_settings(Settings({**base, **bad}), {})


def test_the_pipeline_needs_no_project_settings() -> None:
    """A foreign project's settings, empty of STREAM_*: every default comes from the pipeline."""
    config = StreamConfig.from_settings(Settings(), {})
    assert (config.redis_url, config.stream, config.batch_size) == (
        "redis://localhost:6379/0",
        "quotes",
        500,
    )
    assert (config.max_delay, config.retry_timeout, config.progress_interval) == (1.0, 60.0, 10.0)
    assert (config.partitions, config.backpressure_group, config.max_pending) == (1, None, 10_000)


def test_scrapy_settings_then_the_environment_then_the_defaults() -> None:
    environ = {
        "REDIS_URL": "redis://fallback:6379/0",
        "STREAM": "from-stream",
        "STREAM_NAME": "from-stream-name",
        "STREAM_BATCH_SIZE": "40",
        "PARTITIONS": "4",
        "STREAM_BACKPRESSURE_GROUP": "g",
        "STREAM_KEY_FIELDS": '{"book": "isbn, edition"}',
    }
    config = StreamConfig.from_settings(Settings({"STREAM_BATCH_SIZE": 7}), environ)
    assert config.batch_size == 7  # a Scrapy setting wins
    assert config.stream == "from-stream-name"  # STREAM_NAME before STREAM
    assert config.redis_url == "redis://fallback:6379/0"  # REDIS_URL when STREAM_REDIS_URL is unset
    # Backpressure on a partitioned stream (lag summed over the partitions).
    assert (config.partitions, config.backpressure_group) == (4, "g")
    assert config.key_fields == {"book": ("isbn", "edition")}
    typed = StreamConfig.from_settings(
        Settings({"STREAM_ITEM_TYPES": '{"myproject.items.Book": "book"}'}), {}
    )
    assert typed.item_types == {"myproject.items.Book": "book"}


@pytest.mark.parametrize(
    ("scrapy_settings", "environ", "group"),
    [
        ({}, {}, None),  # no group named anywhere: off, as without a group to follow
        ({}, {"GROUP": "workers"}, "workers"),  # the consumers' group: on by default
        ({}, {"GROUP": "workers", "STREAM_BACKPRESSURE_GROUP": "other"}, "other"),
        ({}, {"GROUP": "workers", "STREAM_BACKPRESSURE_GROUP": ""}, "workers"),  # empty: unset
        ({}, {"GROUP": "workers", "STREAM_BACKPRESSURE_GROUP": "off"}, None),
        ({}, {"GROUP": "workers", "STREAM_BACKPRESSURE_GROUP": " OFF "}, None),
        ({}, {"GROUP": "workers", "STREAM_BACKPRESSURE_GROUP": "no"}, None),
        ({}, {"GROUP": "workers", "STREAM_BACKPRESSURE_GROUP": "0"}, None),
        ({"STREAM_BACKPRESSURE_GROUP": "off"}, {"GROUP": "workers"}, None),
        ({"STREAM_BACKPRESSURE_GROUP": False}, {"GROUP": "workers"}, None),
        ({"STREAM_BACKPRESSURE_GROUP": "g"}, {"STREAM_BACKPRESSURE_GROUP": "off"}, "g"),
    ],
)
def test_backpressure_follows_the_consumers_group_unless_turned_off(
    scrapy_settings: dict[str, object], environ: dict[str, str], group: str | None
) -> None:
    config = StreamConfig.from_settings(Settings(scrapy_settings), environ)
    assert config.backpressure_group == group


@pytest.mark.parametrize("value", ["on", "Yes", "true", "1", "  ", True])
def test_a_backpressure_group_that_names_no_group_is_refused(value: object) -> None:
    with pytest.raises(ConfigError, match=r"STREAM_BACKPRESSURE_GROUP=.* names no consumer group"):
        StreamConfig.from_settings(Settings({"STREAM_BACKPRESSURE_GROUP": value}), {})


def test_backpressure_marks_are_checked_once_the_group_comes_from_group() -> None:
    with pytest.raises(ConfigError, match="LOW < "):
        StreamConfig.from_settings(
            Settings({"STREAM_BACKPRESSURE_LOW": 10, "STREAM_BACKPRESSURE_HIGH": 10}),
            {"GROUP": "workers"},
        )
    off = {"GROUP": "workers", "STREAM_BACKPRESSURE_GROUP": "off"}
    config = StreamConfig.from_settings(Settings({"STREAM_BACKPRESSURE_LOW": 10}), off)
    assert config.backpressure_group is None  # off: its marks don't matter


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
