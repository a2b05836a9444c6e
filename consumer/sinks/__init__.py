"""Sinks: where a batch of records is stored, chosen by a URL-like string.

==================== =====================================================
``sqlite:///PATH``   SQLite file (WAL): the default, no server needed;
                     ``sqlite:////abs/path.db`` for an absolute path
``postgresql://...`` PostgreSQL through psycopg 3 (also ``postgres://``)
``jsonl:PATH``       append-only JSON lines (at-least-once: may repeat)
==================== =====================================================

Every sink's ``store()`` returns only once the batch is durable (committed,
or written and fsynced); the consumer acknowledges the batch after that.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from streamlib import ConfigError, mask_url

from ..records import Author, Item, Quote

DEFAULT_SINK = "sqlite:///quotes.db"
USAGE = "sqlite:///PATH, postgresql://USER@HOST/DB or jsonl:PATH"
PREFIXES = ("sqlite:///", "postgresql://", "postgres://", "jsonl:")


class Sink(Protocol):
    """Stores batches of records; ``store`` returns after they are durable."""

    #: The sink's URL with any password masked, for logs.
    description: str

    def store(
        self, quotes: Sequence[Quote], authors: Sequence[Author], items: Sequence[Item] = ()
    ) -> None:
        """Store one batch atomically (SQL) or append it durably (JSON lines).

        ``items`` are the records of every other type (one generic table, or
        their JSON lines as they came).
        """
        ...

    def close(self) -> None:
        """Release connections and files."""
        ...


def describe(url: str) -> str:
    """``url`` safe to log: password masked, and nothing of an unrecognised one."""
    if url.startswith(PREFIXES):
        return mask_url(url)
    return "<not a sink URL>"


def open_sink(url: str) -> Sink:
    """The sink for ``url``; ``ConfigError`` for an unknown scheme or a bad URL."""
    if url.startswith("sqlite:///"):
        from .sqlite import SQLiteSink

        return SQLiteSink(url.removeprefix("sqlite:///"))
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresSink

        return PostgresSink(url)
    if url.startswith("jsonl:"):
        from .jsonl import JsonLinesSink

        return JsonLinesSink(url.removeprefix("jsonl:"))
    # Name only the scheme: the rest may hold a password.
    scheme = url.split(":", 1)[0] if ":" in url else ""
    what = f"unknown sink {scheme!r}" if scheme.isidentifier() else "not a sink URL"
    raise ConfigError(f"{what}: use {USAGE}")
