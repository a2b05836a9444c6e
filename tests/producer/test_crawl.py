"""``scrapy crawl quotes`` end to end: generated site -> real crawl -> real Redis stream."""

from __future__ import annotations

import collections
import re
import uuid
from pathlib import Path

import redis

from producer.outcome import EXIT_NO_ITEMS
from producer.sample_site import SiteServer, generate_site
from producer.settings import USER_AGENT
from streamlib import fingerprint

from .conftest import Site, read_stream, relative, run_crawl


def stream_name() -> str:
    return f"quotes-{uuid.uuid4().hex[:8]}"


def test_crawl_puts_exactly_the_expected_records_in_the_stream(
    generated: Site, site: SiteServer, client: redis.Redis, redis_url: str
) -> None:
    stream = stream_name()
    crawl = run_crawl(
        site.url, REDIS_URL=redis_url, STREAM_NAME=stream, STREAM_BATCH_SIZE="8",
        STREAM_MAX_DELAY="0.2",
    )  # fmt: skip
    assert crawl.returncode == 0, crawl.output[-3000:]
    expected = generated.expected

    entries = read_stream(client, stream)
    by_type = collections.Counter(e.type for e in entries)
    assert by_type == {"quote": len(expected.quotes), "author": len(expected.authors)}
    quotes = [relative(e.data, site.url) for e in entries if e.type == "quote"]
    authors = [relative(e.data, site.url) for e in entries if e.type == "author"]
    text_order = sorted(expected.quotes, key=lambda q: q["text"])
    assert sorted(quotes, key=lambda q: q["text"]) == text_order
    assert sorted(authors, key=lambda a: a["name"]) == sorted(
        expected.authors, key=lambda a: a["name"]
    )
    for e in entries:
        identity = (e.data["text"], e.data["author"]) if e.type == "quote" else (e.data["name"],)
        assert e.key == fingerprint(*identity)

    # Every page of the pagination, every author page once, polite and identified.
    assert site.paths() >= expected.paths | {"/robots.txt"}
    author_hits = [h.path for h in site.hits if h.path.startswith("/author/")]
    assert len(author_hits) == len(set(author_hits)) == len(expected.authors)
    assert {h.user_agent for h in site.hits} == {USER_AGENT}

    # Batching: 35 items in batches of at most 8 (full ones, the rest by delay).
    summary = crawl.summary()
    assert summary["sent"] == len(entries)
    assert summary["undelivered"] == 0
    assert len(entries) // 8 <= summary["batches"] < len(entries)


def test_items_do_not_hold_the_crawl_back_with_few_concurrent_items(
    tmp_path: Path, client: redis.Redis, redis_url: str
) -> None:
    """With CONCURRENT_ITEMS=2 and batches that never fill, no page waits for a batch.

    If ``process_item`` waited for its batch, each page's items would wait
    ``STREAM_MAX_DELAY`` (5 s) before the next page is requested: 20 pages,
    10 quotes each, two at a time, would take minutes and as many batches as
    timer expiries. Returning at once, the whole crawl fits in the batch sent
    at close (plus at most one per 5 s the crawl lasted)."""
    pages, delay = 20, 5.0
    expected = generate_site(tmp_path, pages=pages)
    stream = stream_name()
    with SiteServer(tmp_path) as server:
        crawl = run_crawl(
            server.url,
            "CONCURRENT_ITEMS=2",
            REDIS_URL=redis_url,
            STREAM_NAME=stream,
            STREAM_BATCH_SIZE="500",
            STREAM_MAX_DELAY=str(delay),
        )
    assert crawl.returncode == 0, crawl.output[-3000:]
    assert client.xlen(stream) == len(expected.quotes) + len(expected.authors)
    elapsed = float(re.findall(r"'elapsed_time_seconds': ([\d.]+)", crawl.output)[-1])
    batches = crawl.summary()["batches"]
    assert batches <= elapsed // delay + 1, (batches, elapsed)
    assert elapsed < pages * delay / 4, elapsed


def test_a_recrawl_gives_every_record_the_same_key(
    site: SiteServer, client: redis.Redis, redis_url: str
) -> None:
    keys = []
    for _ in range(2):
        stream = stream_name()
        crawl = run_crawl(site.url, STREAM_REDIS_URL=redis_url, STREAM_NAME=stream)
        assert crawl.returncode == 0, crawl.output[-3000:]
        entries = read_stream(client, stream)
        assert len({e.key for e in entries}) == len(entries) > 0
        keys.append({(e.type, e.key) for e in entries})
    assert keys[0] == keys[1]


def test_a_page_without_quotes_ends_the_crawl_and_no_items_is_a_failure(
    generated: Site, site: SiteServer, client: redis.Redis, redis_url: str
) -> None:
    stream = stream_name()
    past_the_end = f"{site.url}page/{generated.expected.pages + 1}/"
    crawl = run_crawl(past_the_end, REDIS_URL=redis_url, STREAM_NAME=stream)
    assert crawl.returncode == EXIT_NO_ITEMS, crawl.output[-3000:]
    assert "end of the pagination" in crawl.output
    assert "Crawl failed (exit status 4): no items scraped from 1 page(s)" in crawl.output
    assert client.xlen(stream) == 0
    assert crawl.summary() == {"sent": 0, "batches": 0, "retries": 0, "undelivered": 0}


def test_robots_txt_is_obeyed(tmp_path: Path, client: redis.Redis, redis_url: str) -> None:
    expected = generate_site(tmp_path, pages=1, robots="User-agent: *\nDisallow: /author/\n")
    stream = stream_name()
    with SiteServer(tmp_path) as server:
        crawl = run_crawl(server.url, REDIS_URL=redis_url, STREAM_NAME=stream)
        hits = server.paths(status=None)
    assert crawl.returncode == 0, crawl.output[-3000:]
    assert not any(p.startswith("/author/") for p in hits)
    entries = read_stream(client, stream)
    assert [e.type for e in entries] == ["quote"] * len(expected.quotes)


def test_a_bad_setting_stops_the_crawl_at_start_with_its_name(site: SiteServer) -> None:
    crawl = run_crawl(
        site.url, "STREAM_BATCH_SIZE=ten", STREAM_REDIS_URL="redis://u:pa55word@127.0.0.1:1/0"
    )
    assert crawl.returncode == 1
    assert (
        "Crawl failed (exit status 1): the crawl could not start: "
        "STREAM_BATCH_SIZE='ten' is not a whole number" in crawl.output
    )
    assert "Traceback" not in crawl.output
    assert "pa55word" not in crawl.output
    assert not site.hits
