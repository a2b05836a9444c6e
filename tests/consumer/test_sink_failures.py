"""Real sinks failing for real: which errors are outages, which are poison, and what follows.

Classification: each sink raises ``OutageError`` for the infrastructure
(locked, full, read-only, shut down, unreachable) and ``RecordError`` for a
record the database refuses, with the database's words. Then, end to end
with ``GroupConsumer`` and ``QuoteHandler``: a SQLite file locked by another
process past the busy timeout and a full filesystem are waited out (held, no
delivery counted, nothing dead-lettered, everything stored once after); one
record in a batch of 500 that breaks a constraint is dead-lettered alone
with the database's reason, the other 499 stored.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
import redis

from consumer.handler import QuoteHandler
from consumer.records import Quote
from consumer.sinks import Sink, open_sink
from consumer.sinks.jsonl import JsonLinesSink
from consumer.sinks.sql import create_tables
from consumer.sinks.sqlite import SQLiteSink
from streamlib import (
    Envelope,
    GroupConsumer,
    OutageError,
    RecordError,
    StreamProducer,
    StreamSettings,
    fingerprint,
    parse_dead_letter,
)
from tests.support.helpers import quote, wait_for
from tests.support.mounts import fill_up
from tests.support.postgres import LocalPostgres
from tests.support.replicas import sqlite_rows


def q(key: str, text: str = "t") -> Quote:
    return Quote(key, text, "auth", ("a",), None, None, "1-0")


# -- classification -------------------------------------------------------------------


@contextmanager
def locked(db: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding ``db``'s write lock until the block ends."""
    code = (
        "import sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE')\n"
        "print('locked', flush=True)\n"
        "sys.stdin.read()\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", code, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None and proc.stdin is not None
        try:
            assert proc.stdout.readline() == "locked\n"
            yield proc
        finally:
            proc.stdin.close()  # the locker exits, and its lock goes with it
            proc.wait(30)


def test_sqlite_locked_past_the_busy_timeout_is_an_outage(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    sink = SQLiteSink(str(db), busy_timeout_ms=200)
    try:
        with locked(db), pytest.raises(OutageError, match=r"database is locked \(SQLITE_BUSY\)"):
            sink.store([q("k1")], [])
        sink.store([q("k1")], [])  # the lock is gone, the sink works
        assert sqlite_rows(db, "SELECT key FROM quotes") == [("k1",)]
    finally:
        sink.close()


def test_sqlite_read_only_is_an_outage(tmp_path: Path) -> None:
    sink = SQLiteSink(str(tmp_path / "q.db"))
    try:
        sink._conn.execute("PRAGMA query_only = ON")  # as a read-only file or mount
        with pytest.raises(OutageError, match=r"readonly database \(SQLITE_READONLY\)"):
            sink.store([q("k1")], [])
    finally:
        sink.close()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            ("text TEXT NOT NULL,", "text TEXT NOT NULL CHECK (length(text) <= 10),"),
            r"^CHECK constraint failed: length\(text\) <= 10 \(SQLITE_CONSTRAINT_CHECK\)$",
        ),
        (
            ("stored_at TEXT NOT NULL\n", "stored_at INTEGER NOT NULL\n"),
            r"^cannot store TEXT value in INTEGER column quotes\.stored_at$",
        ),
    ],
    ids=["check", "datatype-mismatch"],
)
def test_sqlite_refusing_a_record_is_a_record_error(
    tmp_path: Path, change: tuple[str, str], reason: str
) -> None:
    db = tmp_path / "q.db"
    make_sqlite_table(db, *change)
    sink = SQLiteSink(str(db))
    try:
        with pytest.raises(RecordError, match=reason):
            sink.store([q("k1", text="far too long a text")], [])
        assert sqlite_rows(db, "SELECT count(*) FROM quotes") == [(0,)]  # rolled back
    finally:
        sink.close()


def make_sqlite_table(db: Path, old: str, new: str) -> None:
    """The sink's ``quotes`` table made beforehand, with ``old`` replaced by ``new``."""
    statement = " ".join(create_tables("TEXT", "TEXT", "TEXT")[0].split()) + "\n"
    statement = statement.replace(" )\n", "\n)").replace(", ", ",\n")
    assert old in statement, statement
    conn = sqlite3.connect(db)
    with conn:
        suffix = " STRICT" if "INTEGER" in new else ""
        conn.execute(statement.replace(old, new) + suffix)
    conn.close()


@pytest.mark.parametrize(
    ("sqlstate", "kind"),
    [
        ("57P01", OutageError),  # admin shutdown
        ("57P03", OutageError),  # cannot connect now (starting up)
        ("40001", OutageError),  # serialization failure
        ("40P01", OutageError),  # deadlock
        ("25006", OutageError),  # read-only transaction (a failover's old primary)
        ("53100", OutageError),  # disk full
        ("42501", OutageError),  # a privilege revoked: an operator's to fix, not a record's
        ("23514", RecordError),  # check violation
        ("23502", RecordError),  # not-null violation
        ("22001", RecordError),  # value too long
        ("22P02", RecordError),  # invalid text representation
    ],
)
def test_postgresql_errors_are_classified_by_sqlstate(
    pg_url: str, sqlstate: str, kind: type[Exception]
) -> None:
    sink = open_sink(pg_url)
    try:
        with psycopg.connect(pg_url, autocommit=True) as admin:  # the server raises it, for real
            admin.execute(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"RAISE EXCEPTION 'refused as {sqlstate}' USING ERRCODE = '{sqlstate}'; END $$"
            )
            admin.execute("CREATE TRIGGER refuse BEFORE INSERT ON quotes EXECUTE FUNCTION refuse()")
        with pytest.raises(kind) as info:
            sink.store([q("k1")], [])
        assert f"refused as {sqlstate} (SQLSTATE {sqlstate})" in str(info.value)
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute("DROP TRIGGER refuse ON quotes")
        sink.store([q("k1")], [])  # usable after either kind (reconnected after an outage)
    finally:
        sink.close()


def test_postgresql_read_only_and_unreachable_are_outages(
    postgres_factory: Callable[[], LocalPostgres],
) -> None:
    pg = postgres_factory()
    sink = open_sink(pg.url)
    try:
        sink._conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")  # type: ignore[attr-defined]
        with pytest.raises(OutageError, match=r"read-only transaction \(SQLSTATE 25006\)"):
            sink.store([q("k1")], [])
        pg.stop("immediate")
        with pytest.raises(OutageError, match=r"Connection refused"):
            sink.store([q("k1")], [])
        pg.start()
        sink.store([q("k1")], [])  # a fresh connection: read-write again
        with psycopg.connect(pg.url) as conn:
            assert conn.execute("SELECT key FROM quotes").fetchall() == [("k1",)]
    finally:
        sink.close()


# -- end to end: GroupConsumer + QuoteHandler + a real sink ---------------------------


class Running:
    """A ``GroupConsumer`` storing into ``sink``, run in a thread until ``stop()``."""

    def __init__(self, client: redis.Redis, settings: StreamSettings, sink: Sink) -> None:
        self.client = client
        self.settings = settings
        self.consumer = GroupConsumer(client, settings, QuoteHandler(sink))
        self.thread = threading.Thread(target=self.consumer.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.consumer.stop()
        self.thread.join(60)
        assert not self.thread.is_alive()

    def drained(self, total: int) -> bool:
        info = self.client.xinfo_groups(self.settings.stream)
        return (
            bool(info)
            and info[0]["lag"] == 0
            and info[0]["pending"] == 0
            and (self.client.xlen(self.settings.stream) >= total)
        )

    def in_outage(self, *, longer_than: float = 0.0, reason: str = "") -> bool:
        status = self.consumer.outages.status()
        return status is not None and status.seconds > longer_than and reason in status.reason

    def held_deliveries(self) -> list[int]:
        rows = self.client.xpending_range(
            self.settings.stream, self.settings.group, "-", "+", 10_000
        )
        return [r["times_delivered"] for r in rows]


def produce(client: redis.Redis, stream: str, start: int, n: int) -> list[str]:
    return StreamProducer(client, stream).send_many(quote(i) for i in range(start, start + n))


def ride_out(run: Running, *, reason: str, produced: int) -> None:
    """The outage under way: held longer than max-deliveries x min-idle, counting nothing."""
    s = run.settings
    limit = s.max_deliveries * s.min_idle_ms / 1000
    stats = run.consumer.stats
    produce(run.client, s.stream, produced, 100)
    wait_for(lambda: run.in_outage(reason=reason), timeout=60, what=f"an outage: {reason}")
    read = stats.read
    produce(run.client, s.stream, produced + 100, 100)  # quotes keep arriving meanwhile
    wait_for(lambda: run.in_outage(longer_than=3 * limit), timeout=60, what="a long outage")
    held = run.held_deliveries()
    assert held and set(held) == {1}, held  # the batches in hand, delivered once
    assert stats.read == read  # nothing more read: the batch in the handler, and
    in_handler = stats.read - stats.acked  # the one read ahead, if it was full
    assert in_handler <= len(held) <= in_handler + s.batch_size
    assert run.client.xlen(s.dead_letters) == 0


def finish(run: Running, total: int, stored: Callable[[], list[str]]) -> None:
    """After the outage: everything stored once, nothing dead-lettered, no redelivery."""
    wait_for(lambda: run.drained(total), timeout=90, what="the drain after the outage")
    run.stop()
    assert sorted(stored()) == sorted(quote(n).key for n in range(total))
    assert run.client.xlen(run.settings.dead_letters) == 0
    assert run.consumer.stats.redelivered == 0 and run.consumer.stats.reclaimed == 0
    assert run.consumer.outages.count["sink"] == 1 and run.consumer.outages.current is None


def test_sqlite_locked_by_another_process_is_waited_out(
    client: redis.Redis, settings: StreamSettings, tmp_path: Path
) -> None:
    db = tmp_path / "q.db"
    sink = SQLiteSink(str(db), busy_timeout_ms=300)
    run = Running(client, settings, sink)
    try:
        produce(client, settings.stream, 0, 100)
        wait_for(lambda: run.drained(100), timeout=60, what="the first 100")
        with locked(db):
            ride_out(run, reason="database is locked", produced=100)
        finish(run, 300, lambda: [k for (k,) in sqlite_rows(db, "SELECT key FROM quotes")])
    finally:
        run.stop()
        sink.close()


@pytest.mark.parametrize("kind", ["sqlite", "jsonl"])
def test_a_full_filesystem_is_waited_out(
    client: redis.Redis,
    settings: StreamSettings,
    small_fs: Callable[[int], Path],
    kind: str,
) -> None:
    folder = small_fs(4096)
    path = folder / f"q.{kind}"
    sink: Sink = SQLiteSink(str(path)) if kind == "sqlite" else JsonLinesSink(str(path))
    run = Running(client, settings, sink)
    try:
        produce(client, settings.stream, 0, 100)
        wait_for(lambda: run.drained(100), timeout=60, what="the first 100")
        filler = folder / "filler"
        fill_up(filler)
        ride_out(run, reason="full" if kind == "sqlite" else "No space left", produced=100)
        filler.unlink()  # the operator makes room
        finish(run, 300, lambda: stored_keys(kind, path))
    finally:
        run.stop()
        sink.close()


def stored_keys(kind: str, path: Path) -> list[str]:
    """Keys in the sink; for JSON lines, each key once (a redelivery may repeat a line)."""
    if kind == "sqlite":
        return [k for (k,) in sqlite_rows(path, "SELECT key FROM quotes")]
    keys, torn = set(), 0
    for line in path.read_text().splitlines():
        try:
            keys.add(json.loads(line)["key"])
        except ValueError:
            torn += 1  # a write the full disk cut short: one fragment, on a line of its own
    assert torn <= 1
    return list(keys)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def narrow_sink(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Sink, str, Callable[[], int]]]:
    """A SQL sink whose quotes can't be longer than 100 characters, the refusal's reason,
    and a row count."""
    if request.param == "sqlite":
        db = tmp_path / "q.db"
        make_sqlite_table(
            db, "text TEXT NOT NULL,", "text TEXT NOT NULL CHECK (length(text) <= 100),"
        )
        sink: Sink = SQLiteSink(str(db))
        reason = "CHECK constraint failed: length(text) <= 100 (SQLITE_CONSTRAINT_CHECK)"

        def count() -> int:
            return int(sqlite_rows(db, "SELECT count(*) FROM quotes")[0][0])
    else:
        url = request.getfixturevalue("pg_url")
        sink = open_sink(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ALTER TABLE quotes ALTER COLUMN text TYPE varchar(100)")
        reason = "value too long for type character varying(100) (SQLSTATE 22001)"

        def count() -> int:
            with psycopg.connect(url) as conn:
                return int(conn.execute("SELECT count(*) FROM quotes").fetchone()[0])  # type: ignore[index]

    yield sink, reason, count
    sink.close()


def test_one_record_a_constraint_refuses_is_dead_lettered_alone(
    client: redis.Redis, settings: StreamSettings, narrow_sink: tuple[Sink, str, Callable[[], int]]
) -> None:
    sink, reason, count = narrow_sink
    ours = settings.replace(batch_size=500)
    envelopes = [quote(n) for n in range(500)]
    long_text = "A quote far longer than the column allows. " * 5
    envelopes[321] = Envelope(
        type="quote",
        key=fingerprint(long_text, "Someone"),
        data={"text": long_text, "author": "Someone"},
    )
    ids = StreamProducer(client, ours.stream).send_many(envelopes)
    consumer = GroupConsumer(client, ours, QuoteHandler(sink))
    consumer.run(burst=True)

    dead = [parse_dead_letter(i, f) for i, f in client.xrange(ours.dead_letters)]
    assert [(d.orig_id, d.reason, d.deliveries) for d in dead] == [(ids[321], reason, 1)]
    assert count() == 499
    assert client.xpending(ours.stream, ours.group)["pending"] == 0
    assert (consumer.stats.handled, consumer.stats.dead_lettered) == (499, 1)
