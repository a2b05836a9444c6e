"""Inspection and maintenance across the partitions of a stream (``streamctl`` with P > 1).

Each function runs the single-stream operation of ``admin``, ``retention`` or
``deadletter_ops`` on every partition (``partitions.partition_settings``) and
returns one row per partition plus the totals. A partition whose stream does
not exist yet (nothing routed there so far) is a row of zeros, not an error.
"""

from __future__ import annotations

import dataclasses
from typing import cast

import redis

from . import admin, deadletter_ops, retention
from .deadletter import DeadLetter
from .errors import GroupNotFound, NoGroups
from .partitions import all_partition_settings
from .settings import StreamSettings
from .streamids import StreamId


def _exists(client: redis.Redis, stream: str) -> bool:
    return bool(client.exists(stream))


# -- info -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PartitionInfo:
    """One partition in ``streamctl info``: its stream, the group on it, dead letters."""

    partition: int
    stream: str
    length: int
    #: ``None`` when the group does not exist on this partition (yet).
    group: admin.GroupInfo | None
    oldest_pending_age_ms: int | None
    dead_letter_stream: str
    dead_letters: int


@dataclasses.dataclass(frozen=True)
class PartitionedInfo:
    """Every partition of a stream, and the totals for one group."""

    stream: str
    group: str
    partitions: list[PartitionInfo]

    @property
    def length(self) -> int:
        """Entries in all partitions."""
        return sum(p.length for p in self.partitions)

    @property
    def pending(self) -> int:
        """Entries the group holds pending, all partitions."""
        return sum(p.group.pending for p in self.partitions if p.group is not None)

    @property
    def lag(self) -> int | None:
        """Entries not yet delivered to the group; ``None`` if any partition can't tell."""
        total = 0
        for p in self.partitions:
            if p.group is None:
                if p.length:
                    return None  # entries but no group: nobody has read them; count unknown
                continue
            if p.group.lag is None:
                return None
            total += p.group.lag
        return total

    @property
    def dead_letters(self) -> int:
        """Dead letters, all partitions."""
        return sum(p.dead_letters for p in self.partitions)


def partitioned_info(client: redis.Redis, settings: StreamSettings) -> PartitionedInfo:
    """``PartitionedInfo`` of ``settings.group`` over every partition."""
    rows: list[PartitionInfo] = []
    now = admin.server_time_ms(client)
    for index, p in enumerate(all_partition_settings(settings)):
        length, found, age = 0, None, None
        if _exists(client, p.stream):
            admin.require_stream(client, p.stream)  # a key of another type is an error
            length = admin.stream_length(client, p.stream)
            found = admin.group(client, p.stream, p.group)
            if found is not None and found.pending:
                oldest = client.xpending_range(p.stream, p.group, "-", "+", 1)
                if oldest:
                    age = max(0, now - StreamId.parse(cast(bytes, oldest[0]["message_id"])).ms)
        rows.append(
            PartitionInfo(
                index,
                p.stream,
                length,
                found,
                age,
                p.dead_letters,
                admin.stream_length(client, p.dead_letters),
            )
        )
    return PartitionedInfo(settings.stream, settings.group, rows)


# -- pending ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PartitionPending:
    """One partition's pending summary (``None``: no group there yet)."""

    partition: int
    stream: str
    summary: admin.PendingSummary | None


def partitioned_pending(client: redis.Redis, settings: StreamSettings) -> list[PartitionPending]:
    """The group's pending summary on every partition.

    ``GroupNotFound`` only if the group exists on no partition at all.
    """
    rows: list[PartitionPending] = []
    for index, p in enumerate(all_partition_settings(settings)):
        summary = None
        if _exists(client, p.stream) and admin.group(client, p.stream, p.group) is not None:
            summary = admin.pending_summary(client, p.stream, p.group)
        rows.append(PartitionPending(index, p.stream, summary))
    if all(r.summary is None for r in rows):
        raise GroupNotFound(
            f"group {settings.group!r} not found on any of the {settings.partitions} "
            f"partitions of {settings.stream!r}"
        )
    return rows


@dataclasses.dataclass(frozen=True)
class PartitionEntry:
    """A pending entry and its partition."""

    partition: int
    entry: admin.PendingEntry


def partitioned_pending_entries(
    client: redis.Redis,
    settings: StreamSettings,
    *,
    count: int,
    min_idle_ms: int | None = None,
    consumer: str | None = None,
) -> list[PartitionEntry]:
    """Up to ``count`` pending entries, partition by partition (oldest first in each)."""
    out: list[PartitionEntry] = []
    for index, p in enumerate(all_partition_settings(settings)):
        if len(out) >= count:
            break
        if not _exists(client, p.stream) or admin.group(client, p.stream, p.group) is None:
            continue
        for entry in admin.iter_pending(
            client, p.stream, p.group, min_idle_ms=min_idle_ms, consumer=consumer
        ):
            if len(out) >= count:
                break
            out.append(PartitionEntry(index, entry))
    return out


# -- trim -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PartitionTrim:
    """What ``trim --acked`` did on one partition (``None``: the stream doesn't exist)."""

    partition: int
    stream: str
    result: retention.TrimResult | None


def partitioned_trim(
    client: redis.Redis, settings: StreamSettings, *, dry_run: bool, force: bool
) -> list[PartitionTrim]:
    """``retention.trim_acked`` on every partition that exists.

    Without ``force`` a partition without any group stops the whole command
    before anything is trimmed (``NoGroups``), as on a single stream.
    """
    parts = list(enumerate(all_partition_settings(settings)))
    if not force:
        for index, p in parts:
            if _exists(client, p.stream) and not admin.groups(client, p.stream):
                raise NoGroups(
                    f"partition {index} ({p.stream!r}) has no consumer group: nothing says "
                    "which entries were consumed; refusing to trim (force to remove every entry)"
                )
    rows: list[PartitionTrim] = []
    for index, p in parts:
        result = None
        if _exists(client, p.stream):
            result = retention.trim_acked(client, p.stream, dry_run=dry_run, force=force)
        rows.append(PartitionTrim(index, p.stream, result))
    return rows


# -- dead letters -----------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PartitionDeadLetters:
    """One partition's dead-letter stream: its length and the letters listed."""

    partition: int
    stream: str
    length: int
    letters: list[DeadLetter]


def partitioned_dead_letters(
    client: redis.Redis, settings: StreamSettings, *, count: int
) -> list[PartitionDeadLetters]:
    """Up to ``count`` dead letters in all, partition by partition (oldest first in each)."""
    rows: list[PartitionDeadLetters] = []
    left = count
    for index, p in enumerate(all_partition_settings(settings)):
        letters = (
            deadletter_ops.list_dead_letters(client, p.dead_letters, count=left) if left else []
        )
        left -= len(letters)
        rows.append(
            PartitionDeadLetters(
                index, p.dead_letters, admin.stream_length(client, p.dead_letters), letters
            )
        )
    return rows
