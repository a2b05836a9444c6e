"""PostgreSQL sink (psycopg 3, the ``postgres`` extra).

One connection per replica; each batch is upserted in one transaction and
``store`` returns after COMMIT. A batch is set-based: its rows (repeats of
a key folded first, as upserting them one by one would leave the row) are
COPYed into a temporary staging table of the connection, emptied at each
commit, then upserted from it by one ``INSERT ... SELECT ... ON CONFLICT``
per table, instead of one statement per row. The URL's
password never reaches a log line.

Errors are told apart for the consumer: a record the database refuses
(``IntegrityError``, SQLSTATE class 23; ``DataError``, class 22: a value too
long, an invalid value) is a ``RecordError``; every other error is an
``OutageError``, waited out: can't connect, connection lost, admin shutdown
(57P01), starting up (57P03), serialization failure (40001), deadlock
(40P01), read-only transaction after a failover (25006), disk full (53100),
and also a missing table or privilege, which an operator fixes: none of them
is a record's fault. After an outage the connection is replaced, so a
failover's new primary is reached through the same URL.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from streamlib import ConfigError, OutageError, RecordError, mask_url

from ..records import Author, Item, Quote
from . import sql

try:
    import psycopg
except ImportError:  # pragma: no cover - depends on the installed extras
    psycopg = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

#: Serialises concurrent ``CREATE TABLE IF NOT EXISTS`` of several replicas
#: (without it two can collide on the catalog's unique index).
SCHEMA_LOCK = 0x71756F74  # "quot"


class PostgresSink:
    """Upserts each batch into ``quotes``, ``authors`` and ``records`` in one transaction."""

    def __init__(self, url: str, *, connect_timeout: int = 10) -> None:
        if psycopg is None:
            raise ConfigError(
                "the postgresql sink needs psycopg 3: pip install 'quotestream[postgres]'"
            )
        self.url = url
        self.description = mask_url(url)
        self._connect_timeout = connect_timeout
        self._quotes = Staged("quotes", sql.QUOTE_COLUMNS)
        self._authors = Staged("authors", sql.AUTHOR_COLUMNS)
        self._records = Staged("records", sql.RECORD_COLUMNS)
        #: Staging tables made in this connection's session (see ``Staged``).
        self._made: set[str] = set()
        self._conn = self._connect()
        try:
            with self._conn.transaction(), self._conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                for statement in sql.create_tables("TEXT", "TIMESTAMPTZ", "JSONB"):
                    cur.execute(statement)
                for table, column in sql.COLUMNS_ADDED:  # tables made by an earlier version
                    cur.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} TEXT")
        except psycopg.OperationalError as exc:  # lost, shut down, read-only: retried
            self._conn.close()
            raise OutageError(f"PostgreSQL at {self.description}: {_reason(exc)}") from None

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        """A new connection."""
        try:
            conn = psycopg.connect(self.url, connect_timeout=self._connect_timeout, autocommit=True)
        except psycopg.OperationalError as exc:
            # libpq's message names host and user, never the password.
            raise OutageError(f"PostgreSQL at {self.description}: {_reason(exc)}") from None
        except psycopg.ProgrammingError as exc:  # a malformed URL
            raise ConfigError(f"invalid PostgreSQL URL {self.description}: {exc}") from None
        self._made.clear()  # a new session: no staging table yet
        return conn

    def store(
        self, quotes: Sequence[Quote], authors: Sequence[Author], items: Sequence[Item] = ()
    ) -> None:
        """Upsert the batch in one transaction; returns after COMMIT."""
        if self._conn.closed or self._conn.broken:
            log.info("reconnecting to PostgreSQL at %s", self.description)
            self._conn = self._connect()
        try:
            self._upsert(quotes, authors, items)
        except psycopg.Error as exc:
            self._made.clear()  # a staging table made by the failed transaction is gone
            if isinstance(exc, psycopg.IntegrityError | psycopg.DataError):
                raise RecordError(_reason(exc)) from exc
            with contextlib.suppress(psycopg.Error):
                self._conn.close()  # the next batch connects afresh
            raise OutageError(f"PostgreSQL at {self.description}: {_reason(exc)}") from exc

    def _upsert(
        self, quotes: Sequence[Quote], authors: Sequence[Author], items: Sequence[Item]
    ) -> None:
        now = datetime.now(UTC)
        with self._conn.transaction(), self._conn.cursor() as cur:
            if quotes:
                rows = [sql.quote_row(q, now) for q in quotes]
                self._quotes.upsert(cur, rows, now, self._made)
            if authors:
                rows = [sql.author_row(a, now) for a in authors]
                self._authors.upsert(cur, rows, now, self._made)
            if items:
                rows = [sql.record_row(i, now, sql.json_text) for i in items]
                self._records.upsert(cur, rows, now, self._made)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


class Staged:
    """One table's set-based upsert: COPY into ``pg_temp.<table>_staged``, then one upsert.

    The staging table has the table's columns but ``stored_at`` (the batch's
    one time, a parameter), all as ``TEXT`` but ``data`` (``JSONB``), and no
    constraints: whatever the table refuses, its upsert refuses, so a record
    error is raised by one statement of the batch's transaction as before.

    A staging table is made when its session first needs it: PostgreSQL
    empties every ``ON COMMIT DELETE ROWS`` table of the session at each
    commit, a truncation each (about 0.5 ms), so a sink that only ever sees
    quotes keeps only the quotes' one.
    """

    def __init__(self, table: str, columns: Sequence[str]) -> None:
        assert columns[-1] == "stored_at", columns
        self.table = table
        self.columns = columns
        staged = columns[:-1]
        name = f"pg_temp.{table}_staged"
        types = ", ".join(f"{c} {'JSONB' if c == 'data' else 'TEXT'}" for c in staged)
        self.create = (
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {table}_staged ({types}) ON COMMIT DELETE ROWS"
        )
        self.copy = f"COPY {name} ({', '.join(staged)}) FROM STDIN"
        source = f"SELECT {', '.join(staged)}, %s::timestamptz FROM {name}"
        self.statement = sql.upsert_from(table, columns, source)

    def upsert(
        self,
        cur: psycopg.Cursor[tuple[object, ...]],
        rows: list[tuple[object, ...]],
        now: datetime,
        made: set[str],
    ) -> None:
        """Upsert ``rows`` (``columns`` order, ``stored_at`` last) in ``cur``'s transaction.

        ``made``: the staging tables the session has; this one is added.
        """
        if self.table not in made:
            cur.execute(self.create)
            made.add(self.table)
        with cur.copy(self.copy) as copy:
            for row in sql.merge_repeats(rows, self.columns):
                copy.write_row(row[:-1])
        cur.execute(self.statement, (now,), prepare=True)


def _reason(exc: psycopg.Error) -> str:
    """The server's (or libpq's) message, first line, and its SQLSTATE when there is one."""
    lines = str(exc).strip().splitlines()
    message = lines[0] if lines else type(exc).__name__
    return f"{message} (SQLSTATE {exc.sqlstate})" if exc.sqlstate else message
