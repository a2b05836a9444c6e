"""The quote handler inside a real GroupConsumer on a real Redis."""

from __future__ import annotations

from pathlib import Path

import psycopg
import redis

from consumer.handler import QuoteHandler
from consumer.sinks import open_sink
from streamlib import Envelope, GroupConsumer, StreamProducer, StreamSettings, parse_dead_letter
from tests.support.helpers import quote
from tests.support.replicas import sqlite_rows


def test_valid_records_are_stored_and_invalid_ones_dead_lettered_with_reason(
    client: redis.Redis, settings: StreamSettings, tmp_path: Path
) -> None:
    envelopes = [
        quote(1),
        Envelope(type="tweet", key="t1", data={"text": "hi"}),
        Envelope(type="quote", key="q-bad", data={"text": "no author"}),
        Envelope(type="quote", key="q-tags", data={"text": "t", "author": "a", "tags": "x"}),
        Envelope(type="author", key="a1", data={"name": "Jane Austen", "born_date": "1775"}),
        quote(2),
    ]
    ids = StreamProducer(client, settings.stream).send_many(envelopes)
    sink = open_sink(f"sqlite:///{tmp_path / 'q.db'}")
    stats = GroupConsumer(client, settings, QuoteHandler(sink)).run(burst=True)
    sink.close()

    assert (stats.handled, stats.acked, stats.dead_lettered) == (4, 4, 2)
    keys = sqlite_rows(tmp_path / "q.db", "SELECT key, stream_id FROM quotes ORDER BY stream_id")
    assert keys == [(quote(1).key, ids[0]), (quote(2).key, ids[5])]
    assert sqlite_rows(tmp_path / "q.db", "SELECT key, name FROM authors") == [
        ("a1", "Jane Austen")
    ]
    # A type the service does not model is stored as it came, not dead-lettered.
    assert sqlite_rows(tmp_path / "q.db", "SELECT type, key, data, stream_id FROM records") == [
        ("tweet", "t1", '{"text":"hi"}', ids[1])
    ]
    dead = [parse_dead_letter(i, f) for i, f in client.xrange(settings.dead_letters)]
    assert {d.orig_id: d.reason for d in dead} == {
        ids[2]: "invalid quote: 'author' must be a non-empty string",
        ids[3]: "invalid quote: 'tags' must be a list of strings",
    }
    assert client.xpending(settings.stream, settings.group)["pending"] == 0


def test_a_replica_restricted_to_some_types_acknowledges_and_skips_the_others(
    client: redis.Redis, settings: StreamSettings, tmp_path: Path
) -> None:
    envelopes = [
        quote(1),
        Envelope(type="tweet", key="t1", data={"text": "hi"}),
        Envelope(type="author", key="a1", data={"name": "Jane Austen"}),
        Envelope(type="tweet", key="t2", data={"text": "\x00"}),  # invalid, but not ours
    ]
    StreamProducer(client, settings.stream).send_many(envelopes)
    sink = open_sink(f"sqlite:///{tmp_path / 'q.db'}")
    handler = QuoteHandler(sink, types={"quote", "author"})
    stats = GroupConsumer(client, settings, handler).run(burst=True)
    sink.close()
    assert (stats.acked, stats.dead_lettered, handler.skipped) == (4, 0, 2)
    assert sqlite_rows(tmp_path / "q.db", "SELECT count(*) FROM quotes") == [(1,)]
    assert sqlite_rows(tmp_path / "q.db", "SELECT count(*) FROM authors") == [(1,)]
    assert sqlite_rows(tmp_path / "q.db", "SELECT count(*) FROM records") == [(0,)]
    assert client.xpending(settings.stream, settings.group)["pending"] == 0


def test_a_nul_in_text_is_dead_lettered_and_does_not_sink_its_batch_in_postgresql(
    client: redis.Redis, settings: StreamSettings, pg_url: str
) -> None:
    """PostgreSQL refuses NUL in text: without the check the whole batch failed, every time."""
    nul = Envelope(type="quote", key="q-nul", data={"text": "a\x00b", "author": "a"})
    ids = StreamProducer(client, settings.stream).send_many([quote(1), nul, quote(2)])
    sink = open_sink(pg_url)
    try:
        stats = GroupConsumer(client, settings, QuoteHandler(sink)).run(burst=True)
    finally:
        sink.close()
    assert (stats.handled, stats.dead_lettered, stats.handler_errors) == (2, 1, 0)
    dead = [parse_dead_letter(i, f) for i, f in client.xrange(settings.dead_letters)]
    assert [(d.orig_id, d.reason) for d in dead] == [
        (ids[1], "invalid quote: 'text' contains a NUL character")
    ]
    with psycopg.connect(pg_url) as conn:
        keys = {k for (k,) in conn.execute("SELECT key FROM quotes").fetchall()}
    assert keys == {quote(1).key, quote(2).key}
