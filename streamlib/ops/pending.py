"""A group's pending entries (``streamctl pending``): summed up per consumer, or one by one."""

from __future__ import annotations

import dataclasses
import heapq
import itertools
from collections.abc import Iterator

import redis

from ..replies import text
from ..settings import StreamSettings
from ..streamids import StreamId, newest, oldest
from .scope import Partition, covered, group_on

#: Entries per XPENDING page when scanning.
PAGE = 1_000


@dataclasses.dataclass(frozen=True)
class PendingEntry:
    """One entry of a group's pending entries list, and its partition."""

    partition: int
    id: str
    consumer: str
    idle_ms: int
    deliveries: int


@dataclasses.dataclass(frozen=True)
class ConsumerPending:
    """What one consumer holds pending on one partition, and its oldest entry there."""

    partition: int
    consumer: str
    pending: int
    oldest_id: str | None
    oldest_idle_ms: int | None
    oldest_deliveries: int | None


@dataclasses.dataclass(frozen=True)
class PartitionPending:
    """One partition's pending entries list (``pending`` is ``None``: no group there)."""

    partition: int
    stream: str
    pending: int | None
    min_id: str | None
    max_id: str | None


@dataclasses.dataclass(frozen=True)
class PendingSummary:
    """A group's pending entries lists, per partition and per consumer."""

    group: str
    partitions: list[PartitionPending]
    consumers: list[ConsumerPending]

    @property
    def pending(self) -> int:
        """Pending entries, all partitions."""
        return sum(p.pending or 0 for p in self.partitions)

    @property
    def min_id(self) -> str | None:
        """The oldest pending id on any partition."""
        return oldest(p.min_id for p in self.partitions)

    @property
    def max_id(self) -> str | None:
        """The newest pending id on any partition."""
        return newest(p.max_id for p in self.partitions)


def pending_summary(
    client: redis.Redis, settings: StreamSettings, *, partition: int | None = None
) -> PendingSummary:
    """XPENDING's summary on each partition, plus each consumer's oldest entry there.

    No scan of the whole list: one XPENDING per consumer and partition, pipelined.
    """
    parts = covered(settings, partition)
    infos = group_on(client, settings, parts)
    rows: list[PartitionPending] = []
    holders: list[ConsumerPending] = []
    for p, info in zip(parts, infos, strict=True):
        if info is None:
            rows.append(PartitionPending(p.index, p.stream, None, None, None))
            continue
        summary = client.xpending(p.stream, settings.group)
        with client.pipeline(transaction=False) as pipe:
            for row in summary["consumers"]:
                pipe.xpending_range(p.stream, settings.group, "-", "+", 1, consumername=row["name"])
            firsts = pipe.execute()
        for row, first in zip(summary["consumers"], firsts, strict=True):
            entry = first[0] if first else None
            holders.append(
                ConsumerPending(
                    partition=p.index,
                    consumer=text(row["name"]),
                    pending=int(row["pending"]),
                    oldest_id=text(entry["message_id"]) if entry else None,
                    oldest_idle_ms=int(entry["time_since_delivered"]) if entry else None,
                    oldest_deliveries=int(entry["times_delivered"]) if entry else None,
                )
            )
        rows.append(
            PartitionPending(
                p.index,
                p.stream,
                int(summary["pending"]),
                oldest([summary["min"]]),
                newest([summary["max"]]),
            )
        )
    holders.sort(key=lambda c: (c.partition, c.consumer))
    return PendingSummary(settings.group, rows, holders)


def iter_pending(
    client: redis.Redis,
    p: Partition,
    group_name: str,
    *,
    min_idle_ms: int | None = None,
    consumer: str | None = None,
) -> Iterator[PendingEntry]:
    """Every pending entry of one partition in id order, paged with exclusive ranges."""
    start = "-"
    while True:
        rows = client.xpending_range(
            p.stream, group_name, start, "+", PAGE, consumername=consumer, idle=min_idle_ms
        )
        for row in rows:
            yield PendingEntry(
                partition=p.index,
                id=text(row["message_id"]),
                consumer=text(row["consumer"]),
                idle_ms=int(row["time_since_delivered"]),
                deliveries=int(row["times_delivered"]),
            )
        if len(rows) < PAGE:
            return
        start = "(" + text(rows[-1]["message_id"])


def pending_entries(
    client: redis.Redis,
    settings: StreamSettings,
    *,
    count: int,
    min_idle_ms: int | None = None,
    consumer: str | None = None,
    partition: int | None = None,
) -> list[PendingEntry]:
    """Up to ``count`` pending entries, oldest first over all partitions, optionally filtered."""
    parts = covered(settings, partition)
    infos = group_on(client, settings, parts)
    scans = [
        iter_pending(client, p, settings.group, min_idle_ms=min_idle_ms, consumer=consumer)
        for p, info in zip(parts, infos, strict=True)
        if info is not None
    ]
    merged = heapq.merge(*scans, key=lambda e: (StreamId.parse(e.id), e.partition))
    return list(itertools.islice(merged, count))
