"""SQLite sink: one file, shareable by several local replicas.

WAL journal (readers never block the writer), ``busy_timeout`` so replicas
wait for each other's write lock instead of failing, ``BEGIN IMMEDIATE`` so
a batch takes the write lock up front (no lock-upgrade deadlock), and
``synchronous=FULL`` so a committed batch survives a power cut before its
entries are acknowledged.

Errors are told apart for the consumer: a record the database refuses
(a constraint, a datatype mismatch, a value too big) is a ``RecordError``;
everything else SQLite says (locked or busy past the busy timeout, disk
full, I/O error, can't open the file) is an ``OutageError``, waited out.

Keys are SHA-1 hex, so every batch inserts into random leaves of the key
index: a batch of 500 dirties a few hundred index pages once the table holds
more than a few tens of thousands of rows. Two settings keep that cost flat as
the file grows: a page cache large enough to hold the hot index
(``CACHE_KIB``; SQLite's default, 2 MiB, is outgrown at ~40,000 rows and
every batch then re-reads its pages from the WAL), and a checkpoint every
``WAL_AUTOCHECKPOINT_PAGES`` pages instead of 1,000, so an index page
rewritten by several batches is copied into the database file once per
checkpoint instead of once every other batch. Neither changes durability:
each commit still fsyncs the WAL.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from streamlib import ConfigError, OutageError, RecordError
from streamlib.backoff import Backoff

from ..records import Author, Item, Quote
from . import sql

log = logging.getLogger(__name__)

#: How long a writer waits for another replica's write lock.
BUSY_TIMEOUT_MS = 60_000
#: Page cache per connection, KiB (allocated as used; SQLite's default is 2,000).
CACHE_KIB = 32 * 1024
#: WAL size, in pages (4 KiB), that triggers a checkpoint (SQLite's default: 1,000).
#: The -wal file grows to about this size (40 MiB) and is reused, not truncated.
WAL_AUTOCHECKPOINT_PAGES = 10_000


class SQLiteSink:
    """Upserts each batch into ``quotes``, ``authors`` and ``records`` in one transaction.

    ``busy_timeout_ms``: how long a batch waits for another writer's lock
    before it reports an outage.
    """

    def __init__(self, path: str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
        if not path:
            raise ConfigError("the sqlite sink needs a path: sqlite:///quotes.db")
        self.path = path
        self.description = f"sqlite:///{path}"
        if path != ":memory:":
            _make_parent(path)
        try:
            # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE ... COMMIT).
            # Usable from another thread than the opener's: a partitioned consumer
            # calls the handler from its partition threads, one at a time (a lock).
            self._conn = sqlite3.connect(
                path,
                timeout=busy_timeout_ms / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
            self._conn.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
            _while_locked(self._set_up, busy_timeout_ms / 1000)
        except sqlite3.Error as exc:
            raise ConfigError(f"can't open SQLite database {path!r}: {exc}") from None
        self._quotes = sql.upsert("quotes", sql.QUOTE_COLUMNS, "?")
        self._authors = sql.upsert("authors", sql.AUTHOR_COLUMNS, "?")
        self._records = sql.upsert("records", sql.RECORD_COLUMNS, "?")

    def _set_up(self) -> None:
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = FULL")
        self._conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        self._conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT_PAGES}")
        self._transaction(_create_tables)

    def store(
        self, quotes: Sequence[Quote], authors: Sequence[Author], items: Sequence[Item] = ()
    ) -> None:
        """Upsert the batch in one transaction; returns after COMMIT."""
        stored_at = (datetime.now(UTC).isoformat(timespec="milliseconds"),)

        def write(cur: sqlite3.Cursor) -> None:
            if quotes:
                cur.executemany(self._quotes, sql.quote_rows(quotes, stored_at))
            if authors:
                cur.executemany(self._authors, sql.author_rows(authors, stored_at))
            if items:
                cur.executemany(self._records, sql.record_rows(items, stored_at))

        try:
            self._transaction(write)
        except (sqlite3.IntegrityError, sqlite3.DataError) as exc:
            raise RecordError(_reason(exc)) from exc
        except sqlite3.Error as exc:
            raise OutageError(f"SQLite {self.path!r}: {_reason(exc)}") from exc

    def _transaction(self, work: Callable[[sqlite3.Cursor], None]) -> None:
        cur = self._conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            work(cur)
            cur.execute("COMMIT")  # may fail too (disk full): then roll back as well
        except BaseException:
            # SQLite may have rolled back already (disk full, I/O error); a
            # rollback that fails leaves the error that caused it to be raised.
            with contextlib.suppress(sqlite3.Error):
                self._conn.rollback()
            raise

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def _while_locked(work: Callable[[], None], timeout: float) -> None:
    """Run ``work``, again while it fails with "database is locked", for up to ``timeout`` s.

    Replicas that open a new file at the same moment all switch it to WAL:
    each holds a shared lock and wants the exclusive one, and SQLite answers
    one of them SQLITE_BUSY at once instead of calling the busy handler (it
    would deadlock). Waiting a moment and trying again is the way out.
    """
    backoff = Backoff(base=0.01, cap=0.5)
    deadline = time.monotonic() + timeout
    while True:
        try:
            work()
            return
        except sqlite3.OperationalError as exc:
            delay = backoff.next_delay()
            if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                raise
            log.debug("SQLite database locked while opening it; again in %.2fs", delay)
            time.sleep(delay)


def _reason(exc: sqlite3.Error) -> str:
    """SQLite's message and its error code's name, e.g. ``... (SQLITE_CONSTRAINT_CHECK)``."""
    name = getattr(exc, "sqlite_errorname", None)
    return f"{exc} ({name})" if name and name != "unknown" else str(exc)


def _create_tables(cur: sqlite3.Cursor) -> None:
    for statement in sql.create_tables("TEXT", "TEXT", "TEXT"):
        cur.execute(statement)
    for table, column in sql.COLUMNS_ADDED:  # a file made by an earlier version
        present = {row[1] for row in cur.execute(f"PRAGMA table_info({table})")}
        if column not in present:
            cur.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")


def _make_parent(path: str) -> None:
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"can't create the folder of {path!r}: {exc}") from None
