"""Sinks against real files and a real PostgreSQL: schema, upsert, masking."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from consumer.records import Author, Item, Quote
from consumer.sinks import Sink, describe, open_sink
from consumer.sinks.sqlite import SQLiteSink
from streamlib import ConfigError, OutageError, RecordError


def q(key: str, stream_id: str, text: str = "t", tags: tuple[str, ...] = ("a",)) -> Quote:
    return Quote(key, text, "auth", tags, "http://a", "http://p", stream_id)


def a(key: str, stream_id: str, name: str = "Jane", goodreads: str | None = None) -> Author:
    return Author(key, name, "May 1", "Paris", "desc", "http://a", stream_id, goodreads)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def sql_sink(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Sink, Callable]]:
    """(sink, query) for each SQL sink; ``query(sql)`` returns all rows."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'sub' / 'q.db'}"

        def query(sql: str) -> list[tuple]:
            import sqlite3

            with sqlite3.connect(tmp_path / "sub" / "q.db") as conn:
                return conn.execute(sql).fetchall()
    else:
        url = request.getfixturevalue("pg_url")

        def query(sql: str) -> list[tuple]:
            with psycopg.connect(url) as conn:
                return conn.execute(sql).fetchall()

    sink = open_sink(url)
    yield sink, query
    sink.close()


def test_sql_sink_creates_tables_and_stores(sql_sink: tuple[Sink, Callable]) -> None:
    sink, query = sql_sink
    sink.store([q("k1", "1-0", tags=("x", "“y”")), q("k2", "2-0")], [a("j", "3-0")])
    rows = query("SELECT key, text, author, tags, author_url, page_url, stream_id FROM quotes")
    assert sorted(rows) == [
        ("k1", "t", "auth", '["x", "“y”"]', "http://a", "http://p", "1-0"),
        ("k2", "t", "auth", '["a"]', "http://a", "http://p", "2-0"),
    ]
    authors = query("SELECT key, name, born_date, born_location, description, url FROM authors")
    assert authors == [("j", "Jane", "May 1", "Paris", "desc", "http://a")]


@pytest.mark.parametrize(
    "tags",
    [
        (),
        ("a",),
        ("life", "love", "“inspirational”"),
        ('say "hi"', "back\\slash", "tab\tnew\nline", "\x01\x1f\x7f", "é😀\u2028", ""),
    ],
)
def test_tags_are_stored_as_json_dumps_writes_them(tags: tuple[str, ...]) -> None:
    from consumer.sinks.sql import quote_rows

    [row] = quote_rows([q("k", "1-0", tags=tags)], ("now",))
    assert row[3] == json.dumps(list(tags), ensure_ascii=False)
    assert tuple(json.loads(str(row[3]))) == tags


#: Every kind of character a JSON string escapes, and some it does not.
ODD = 'say "hi" back\\slash tab\tnew\nline cr\r \x01\x1f\x7f é😀\u2028 “x”'


def test_awkward_strings_are_stored_exactly(sql_sink: tuple[Sink, Callable]) -> None:
    """What reaches a column is the record's string itself (PostgreSQL: through a jsonb array)."""
    sink, query = sql_sink
    book = {"title": ODD, "n": [1, 2.5, None, True], "nested": {ODD: ODD}}
    sink.store(
        [Quote("k1", ODD, ODD, (ODD, ""), ODD, None, "1-0")],
        [Author("j", ODD, None, ODD, "", ODD, "2-0", ODD)],
        [Item("book", ODD, book, "3-0")],
    )
    assert query("SELECT key, text, author, tags, author_url, page_url FROM quotes") == [
        ("k1", ODD, ODD, json.dumps([ODD, ""], ensure_ascii=False), ODD, None)
    ]
    authors = "SELECT name, born_date, born_location, description, url, goodreads_url FROM authors"
    assert query(authors) == [(ODD, None, ODD, "", ODD, ODD)]
    [(key, data)] = query("SELECT key, data FROM records")
    assert key == ODD and (data if isinstance(data, dict) else json.loads(data)) == book


def test_rows_hold_each_records_fields_in_their_tables_column_order() -> None:
    from consumer.sinks import sql

    quote = Quote("k", "text", "author", ("t",), "au", "pu", "1-0")
    author = Author("k", "name", "bd", "bl", "desc", "url", "1-0", "gr")
    item = Item("book", "k", {"x": 1}, "1-0")
    expected = [
        (sql.quote_rows([quote], ("now",)), sql.QUOTE_COLUMNS, quote._asdict(), {"tags": '["t"]'}),
        (sql.author_rows([author], ("now",)), sql.AUTHOR_COLUMNS, author._asdict(), {}),
        (
            sql.record_rows([item], ("now",)),
            sql.RECORD_COLUMNS,
            item._asdict(),
            {"data": '{"x":1}'},
        ),
    ]
    for [row], columns, fields, adapted in expected:
        assert dict(zip(columns, row, strict=True)) == {**fields, **adapted, "stored_at": "now"}
    assert sql.quote_rows([quote]) == [sql.quote_rows([quote], ("now",))[0][:-1]]


def test_repeats_are_folded_by_the_whole_key() -> None:
    from consumer.sinks.sql import merge_repeats

    columns = ("type", "key", "data", "stream_id")
    distinct = [("book", "k", "1", "1-0"), ("review", "k", "2", "1-1"), ("book", "j", "3", "1-2")]
    assert merge_repeats(distinct, columns) == distinct
    repeated = [*distinct, ("book", "k", "4", "1-3")]
    assert merge_repeats(repeated, columns) == [
        ("book", "k", "4", "1-0"),
        ("review", "k", "2", "1-1"),
        ("book", "j", "3", "1-2"),
    ]


def test_sql_sink_upserts_on_key_keeping_the_first_stream_id(
    sql_sink: tuple[Sink, Callable],
) -> None:
    sink, query = sql_sink
    sink.store([q("k1", "1-0", text="old")], [a("j", "2-0", name="Old")])
    first_stored = query("SELECT stored_at FROM quotes")
    # A redelivery, and a key twice in one batch: never a second row.
    sink.store([q("k1", "5-0", text="new"), q("k1", "6-0", text="newer")], [a("j", "7-0")])
    assert query("SELECT key, text, stream_id FROM quotes") == [("k1", "newer", "1-0")]
    assert query("SELECT stored_at FROM quotes") == first_stored
    assert query("SELECT key, name, stream_id FROM authors") == [("j", "Jane", "2-0")]


def test_repeats_within_one_batch_leave_what_storing_them_one_by_one_would(
    sql_sink: tuple[Sink, Callable],
) -> None:
    """PostgreSQL folds a batch's repeats before its set-based upsert; SQLite upserts row by row."""
    sink, query = sql_sink
    sink.store([], [a("old", "1-0", goodreads="http://g/old")])
    sink.store(
        [q("k1", "2-0", text="first"), q("k2", "2-1"), q("k1", "2-2", text="last")],
        [
            a("new", "3-0", name="A", goodreads="http://g/a"),
            a("new", "3-1", name="B"),  # Goodreads unknown: the batch's earlier link stays
            a("old", "3-2", name="C", goodreads="http://g/c"),
            a("old", "3-3", name="D"),
        ],
        [Item("book", "b", {"v": 1}, "4-0"), Item("book", "b", {"v": 2}, "4-1")],
    )
    assert sorted(query("SELECT key, text, stream_id FROM quotes")) == [
        ("k1", "last", "2-0"),
        ("k2", "t", "2-1"),
    ]
    assert sorted(query("SELECT key, name, goodreads_url, stream_id FROM authors")) == [
        ("new", "B", "http://g/a", "3-0"),
        ("old", "D", "http://g/c", "1-0"),
    ]
    rows = query("SELECT data, stream_id FROM records")
    assert [(d if isinstance(d, dict) else json.loads(d), s) for d, s in rows] == [
        ({"v": 2}, "4-0")
    ]


def test_sql_sink_batch_is_one_transaction(sql_sink: tuple[Sink, Callable]) -> None:
    sink, query = sql_sink
    bad = Quote("k2", None, "auth", (), None, None, "2-0")  # type: ignore[arg-type] # NOT NULL
    with pytest.raises(Exception, match=r"(?i)null"):
        sink.store([q("k1", "1-0"), bad], [])
    assert query("SELECT count(*) FROM quotes") == [(0,)]
    sink.store([q("k1", "1-0")], [])  # the sink is usable after a failed batch
    assert query("SELECT count(*) FROM quotes") == [(1,)]


def test_sql_sink_batch_is_one_transaction_across_tables(sql_sink: tuple[Sink, Callable]) -> None:
    sink, query = sql_sink
    bad = Author("j", None, None, None, None, None, "2-0")  # type: ignore[arg-type] # NOT NULL
    with pytest.raises(Exception, match=r"(?i)null"):
        sink.store([q("k1", "1-0")], [bad], [Item("book", "b", {"n": 1}, "3-0")])
    assert query("SELECT count(*) FROM quotes") == [(0,)]
    assert query("SELECT count(*) FROM records") == [(0,)]


def test_sqlite_sink_is_in_wal_mode(tmp_path: Path) -> None:
    sink = open_sink(f"sqlite:///{tmp_path / 'q.db'}")
    sink.close()
    import sqlite3

    with sqlite3.connect(tmp_path / "q.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_sqlite_sink_keeps_full_sync_with_a_large_cache_and_rare_checkpoints(
    tmp_path: Path,
) -> None:
    from consumer.sinks.sqlite import CACHE_KIB, WAL_AUTOCHECKPOINT_PAGES, SQLiteSink

    sink = SQLiteSink(str(tmp_path / "q.db"))
    try:
        conn = sink._conn
        assert conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
        assert conn.execute("PRAGMA cache_size").fetchone() == (-CACHE_KIB,)
        assert conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (WAL_AUTOCHECKPOINT_PAGES,)
        assert CACHE_KIB > 2_000 and WAL_AUTOCHECKPOINT_PAGES > 1_000  # above SQLite's defaults
    finally:
        sink.close()


def test_replicas_opening_a_new_sqlite_file_at_once_all_get_it(tmp_path: Path) -> None:
    """Several replicas switching one new file to WAL at the same moment: none fails.

    SQLite answers one of them "database is locked" at once (no busy handler:
    it would deadlock); the sink must wait and try again, not exit.
    """
    errors: list[Exception] = []
    for n in range(30):
        path = str(tmp_path / f"race-{n}.db")
        start = threading.Barrier(6)

        def open_at_once(path: str = path, start: threading.Barrier = start) -> None:
            start.wait()
            try:
                SQLiteSink(path).close()
            except Exception as exc:  # collected, asserted below
                errors.append(exc)

        threads = [threading.Thread(target=open_at_once) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
    assert errors == []


#: The tables as the first release made them: no goodreads_url, no records table.
EARLIER_SCHEMA = (
    """CREATE TABLE quotes (key TEXT PRIMARY KEY, text TEXT NOT NULL, author TEXT NOT NULL,
    tags TEXT NOT NULL, author_url TEXT, page_url TEXT, stream_id TEXT NOT NULL,
    stored_at {ts} NOT NULL)""",
    """CREATE TABLE authors (key TEXT PRIMARY KEY, name TEXT NOT NULL, born_date TEXT,
    born_location TEXT, description TEXT, url TEXT, stream_id TEXT NOT NULL,
    stored_at {ts} NOT NULL)""",
    "INSERT INTO quotes VALUES ('k1', 'old', 'auth', '[]', NULL, NULL, '1-0', {then})",
    "INSERT INTO authors VALUES ('j', 'Jane', NULL, NULL, NULL, NULL, '1-1', {then})",
)


def test_sqlite_sink_takes_over_a_file_made_by_an_earlier_version(tmp_path: Path) -> None:
    """A quotes.db created by an earlier version (rollback journal, default pragmas,
    older tables) is used as it is: its rows stay, upserts keep their first stream ids,
    and the newer column and table are added."""
    import sqlite3

    path = tmp_path / "quotes.db"
    with sqlite3.connect(path) as old:
        for statement in EARLIER_SCHEMA:
            old.execute(statement.format(ts="TEXT", then="'then'"))
    old.close()
    sink = open_sink(f"sqlite:///{path}")
    sink.store(
        [q("k1", "9-0", text="new"), q("k2", "10-0")],
        [a("j", "9-1", goodreads="http://g/j")],
        [Item("book", "b1", {"isbn": "1"}, "11-0")],
    )
    sink.close()
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT key, text, stream_id, stored_at FROM quotes ORDER BY key")
        assert [r[:3] for r in rows] == [("k1", "new", "1-0"), ("k2", "t", "10-0")]
        assert conn.execute("SELECT stored_at FROM quotes WHERE key = 'k1'").fetchone() == ("then",)
        assert conn.execute("SELECT goodreads_url, stream_id FROM authors").fetchall() == [
            ("http://g/j", "1-1")
        ]
        assert conn.execute("SELECT type, key FROM records").fetchall() == [("book", "b1")]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()


@pytest.mark.postgres
def test_postgres_sink_adds_what_an_earlier_version_lacked(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for statement in EARLIER_SCHEMA:
            conn.execute(statement.format(ts="TIMESTAMPTZ", then="now()"))
    sink = open_sink(pg_url)
    sink.store([], [a("j", "9-1", goodreads="http://g/j")], [Item("book", "b1", {"n": 1}, "2-0")])
    sink.close()
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT goodreads_url, stream_id FROM authors").fetchall() == [
            ("http://g/j", "1-1")
        ]
        assert conn.execute("SELECT data FROM records").fetchall() == [({"n": 1},)]


def test_other_record_types_go_to_one_table_upserted_on_type_and_key(
    sql_sink: tuple[Sink, Callable],
) -> None:
    sink, query = sql_sink
    book = {"isbn": "978", "title": "Ça ira", "authors": ["A", "B"], "pages": 320, "x": None}
    sink.store([], [], [Item("book", "k1", book, "1-0"), Item("review", "k1", {"stars": 5}, "1-1")])
    sink.store([], [], [Item("book", "k1", {**book, "pages": 321}, "2-0")])  # a re-crawl
    rows = query("SELECT type, key, data, stream_id FROM records ORDER BY type")
    decoded = [(t, k, d if isinstance(d, dict) else json.loads(d), s) for t, k, d, s in rows]
    assert decoded == [
        ("book", "k1", {**book, "pages": 321}, "1-0"),
        ("review", "k1", {"stars": 5}, "1-1"),
    ]


@pytest.mark.postgres
def test_data_postgresql_refuses_as_jsonb_is_a_record_error(pg_url: str) -> None:
    """NaN: the standard library's JSON reads and writes it, jsonb does not."""
    sink = open_sink(pg_url)
    try:
        with pytest.raises(RecordError, match=r"invalid input syntax for type json"):
            sink.store([q("k1", "1-0")], [], [Item("reading", "r1", {"v": float("nan")}, "2-0")])
        sink.store([q("k1", "1-0")], [], [Item("reading", "r1", {"v": 1.5}, "2-0")])
        with psycopg.connect(pg_url) as conn:
            assert conn.execute("SELECT count(*) FROM quotes").fetchone() == (1,)
            assert conn.execute("SELECT data FROM records").fetchall() == [({"v": 1.5},)]
    finally:
        sink.close()


@pytest.mark.postgres
def test_a_batch_past_the_json_limit_goes_in_several_statements_of_one_transaction(
    pg_url: str,
) -> None:
    from consumer.sinks import sql
    from consumer.sinks.postgres import FromJson, PostgresSink

    quotes = [q(f"k{n:02}", f"{n}-0", text="x" * 100) for n in range(20)]
    rows = sql.quote_rows(quotes)
    arrays = FromJson("quotes", sql.QUOTE_COLUMNS).arrays(rows, 1_000)
    assert len(arrays) > 2 and all(len(array) <= 1_000 for array in arrays)
    assert [tuple(row) for array in arrays for row in json.loads(array)] == rows

    sink = PostgresSink(pg_url, max_json_bytes=1_000)
    try:
        again = q("k03", "99-0", text="again")
        sink.store([*quotes, again], [a("j", "30-0")], [Item("book", "b", {"n": 1}, "31-0")])
        bad = Quote("k99", None, "auth", (), None, None, "40-1")  # type: ignore[arg-type] # NOT NULL
        with pytest.raises(RecordError, match="null"):  # in the last statement: all rolled back
            sink.store([q("k50", "40-0", text="y" * 900), bad], [a("i", "41-0")])
    finally:
        sink.close()
    with psycopg.connect(pg_url) as conn:
        stored = conn.execute("SELECT key, text, stream_id FROM quotes ORDER BY key").fetchall()
        assert conn.execute("SELECT key FROM authors").fetchall() == [("j",)]
        assert conn.execute("SELECT data FROM records").fetchall() == [({"n": 1},)]
    assert stored == [(f"k{n:02}", "again" if n == 3 else "x" * 100, f"{n}-0") for n in range(20)]


def test_a_known_goodreads_link_is_not_forgotten(sql_sink: tuple[Sink, Callable]) -> None:
    """An author crawled from a variant that shows no Goodreads link keeps the known one."""
    sink, query = sql_sink
    sink.store([], [a("j", "1-0", goodreads="http://g/j")])
    sink.store([], [a("j", "2-0", name="Jane B.")])
    assert query("SELECT name, goodreads_url FROM authors") == [("Jane B.", "http://g/j")]


def test_jsonl_sink_appends_lines_and_repeats_on_redelivery(tmp_path: Path) -> None:
    path = tmp_path / "out" / "quotes.jsonl"
    sink = open_sink(f"jsonl:{path}")
    sink.store([q("k1", "1-0")], [a("j", "2-0")])
    sink.store([q("k1", "1-0")], [])  # a redelivery: at-least-once, the line repeats
    sink.close()
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [(d["type"], d["key"], d["stream_id"]) for d in lines] == [
        ("quote", "k1", "1-0"),
        ("author", "j", "2-0"),
        ("quote", "k1", "1-0"),
    ]
    assert lines[0]["data"] == {
        "text": "t",
        "author": "auth",
        "tags": ["a"],
        "author_url": "http://a",
        "page_url": "http://p",
    }
    assert lines[1]["data"]["name"] == "Jane"
    assert "stored_at" in lines[0]


def test_jsonl_lines_are_what_json_dumps_writes(tmp_path: Path) -> None:
    odd = 'q"\\\n\t\x01é😀\u2028'
    quote = Quote("k1", odd, "auth", (odd, "b"), None, odd, "1-0")
    author = Author("j", odd, None, "Paris", "", None, "2-0")
    book = {"title": odd, "isbn": ["978", 1, None, True], "nested": {"k": odd}}
    path = tmp_path / "quotes.jsonl"
    sink = open_sink(f"jsonl:{path}")
    bare = Quote("k2", "t", "a", (), None, None, "1-1")
    sink.store([quote, bare], [author], [Item("book", "b", book, "3-0")])
    sink.close()
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[4] == ""
    stored_at = json.loads(lines[0])["stored_at"]
    expected = [
        {
            "type": "quote",
            "key": "k1",
            "stream_id": "1-0",
            "stored_at": stored_at,
            "data": {
                "text": odd,
                "author": "auth",
                "tags": [odd, "b"],
                "author_url": None,
                "page_url": odd,
            },
        },
        {
            "type": "quote",
            "key": "k2",
            "stream_id": "1-1",
            "stored_at": stored_at,
            "data": {"text": "t", "author": "a", "tags": [], "author_url": None, "page_url": None},
        },
        {
            "type": "author",
            "key": "j",
            "stream_id": "2-0",
            "stored_at": stored_at,
            "data": {
                "name": odd,
                "born_date": None,
                "born_location": "Paris",
                "description": "",
                "url": None,
                "goodreads_url": None,
            },
        },
        {"type": "book", "key": "b", "stream_id": "3-0", "stored_at": stored_at, "data": book},
    ]
    assert lines[:4] == [json.dumps(doc, ensure_ascii=False) for doc in expected]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://x/y", "unknown sink 'mysql'"),
        ("quotes.db", "not a sink URL: use sqlite:///PATH"),
        ("host=db password=pw", "not a sink URL"),
        ("sqlite:///", "needs a path"),
        ("jsonl:", "needs a path"),
        ("postgresql://u:pw@127.0.0.1:5432/test?bogus=1", "invalid PostgreSQL URL"),
    ],
)
def test_bad_sink_urls_are_config_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        open_sink(url)
    assert "pw" not in str(info.value)


def test_postgres_description_masks_the_password(pg_url: str) -> None:
    user, rest = pg_url.removeprefix("postgresql://").split("@", 1)
    with_password = f"postgresql://{user}:s3cret-pw@{rest}"  # trust auth ignores it
    sink = open_sink(with_password)
    try:
        assert "s3cret-pw" not in sink.description
        assert sink.description.startswith(f"postgresql://{user}:***@")
    finally:
        sink.close()


def test_postgres_sink_reconnects_after_losing_its_connection(pg_url: str) -> None:
    sink = open_sink(pg_url)
    try:
        sink.store([q("k1", "1-0")], [])
        pid = sink._conn.info.backend_pid  # type: ignore[attr-defined]
        with psycopg.connect(pg_url) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        # The batch in flight fails as an outage (the consumer holds it and retries)...
        with pytest.raises(OutageError, match=r"administrator command \(SQLSTATE 57P01\)"):
            sink.store([q("k2", "2-0")], [])
        # ...and the next attempt reconnects and stores it.
        sink.store([q("k2", "2-0")], [])
        with psycopg.connect(pg_url) as conn:
            assert conn.execute("SELECT count(*) FROM quotes").fetchone() == (2,)
    finally:
        sink.close()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw@db:5432/q", "postgresql://u:***@db:5432/q"),
        ("postgres://u:pw@db/q", "postgres://u:***@db/q"),
        ("sqlite:///quotes.db", "sqlite:///quotes.db"),
        ("jsonl:out.jsonl", "jsonl:out.jsonl"),
        ("host=db password=pw", "<not a sink URL>"),
    ],
)
def test_sink_urls_are_logged_without_passwords(url: str, shown: str) -> None:
    assert describe(url) == shown
