"""Consumer groups as XINFO GROUPS reports them (``GroupInfo``).

Read by the consumer's metrics (lag and pending gauges), flow control
(``streamlib.flow``: the lag that holds producers back) and ``streamctl``.
``combined`` sums a group over the partitions of a stream: one partition's
``GroupInfo`` is its own total.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import redis

from .partitions import partition_stream
from .replies import opt_int, text
from .streamids import newest


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
            name=text(row["name"]),
            consumers=int(row["consumers"]),
            pending=int(row["pending"]),
            last_delivered_id=text(row["last-delivered-id"]),
            entries_read=opt_int(row.get("entries-read")),
            lag=opt_int(row.get("lag")),
        )
        for row in rows
    ]


def group(client: redis.Redis, stream: str, name: str) -> GroupInfo | None:
    """The group ``name`` of ``stream``, or ``None`` if there is none."""
    return next((g for g in groups(client, stream) if g.name == name), None)


def combined(parts: Sequence[GroupInfo]) -> GroupInfo:
    """One group over several partitions (``parts`` not empty, one per partition).

    Pending, entries-read and lag are summed (unknown if any partition's is);
    consumers is the most on any partition (a replica joins the group on every
    partition); last-delivered is the newest id delivered on any partition.
    """
    if not parts:
        raise ValueError("combined() needs the group of at least one partition")
    if len(parts) == 1:  # its own total, without parsing ids (flow control reads it often)
        return parts[0]
    return GroupInfo(
        name=parts[0].name,
        consumers=max(p.consumers for p in parts),
        pending=sum(p.pending for p in parts),
        last_delivered_id=newest(p.last_delivered_id for p in parts) or "0-0",
        entries_read=_sum_known([p.entries_read for p in parts]),
        lag=_sum_known([p.lag for p in parts]),
    )


def across_partitions(
    client: redis.Redis, stream: str, name: str, partitions: int
) -> GroupInfo | None:
    """Group ``name`` on every partition of ``stream``, ``combined``.

    ``None`` until the group exists on each partition: a partition without it
    has entries nobody has read, so a total would understate the lag.
    """
    parts = [
        group(client, partition_stream(stream, i, partitions), name) for i in range(partitions)
    ]
    known = [p for p in parts if p is not None]
    return combined(known) if known and len(known) == len(parts) else None


def _sum_known(values: Sequence[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if len(known) == len(values) else None
