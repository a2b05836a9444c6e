"""What the SQL sinks share: the tables and the upsert rows.

``quotes`` and ``authors`` are keyed on the envelope ``key``; ``records``,
one table for every other record type, on ``(type, key)``, its ``data`` as
the dialect's JSON type. On conflict the content columns take the new
values (an author's ``goodreads_url`` only when the new one is known), while
``stream_id`` (the first entry that stored the row) and ``stored_at`` (when)
keep the first ones: a redelivered entry never adds a row. Columns added
after a table was first made are added to it on start (``COLUMNS_ADDED``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from json.encoder import encode_basestring
from typing import Any

from ..records import Author, Item, Quote

QUOTE_COLUMNS = (
    "key",
    "text",
    "author",
    "tags",
    "author_url",
    "page_url",
    "stream_id",
    "stored_at",
)
AUTHOR_COLUMNS = (
    "key",
    "name",
    "born_date",
    "born_location",
    "description",
    "url",
    "goodreads_url",
    "stream_id",
    "stored_at",
)
RECORD_COLUMNS = ("type", "key", "data", "stream_id", "stored_at")
#: Columns never overwritten by an upsert.
KEPT = {"type", "key", "stream_id", "stored_at"}
#: Columns an upsert leaves as they are when the new value is NULL (unknown).
KEPT_IF_NULL = {"goodreads_url"}
#: Columns newer than their table: (table, column), added on start where missing.
COLUMNS_ADDED = (("authors", "goodreads_url"),)


def create_tables(text_type: str, time_type: str, json_type: str) -> list[str]:
    """``CREATE TABLE IF NOT EXISTS`` for every table in one dialect's types."""
    t, ts = text_type, time_type
    return [
        f"""CREATE TABLE IF NOT EXISTS quotes (
            key {t} PRIMARY KEY,
            text {t} NOT NULL,
            author {t} NOT NULL,
            tags {t} NOT NULL,
            author_url {t},
            page_url {t},
            stream_id {t} NOT NULL,
            stored_at {ts} NOT NULL
        )""",
        f"""CREATE TABLE IF NOT EXISTS authors (
            key {t} PRIMARY KEY,
            name {t} NOT NULL,
            born_date {t},
            born_location {t},
            description {t},
            url {t},
            goodreads_url {t},
            stream_id {t} NOT NULL,
            stored_at {ts} NOT NULL
        )""",
        f"""CREATE TABLE IF NOT EXISTS records (
            type {t} NOT NULL,
            key {t} NOT NULL,
            data {json_type} NOT NULL,
            stream_id {t} NOT NULL,
            stored_at {ts} NOT NULL,
            PRIMARY KEY (type, key)
        )""",
    ]


def upsert(table: str, columns: Sequence[str], placeholder: str) -> str:
    """``INSERT ... ON CONFLICT (<key>) DO UPDATE`` (SQLite >= 3.24 and PostgreSQL)."""
    values = ", ".join(placeholder for _ in columns)
    updates = ", ".join(
        f"{c} = COALESCE(excluded.{c}, {table}.{c})" if c in KEPT_IF_NULL else f"{c} = excluded.{c}"
        for c in columns
        if c not in KEPT
    )
    conflict = "type, key" if "type" in columns else "key"
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({values}) "
        f"ON CONFLICT ({conflict}) DO UPDATE SET {updates}"
    )


def quote_row(q: Quote, stored_at: datetime | str) -> tuple[object, ...]:
    """One ``quotes`` row in ``QUOTE_COLUMNS`` order; tags as JSON text."""
    return (
        q.key,
        q.text,
        q.author,
        tags_json(q.tags),
        q.author_url,
        q.page_url,
        q.stream_id,
        stored_at,
    )


def tags_json(tags: Sequence[str]) -> str:
    """``json.dumps(list(tags), ensure_ascii=False)``, byte for byte, at a fifth of the cost.

    ``json.dumps`` with a non-default option builds a new encoder per call;
    tags are only strings, so each is escaped by the same C function
    ``json.dumps`` uses and joined with its ``", "`` separator.
    """
    return "[" + ", ".join(map(encode_basestring, tags)) + "]"


def author_row(a: Author, stored_at: datetime | str) -> tuple[object, ...]:
    """One ``authors`` row in ``AUTHOR_COLUMNS`` order."""
    return (
        a.key,
        a.name,
        a.born_date,
        a.born_location,
        a.description,
        a.url,
        a.goodreads_url,
        a.stream_id,
        stored_at,
    )


def record_row(
    item: Item, stored_at: datetime | str, data: Callable[[Mapping[str, Any]], object]
) -> tuple[object, ...]:
    """One ``records`` row in ``RECORD_COLUMNS`` order; ``data`` adapts the JSON for the driver."""
    return (item.type, item.key, data(item.data), item.stream_id, stored_at)
