"""Rates and state of a stream's groups and consumers (``streamctl top``), from two samples.

A ``Sample`` is one reading of the stream (``info``: entries added, dead
letters, every group on every covered partition) and of each group's
consumers. ``frame`` turns two samples into rates over the time between
them:

- in: entries added to the partition (``entries-added``), i.e. the XADD rate;
- out: entries that left the group's hands, acknowledged or dead-lettered
  (``entries-read`` minus ``pending``: every read adds to both, every ack
  takes one off pending);
- dead: entries added to the partition's dead-letter stream.

A rate is ``None`` when it can't be known: one sample only, a group that
appeared in between, or Redis unable to tell ``entries-read``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Sequence
from typing import TypeVar

import redis

from ..errors import ConfigError, GroupNotFound
from ..settings import StreamSettings
from .consumers import ConsumerInfo, consumers
from .info import GroupStatus, PartitionInfo, StreamInfo, stream_info

N = TypeVar("N", int, float)


@dataclasses.dataclass(frozen=True)
class Sample:
    """One reading of a stream's partitions, groups and consumers."""

    #: ``time.monotonic()`` when it was taken.
    taken: float
    info: StreamInfo
    #: Group name -> its consumers on every covered partition.
    consumers: dict[str, list[ConsumerInfo]]


@dataclasses.dataclass(frozen=True)
class GroupRow:
    """A group over all covered partitions (``partition`` ``None``) or on one of them."""

    group: str
    partition: int | None
    #: Entries/s added to the stream (shared by every group of the partition).
    in_per_s: float | None
    #: Entries/s acknowledged or dead-lettered by the group.
    out_per_s: float | None
    lag: int | None
    pending: int
    #: Since the oldest pending entry was produced; ``None``: nothing pending.
    oldest_pending_age_ms: int | None
    #: Length of the dead-letter stream (shared by every group of the partition).
    dead_letters: int
    dead_per_s: float | None


@dataclasses.dataclass(frozen=True)
class ConsumerRow:
    """One consumer of a group, summed over the partitions it reads."""

    group: str
    name: str
    pending: int
    #: Since its last attempted interaction (the most recent over partitions).
    idle_ms: int
    #: Since its last successful interaction; ``None`` before Redis 7.2.
    inactive_ms: int | None
    #: Idle past min-idle while holding entries: they are up for reclaim (a
    #: dead or stuck replica).
    stuck: bool


@dataclasses.dataclass(frozen=True)
class TopFrame:
    """What ``streamctl top`` shows at one moment."""

    stream: str
    partitions: int
    #: Seconds between the two samples the rates come from (0: no rates yet).
    interval_s: float
    min_idle_ms: int
    #: Per group (by name): its total row, then one row per partition when several.
    groups: list[GroupRow]
    #: Stuck first, then most pending, then by name.
    consumers: list[ConsumerRow]


def sample(
    client: redis.Redis, settings: StreamSettings, *, partition: int | None = None
) -> Sample:
    """Read the stream and every group's consumers (``StreamNotFound`` if it is missing)."""
    info = stream_info(client, settings, partition=partition)
    names = sorted({g.group.name for g in info.groups})
    return Sample(
        taken=time.monotonic(),
        info=info,
        consumers={name: _consumers(client, settings, name, partition) for name in names},
    )


def _consumers(
    client: redis.Redis, settings: StreamSettings, group: str, partition: int | None
) -> list[ConsumerInfo]:
    try:
        return consumers(client, settings.replace(group=group), partition=partition)
    except GroupNotFound:  # destroyed since the stream was read
        return []


def frame(before: Sample, after: Sample, *, min_idle_ms: int) -> TopFrame:
    """The rates between two samples and the state at ``after`` (``before is after``: no rates)."""
    seconds = after.taken - before.taken
    parts = {p.partition: p for p in after.info.partitions}
    parts_before = {p.partition: p for p in before.info.partitions}
    groups_before = {(g.group.name, g.partition): g for g in before.info.groups}
    by_group: dict[str, list[GroupRow]] = {}
    for g in after.info.groups:
        row = _group_row(
            (groups_before.get((g.group.name, g.partition)), g),
            (parts_before.get(g.partition), parts[g.partition]),
            seconds,
        )
        by_group.setdefault(row.group, []).append(row)
    rows: list[GroupRow] = []
    for name in sorted(by_group):
        each = sorted(by_group[name], key=_by_partition)
        rows.append(_total(name, each))
        if len(after.info.partitions) > 1:
            rows += each
    return TopFrame(
        stream=after.info.stream,
        partitions=len(after.info.partitions),
        interval_s=max(0.0, seconds),
        min_idle_ms=min_idle_ms,
        groups=rows,
        consumers=sorted(
            (
                _consumer_row(group, name, mine, min_idle_ms)
                for group, found in after.consumers.items()
                for name, mine in _by_name(found).items()
            ),
            key=_consumer_order,
        ),
    )


def top(
    client: redis.Redis,
    settings: StreamSettings,
    *,
    interval: float,
    partition: int | None = None,
) -> TopFrame:
    """Two samples ``interval`` seconds apart, and the frame between them."""
    if interval <= 0:
        raise ConfigError(f"interval must be > 0 s, got {interval:g}")
    first = sample(client, settings, partition=partition)
    time.sleep(interval)  # the distance between the two samples
    return frame(
        first, sample(client, settings, partition=partition), min_idle_ms=settings.min_idle_ms
    )


def _group_row(
    group: tuple[GroupStatus | None, GroupStatus],
    part: tuple[PartitionInfo | None, PartitionInfo],
    seconds: float,
) -> GroupRow:
    """A group on one partition: state at the second sample, rates since the first."""
    (g_was, g), (p_was, p) = group, part

    def per_s(now: int | None, then: int | None) -> float | None:
        if seconds <= 0 or now is None or then is None:
            return None
        return max(0, now - then) / seconds

    return GroupRow(
        group=g.group.name,
        partition=g.partition,
        in_per_s=per_s(p.entries_added, p_was.entries_added if p_was else None),
        out_per_s=per_s(_left(g), _left(g_was) if g_was else None),
        lag=g.group.lag,
        pending=g.group.pending,
        oldest_pending_age_ms=g.oldest_pending_age_ms,
        dead_letters=p.dead_letters,
        dead_per_s=per_s(p.dead_letters, p_was.dead_letters if p_was else None),
    )


def _left(g: GroupStatus) -> int | None:
    """Entries that left the group's pending list so far (read minus still pending)."""
    read = g.group.entries_read
    return None if read is None else read - g.group.pending


def _total(name: str, rows: Sequence[GroupRow]) -> GroupRow:
    """The group over the partitions of ``rows`` (one row: itself, with no partition)."""
    ages = [r.oldest_pending_age_ms for r in rows if r.oldest_pending_age_ms is not None]
    return GroupRow(
        group=name,
        partition=None,
        in_per_s=_sum_known(r.in_per_s for r in rows),
        out_per_s=_sum_known(r.out_per_s for r in rows),
        lag=_sum_known(r.lag for r in rows),
        pending=sum(r.pending for r in rows),
        oldest_pending_age_ms=max(ages, default=None),
        dead_letters=sum(r.dead_letters for r in rows),
        dead_per_s=_sum_known(r.dead_per_s for r in rows),
    )


def _sum_known(values: Iterable[N | None]) -> N | None:
    """The sum, or ``None`` if any value is unknown."""
    listed = list(values)
    known = [v for v in listed if v is not None]
    return sum(known) if len(known) == len(listed) else None


def _by_partition(row: GroupRow) -> int:
    return row.partition or 0


def _by_name(found: Iterable[ConsumerInfo]) -> dict[str, list[ConsumerInfo]]:
    out: dict[str, list[ConsumerInfo]] = {}
    for c in found:
        out.setdefault(c.name, []).append(c)
    return out


def _consumer_row(
    group: str, name: str, parts: Sequence[ConsumerInfo], min_idle_ms: int
) -> ConsumerRow:
    inactive = [c.inactive_ms for c in parts]
    return ConsumerRow(
        group=group,
        name=name,
        pending=sum(c.pending for c in parts),
        idle_ms=min(c.idle_ms for c in parts),
        inactive_ms=None if None in inactive else min(i for i in inactive if i is not None),
        stuck=any(c.pending > 0 and c.idle_ms >= min_idle_ms for c in parts),
    )


def _consumer_order(c: ConsumerRow) -> tuple[bool, int, str, str]:
    return (not c.stuck, -c.pending, c.name, c.group)
