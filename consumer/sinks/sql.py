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

import json
import operator
from collections.abc import Iterable, Mapping, Sequence
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
    """``INSERT ... VALUES ... ON CONFLICT (<key>) DO UPDATE``, one row (SQLite and PostgreSQL)."""
    values = ", ".join(placeholder for _ in columns)
    return upsert_from(table, columns, f"VALUES ({values})")


def upsert_from(table: str, columns: Sequence[str], source: str) -> str:
    """``INSERT INTO table (columns) <source> ON CONFLICT (<key>) DO UPDATE``.

    SQLite >= 3.24 and PostgreSQL.

    ``source`` gives rows in ``columns`` order: ``VALUES (...)`` or a ``SELECT``.
    """
    updates = ", ".join(
        f"{c} = COALESCE(excluded.{c}, {table}.{c})" if c in KEPT_IF_NULL else f"{c} = excluded.{c}"
        for c in columns
        if c not in KEPT
    )
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) {source} "
        f"ON CONFLICT ({', '.join(key_columns(columns))}) DO UPDATE SET {updates}"
    )


def key_columns(columns: Sequence[str]) -> tuple[str, ...]:
    """The primary key among a table's ``columns``: ``(type, key)`` or ``(key,)``."""
    return ("type", "key") if "type" in columns else ("key",)


def merge_repeats(
    rows: list[tuple[object, ...]], columns: Sequence[str]
) -> list[tuple[object, ...]]:
    """One row per key, as upserting ``rows`` one by one in order would leave it.

    A set-based upsert can't touch one row twice, so repeats of a key within
    a batch are folded first: the later row's content wins, ``KEPT`` columns
    keep the first row's values, ``KEPT_IF_NULL`` ones the latest known value.
    ``rows`` as they are when no key repeats (the usual batch).
    """
    key = operator.itemgetter(*range(len(key_columns(columns))))
    if len(set(map(key, rows))) == len(rows):
        return rows
    kept = [i for i, c in enumerate(columns) if c in KEPT]
    kept_if_null = [i for i, c in enumerate(columns) if c in KEPT_IF_NULL]
    merged: dict[object, tuple[object, ...]] = {}
    for row in rows:
        k = key(row)
        first = merged.get(k)
        if first is not None:
            new = list(row)
            for i in kept:
                new[i] = first[i]
            for i in kept_if_null:
                if new[i] is None:
                    new[i] = first[i]
            row = tuple(new)
        merged[k] = row
    return list(merged.values())


# A batch's rows, one function per table: in the table's column order, each
# row ending with ``tail`` (``(stored_at,)``, or nothing where the time is
# one parameter of the statement).


def quote_rows(quotes: Iterable[Quote], tail: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """``quotes`` rows in ``QUOTE_COLUMNS`` order (a ``Quote``'s own), tags as JSON text."""
    return [
        (key, text, author, tags_json(tags), author_url, page_url, stream_id, *tail)
        for key, text, author, tags, author_url, page_url, stream_id in quotes
    ]


def tags_json(tags: Sequence[str]) -> str:
    """``json.dumps(list(tags), ensure_ascii=False)``, byte for byte, at a fifth of the cost.

    ``json.dumps`` with a non-default option builds a new encoder per call;
    tags are only strings, so each is escaped by the same C function
    ``json.dumps`` uses and joined with its ``", "`` separator.
    """
    return "[" + ", ".join(map(encode_basestring, tags)) + "]"


def author_rows(
    authors: Iterable[Author], tail: tuple[object, ...] = ()
) -> list[tuple[object, ...]]:
    """``authors`` rows in ``AUTHOR_COLUMNS`` order."""
    return [
        (
            a.key,
            a.name,
            a.born_date,
            a.born_location,
            a.description,
            a.url,
            a.goodreads_url,
            a.stream_id,
            *tail,
        )
        for a in authors
    ]


def record_rows(items: Iterable[Item], tail: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """``records`` rows in ``RECORD_COLUMNS`` order; ``data`` as JSON text (``json_text``)."""
    return [(i.type, i.key, json_text(i.data), i.stream_id, *tail) for i in items]


def json_text(data: Mapping[str, Any]) -> str:
    """A record's data as compact JSON text (for SQLite's JSON functions, PostgreSQL's jsonb)."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
