"""PostgreSQL sink (psycopg 3, the ``postgres`` extra).

One connection per replica; each batch is upserted in one transaction
(pipelined ``executemany``) and ``store`` returns after COMMIT. The URL's
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
    from psycopg.types.json import Jsonb
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
        self._quotes = sql.upsert("quotes", sql.QUOTE_COLUMNS, "%s")
        self._authors = sql.upsert("authors", sql.AUTHOR_COLUMNS, "%s")
        self._records = sql.upsert("records", sql.RECORD_COLUMNS, "%s")
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
        try:
            return psycopg.connect(self.url, connect_timeout=self._connect_timeout, autocommit=True)
        except psycopg.OperationalError as exc:
            # libpq's message names host and user, never the password.
            raise OutageError(f"PostgreSQL at {self.description}: {_reason(exc)}") from None
        except psycopg.ProgrammingError as exc:  # a malformed URL
            raise ConfigError(f"invalid PostgreSQL URL {self.description}: {exc}") from None

    def store(
        self, quotes: Sequence[Quote], authors: Sequence[Author], items: Sequence[Item] = ()
    ) -> None:
        """Upsert the batch in one transaction; returns after COMMIT."""
        if self._conn.closed or self._conn.broken:
            log.info("reconnecting to PostgreSQL at %s", self.description)
            self._conn = self._connect()
        try:
            self._upsert(quotes, authors, items)
        except (psycopg.IntegrityError, psycopg.DataError) as exc:
            raise RecordError(_reason(exc)) from exc
        except psycopg.Error as exc:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()  # the next batch connects afresh
            raise OutageError(f"PostgreSQL at {self.description}: {_reason(exc)}") from exc

    def _upsert(
        self, quotes: Sequence[Quote], authors: Sequence[Author], items: Sequence[Item]
    ) -> None:
        now = datetime.now(UTC)
        with self._conn.transaction(), self._conn.cursor() as cur:
            if quotes:
                cur.executemany(self._quotes, [sql.quote_row(q, now) for q in quotes])
            if authors:
                cur.executemany(self._authors, [sql.author_row(a, now) for a in authors])
            if items:
                cur.executemany(self._records, [sql.record_row(i, now, Jsonb) for i in items])

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def _reason(exc: psycopg.Error) -> str:
    """The server's (or libpq's) message, first line, and its SQLSTATE when there is one."""
    lines = str(exc).strip().splitlines()
    message = lines[0] if lines else type(exc).__name__
    return f"{message} (SQLSTATE {exc.sqlstate})" if exc.sqlstate else message
