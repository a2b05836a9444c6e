"""Read-only inspection of streams and groups (the basis of ``streamctl``)."""

from __future__ import annotations

import dataclasses
from typing import Any

import redis


@dataclasses.dataclass(frozen=True)
class GroupInfo:
    """One consumer group of a stream, as XINFO GROUPS reports it."""

    name: str
    consumers: int
    pending: int
    last_delivered_id: str
    #: ``None`` when Redis can't tell (entries-read / lag unknown): never 0 then.
    entries_read: int | None
    lag: int | None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def groups(client: redis.Redis, stream: str) -> list[GroupInfo]:
    """Every group of ``stream``; an empty list if the stream does not exist."""
    try:
        rows = client.xinfo_groups(stream)
    except redis.ResponseError as exc:
        if "no such key" in str(exc).lower():
            return []
        raise
    return [
        GroupInfo(
            name=_text(row["name"]),
            consumers=int(row["consumers"]),
            pending=int(row["pending"]),
            last_delivered_id=_text(row["last-delivered-id"]),
            entries_read=_opt_int(row.get("entries-read")),
            lag=_opt_int(row.get("lag")),
        )
        for row in rows
    ]


def group(client: redis.Redis, stream: str, name: str) -> GroupInfo | None:
    """The group ``name`` of ``stream``, or ``None`` if there is none."""
    return next((g for g in groups(client, stream) if g.name == name), None)
