"""The newest entries of a stream, and following new ones (``streamctl tail``).

Reads with XREVRANGE and XREAD only: it never joins a group, so it changes no
group's position, pending list or consumers. Over several partitions the
newest entries are merged by id (ids are times); following reads each
partition in turn, each XREAD blocking for a share of ``block_ms``, because
one XREAD can't span partitions on different cluster nodes.
"""

from __future__ import annotations

import dataclasses
import heapq
from collections.abc import Iterator, Sequence
from typing import Any, cast

import redis

from ..codec import Fields, RawEntry, field_map
from ..replies import text
from ..settings import StreamSettings
from ..streamids import StreamId
from .scope import Partition, covered, existing


@dataclasses.dataclass(frozen=True)
class TailEntry:
    """One entry and its partition."""

    partition: int
    id: str
    fields: Fields


@dataclasses.dataclass
class Position:
    """Where following a partition goes on from: the last id seen there."""

    partition: Partition
    after: str


@dataclasses.dataclass(frozen=True)
class Tail:
    """The newest entries (oldest first), and where following them starts."""

    entries: list[TailEntry]
    positions: list[Position]


def tail(
    client: redis.Redis, settings: StreamSettings, *, count: int, partition: int | None = None
) -> Tail:
    """The newest ``count`` entries over the covered partitions; ``StreamNotFound`` if none exists.

    A partition that does not exist yet is followed from its start, so the
    entries that create it are seen.
    """
    parts = covered(settings, partition)
    found = existing(client, settings, parts)
    positions: list[Position] = []
    newest: list[TailEntry] = []
    for p, there in zip(parts, found, strict=True):
        after = text(client.xinfo_stream(p.stream)["last-generated-id"]) if there else "0-0"
        rows = (
            cast(list[RawEntry], client.xrevrange(p.stream, "+", "-", count=count)) if count else []
        )
        entries = [_entry(p, entry_id, fields) for entry_id, fields in reversed(rows)]
        if entries and StreamId.parse(entries[-1].id) > StreamId.parse(after):
            after = entries[-1].id  # added between XINFO and XREVRANGE
        positions.append(Position(p, after))
        newest += entries
    ordered = heapq.nlargest(count, newest, key=lambda e: (StreamId.parse(e.id), e.partition))
    return Tail(ordered[::-1], positions)


def follow(
    client: redis.Redis, positions: Sequence[Position], *, block_ms: int = 1_000
) -> Iterator[TailEntry]:
    """Entries added after ``positions``, as they arrive (forever; updates ``positions``)."""
    share = max(1, block_ms // max(1, len(positions)))
    while True:
        for position in positions:
            reply: Any = client.xread(
                {position.partition.stream: position.after}, count=100, block=share
            )
            for entry_id, fields in cast(list[RawEntry], reply[0][1]) if reply else []:
                entry = _entry(position.partition, entry_id, fields)
                position.after = entry.id
                yield entry


def _entry(p: Partition, entry_id: bytes, fields: Any) -> TailEntry:
    return TailEntry(p.index, text(entry_id), field_map(fields))
