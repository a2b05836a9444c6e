"""PostgreSQL sink (psycopg 3, the ``postgres`` extra).

One connection per replica; each batch is upserted in one transaction and
``store`` returns after COMMIT. A batch is set-based: one
``INSERT ... SELECT ... ON CONFLICT`` per table, instead of one statement
per row, takes the table's rows (repeats of a key folded first, as
upserting them one by one would leave the row) as a ``jsonb`` array of rows,
one parameter (``FromJson``); the batch's tables are upserted by one
statement (``WITH``), which PostgreSQL runs as a transaction of its own: one
round trip a batch. The URL's password never reaches a log line.

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
from streamlib.jsonutil import dumps as json_dumps

from ..records import Author, Item, Quote
from . import sql

try:
    import psycopg
    from psycopg.types.json import Jsonb
except ImportError:  # pragma: no cover - depends on the installed extras
    psycopg = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

#: The most JSON one statement takes: one ``jsonb`` value can't pass 256 MiB,
#: one statement with its parameters 1 GiB.
MAX_JSON_BYTES = 64 << 20
#: Serialises concurrent ``CREATE TABLE IF NOT EXISTS`` of several replicas
#: (without it two can collide on the catalog's unique index).
SCHEMA_LOCK = 0x71756F74  # "quot"


class PostgresSink:
    """Upserts each batch into ``quotes``, ``authors`` and ``records`` in one transaction."""

    def __init__(
        self, url: str, *, connect_timeout: int = 10, max_json_bytes: int = MAX_JSON_BYTES
    ) -> None:
        if psycopg is None:
            raise ConfigError(
                "the postgresql sink needs psycopg 3: pip install 'quotestream[postgres]'"
            )
        self.url = url
        self.description = mask_url(url)
        self._connect_timeout = connect_timeout
        self._max_json_bytes = max_json_bytes
        self._quotes = FromJson("quotes", sql.QUOTE_COLUMNS)
        self._authors = FromJson("authors", sql.AUTHOR_COLUMNS)
        self._records = FromJson("records", sql.RECORD_COLUMNS)
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
            if isinstance(exc, psycopg.IntegrityError | psycopg.DataError):
                raise RecordError(_reason(exc)) from exc
            with contextlib.suppress(psycopg.Error):
                self._conn.close()  # the next batch connects afresh
            raise OutageError(f"PostgreSQL at {self.description}: {_reason(exc)}") from exc

    def _upsert(
        self, quotes: Sequence[Quote], authors: Sequence[Author], items: Sequence[Item]
    ) -> None:
        limit = self._max_json_bytes
        tables = (
            (self._quotes, sql.quote_rows(quotes)),
            (self._authors, sql.author_rows(authors)),
            (self._records, sql.record_rows(items)),
        )
        parts = [
            (upsert, array)
            for upsert, rows in tables
            if rows
            for array in upsert.arrays(rows, limit)
        ]
        statements = _statements(parts, datetime.now(UTC), limit)
        # A statement alone is a transaction of its own; several share one.
        block = self._conn.transaction() if len(statements) > 1 else contextlib.nullcontext()
        with block, self._conn.cursor() as cur:
            for statement, params in statements:
                cur.execute(statement, params, prepare=True)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


class FromJson:
    """One table's set-based upsert of a batch's rows, passed as ``jsonb`` arrays.

    ``INSERT INTO table (...) SELECT r->>0, r->>1, ..., <stored_at> FROM
    jsonb_array_elements(<rows>) AS r ON CONFLICT ...``: each row a JSON
    array of the table's columns but ``stored_at`` (the batch's one time, a
    parameter of its own), strings or null; ``data`` is the record's JSON
    text (``sql.json_text``), cast to ``jsonb`` by the server. The client
    encodes a table's rows in one call (orjson when installed), the server
    parses them in one. Whatever the table refuses, the statement refuses.
    """

    def __init__(self, table: str, columns: Sequence[str]) -> None:
        assert columns[-1] == "stored_at", columns
        #: The columns a row holds: all but ``stored_at``.
        self.fields = tuple(columns[:-1])
        values = ", ".join(
            f"(r->>{i})::jsonb" if c == "data" else f"r->>{i}" for i, c in enumerate(self.fields)
        )
        source = f"SELECT {values}, %s::timestamptz FROM jsonb_array_elements(%s) AS r"
        #: Its parameters: ``stored_at``, then the rows (``jsonb``).
        self.statement = sql.upsert_from(table, columns, source)

    def arrays(self, rows: list[tuple[object, ...]], max_bytes: int) -> list[bytes]:
        """``rows`` (``fields`` order), repeats folded, as JSON arrays of at most ``max_bytes``.

        One array unless the rows' JSON passes ``max_bytes`` (then halves,
        and so on, down to one row however long).
        """
        return self._split(sql.merge_repeats(rows, self.fields), max_bytes)

    def _split(self, rows: list[tuple[object, ...]], max_bytes: int) -> list[bytes]:
        array = json_dumps(rows)
        if len(array) <= max_bytes or len(rows) == 1:
            return [array]
        half = len(rows) // 2
        return self._split(rows[:half], max_bytes) + self._split(rows[half:], max_bytes)


def _statements(
    parts: Sequence[tuple[FromJson, bytes]], stored_at: datetime, max_bytes: int
) -> list[tuple[str, list[object]]]:
    """``(statement, parameters)`` upserting every part, as few as fit ``max_bytes`` of JSON each.

    Parts that fit together are one statement: all but the last upsert in a
    ``WITH`` (data-modifying sub-statements, each run once, to completion).
    """
    groups: list[list[tuple[FromJson, bytes]]] = []
    size = 0
    for part in parts:
        if not groups or size + len(part[1]) > max_bytes:
            groups.append([])
            size = 0
        groups[-1].append(part)
        size += len(part[1])
    statements = []
    for group in groups:
        *first, (last, _) = group
        ctes = ", ".join(
            f"upsert{i} AS ({upsert.statement})" for i, (upsert, _) in enumerate(first)
        )
        text = f"WITH {ctes} {last.statement}" if first else last.statement
        params: list[object] = []
        for _, array in group:
            params += (stored_at, Jsonb(array, dumps=_encoded))
        statements.append((text, params))
    return statements


def _encoded(array: bytes) -> bytes:
    """The JSON ``FromJson`` encoded already, as psycopg's ``Jsonb`` sends it."""
    return array


def _reason(exc: psycopg.Error) -> str:
    """The server's (or libpq's) message, first line, and its SQLSTATE when there is one."""
    lines = str(exc).strip().splitlines()
    message = lines[0] if lines else type(exc).__name__
    return f"{message} (SQLSTATE {exc.sqlstate})" if exc.sqlstate else message
