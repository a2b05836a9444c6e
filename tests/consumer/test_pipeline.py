"""The whole pipeline: ``scrapy crawl quotes`` -> stream -> four ``quotes-consumer`` replicas.

Against the generated site, into SQLite and into PostgreSQL: zero pending,
zero lag, one row per quote and per author, with the site's exact text.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import psycopg
import pytest
import redis

from producer.sample_site import SiteServer, generate_site
from streamlib.groupinfo import group as group_info
from tests.producer.conftest import run_crawl
from tests.support.helpers import wait_for
from tests.support.replicas import Replicas, consumers_joined, sqlite_rows, wait_drained

PAGES = 6  # 60 quotes; the generated authors each appear at least once


def rows(sink: str, sql: str) -> list[tuple[object, ...]]:
    if sink.startswith("sqlite:///"):
        return sqlite_rows(Path(sink.removeprefix("sqlite:///")), sql)
    with psycopg.connect(sink) as conn:
        return list(conn.execute(sql).fetchall())


@pytest.fixture(params=["sqlite", "postgresql"])
def sink(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'quotes.db'}"
    return str(request.getfixturevalue("pg_url"))


def test_crawl_into_four_replicas_stores_every_record_once(
    client: redis.Redis, redis_url: str, sink: str, tmp_path: Path
) -> None:
    expected = generate_site(tmp_path / "site", pages=PAGES)
    stream = f"pipeline-{uuid.uuid4().hex[:8]}"
    group = "quotes-consumers"
    with (
        SiteServer(tmp_path / "site") as site,
        Replicas(
            4,
            redis_url=redis_url,
            stream=stream,
            group=group,
            sink=sink,
            log_dir=tmp_path,
            extra=["--batch-size", "7", "--block-ms", "200"],
        ) as replicas,
    ):
        # All four read before the crawl starts, or a replica still starting on a
        # busy machine finds nothing left and the "every replica" check fails.
        try:
            wait_for(
                lambda: consumers_joined(client, stream, group) == 4,
                timeout=90,
                what="all replicas to join the group",
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{replicas.logs()}") from None
        crawl = run_crawl(site.url, REDIS_URL=redis_url, STREAM_NAME=stream)
        assert crawl.returncode == 0, crawl.output[-3000:]
        total = len(expected.quotes) + len(expected.authors)
        assert crawl.summary()["sent"] == total
        wait_drained(client, stream, group, total, timeout=120)
        assert replicas.stop() == [0, 0, 0, 0], replicas.logs()
        # The work was shared: every replica handled something.
        handled = [r.done_stats()["handled"] for r in replicas.replicas]
        assert sum(handled) == total and all(handled), handled

    info = group_info(client, stream, group)
    assert info is not None and (info.pending, info.lag) == (0, 0)
    assert client.xlen(f"{stream}:dead") == 0

    quotes = rows(sink, "SELECT text, author, tags, author_url, page_url FROM quotes")
    want = {
        (q["text"], q["author"], tuple(q["tags"]), q["author_url"], q["page_url"])
        for q in expected.quotes
    }
    root = site.url.rstrip("/")
    got = {
        (text, author, tuple(json.loads(tags) if isinstance(tags, str) else tags),
         author_url.removeprefix(root), page_url.removeprefix(root))
        for text, author, tags, author_url, page_url in quotes
    }  # fmt: skip
    assert len(quotes) == len(expected.quotes)  # one row each: no duplicates
    assert got == want
    authors = rows(sink, "SELECT name, born_date, born_location, description FROM authors")
    assert sorted(authors) == sorted(
        (a["name"], a["born_date"], a["born_location"], a["description"]) for a in expected.authors
    )
