"""The health view of a stream (``streamctl info``): per partition and in total."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import redis

from ..groupinfo import GroupInfo, groups
from ..replies import opt_int, text
from ..settings import StreamSettings
from ..streamids import StreamId, newest, oldest
from .scope import Partition, covered, existing, server_time_ms


@dataclasses.dataclass(frozen=True)
class GroupStatus:
    """A group on one partition, with its oldest pending entry (``None``: nothing pending)."""

    partition: int
    group: GroupInfo
    oldest_pending_id: str | None
    #: Server time minus the oldest pending id's timestamp (how long ago it was produced).
    oldest_pending_age_ms: int | None
    #: Time since the oldest pending entry was last delivered.
    oldest_pending_idle_ms: int | None


@dataclasses.dataclass(frozen=True)
class PartitionInfo:
    """One partition: its stream (zeros if it does not exist yet) and dead letters."""

    partition: int
    stream: str
    exists: bool
    length: int
    first_id: str | None
    last_id: str | None
    last_generated_id: str
    entries_added: int | None
    memory_bytes: int | None
    dead_letter_stream: str
    dead_letters: int


@dataclasses.dataclass(frozen=True)
class StreamInfo:
    """Every covered partition of a stream, every group on them, and the totals."""

    stream: str
    dead_letter_stream: str
    partitions: list[PartitionInfo]
    groups: list[GroupStatus]

    @property
    def length(self) -> int:
        """Entries in all partitions."""
        return sum(p.length for p in self.partitions)

    @property
    def first_id(self) -> str | None:
        """The oldest entry's id over all partitions."""
        return oldest(p.first_id for p in self.partitions)

    @property
    def last_id(self) -> str | None:
        """The newest entry's id over all partitions."""
        return newest(p.last_id for p in self.partitions)

    @property
    def last_generated_id(self) -> str:
        """The newest id any partition generated."""
        return newest(p.last_generated_id for p in self.partitions) or "0-0"

    @property
    def entries_added(self) -> int | None:
        """Entries ever added, all partitions (``None`` if any can't tell)."""
        return _sum_known([p.entries_added for p in self.partitions])

    @property
    def memory_bytes(self) -> int | None:
        """Memory of all partitions' streams (``None`` if any can't tell)."""
        return _sum_known([p.memory_bytes for p in self.partitions])

    @property
    def dead_letters(self) -> int:
        """Dead letters, all partitions."""
        return sum(p.dead_letters for p in self.partitions)


def stream_info(
    client: redis.Redis, settings: StreamSettings, *, partition: int | None = None
) -> StreamInfo:
    """``StreamInfo`` of the covered partitions; ``StreamNotFound`` if none exists."""
    parts = covered(settings, partition)
    found = existing(client, settings, parts)
    now = server_time_ms(client)
    rows: list[PartitionInfo] = []
    statuses: list[GroupStatus] = []
    for p, there in zip(parts, found, strict=True):
        rows.append(_partition_info(client, p) if there else _missing(client, p))
        if there:
            statuses += [_group_status(client, p, g, now) for g in groups(client, p.stream)]
    return StreamInfo(settings.stream, settings.dead_letters, rows, statuses)


def _partition_info(client: redis.Redis, p: Partition) -> PartitionInfo:
    raw = client.xinfo_stream(p.stream)
    first, last = raw.get("first-entry"), raw.get("last-entry")
    return PartitionInfo(
        partition=p.index,
        stream=p.stream,
        exists=True,
        length=int(raw["length"]),
        first_id=text(first[0]) if first else None,
        last_id=text(last[0]) if last else None,
        last_generated_id=text(raw["last-generated-id"]),
        entries_added=opt_int(raw.get("entries-added")),
        memory_bytes=opt_int(client.memory_usage(p.stream)),
        dead_letter_stream=p.dead_letters,
        dead_letters=int(client.xlen(p.dead_letters)),
    )


def _missing(client: redis.Redis, p: Partition) -> PartitionInfo:
    """A partition nothing was routed to yet: zeros (its dead letters still counted)."""
    return PartitionInfo(
        p.index, p.stream, False, 0, None, None, "0-0", 0, 0, p.dead_letters,
        int(client.xlen(p.dead_letters)),
    )  # fmt: skip


def _group_status(client: redis.Redis, p: Partition, info: GroupInfo, now_ms: int) -> GroupStatus:
    if info.pending == 0:
        return GroupStatus(p.index, info, None, None, None)
    rows = client.xpending_range(p.stream, info.name, "-", "+", 1)
    if not rows:  # acknowledged in between
        return GroupStatus(p.index, info, None, None, None)
    oldest = text(rows[0]["message_id"])
    age = max(0, now_ms - StreamId.parse(oldest).ms)
    return GroupStatus(p.index, info, oldest, age, int(rows[0]["time_since_delivered"]))


def _sum_known(values: Sequence[int | None]) -> int | None:
    return None if any(v is None for v in values) else sum(v or 0 for v in values)
