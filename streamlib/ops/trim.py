"""Safe retention (``streamctl trim --acked``): trim what every group has read and acknowledged.

On each partition, for each group the oldest entry it still needs is

    min(oldest pending id, first id after last-delivered-id)

(the pending list holds what was delivered but not acknowledged; everything
after last-delivered has not been delivered yet). The partition's stream is
trimmed with ``XTRIM <stream> MINID = <min over groups>``, which removes
exactly the entries with smaller ids. Positions are ids, never the
entries-read / lag counters: those become unknown after deletions, ids never
do. Partitions are independent: each keeps what its own groups need.

A stream without groups has no reader to protect: ``trim_acked`` refuses
(``NoGroups``, before trimming any partition) unless forced, and then removes
every entry (the key and its last id stay).

The threshold comes from a snapshot (XINFO GROUPS, then XPENDING per group)
and is applied with one XTRIM. That is safe while consumers run: they only
move forward (a new pending entry is always after last-delivered, claims
don't change ids). A group created, or moved back with SETID, between the
snapshot and the XTRIM ends up exactly as if that happened just after the
trim: it starts from what the trim left.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from typing import cast

import redis

from ..codec import RawEntry
from ..errors import NoGroups
from ..groupinfo import groups
from ..settings import StreamSettings
from ..streamids import ZERO, StreamId, oldest
from .scope import Partition, covered, existing

log = logging.getLogger(__name__)

_COUNT_PAGE = 10_000


@dataclasses.dataclass(frozen=True)
class GroupNeed:
    """Where one group stands on a partition, and the oldest entry id it still needs."""

    group: str
    last_delivered_id: StreamId
    oldest_pending_id: StreamId | None

    @property
    def needs_from(self) -> StreamId:
        """The smallest id this group may still read or re-read."""
        after = self.last_delivered_id.successor()
        if self.oldest_pending_id is None:
            return after
        return min(after, self.oldest_pending_id)


def trim_threshold(needs: Iterable[GroupNeed]) -> StreamId | None:
    """The MINID to trim at: the smallest ``needs_from``; ``None`` without groups."""
    return min((n.needs_from for n in needs), default=None)


@dataclasses.dataclass(frozen=True)
class PartitionTrim:
    """What a trim did (or would do) on one partition (zeros: its stream doesn't exist)."""

    partition: int
    stream: str
    length_before: int
    #: Entries with smaller ids were removed (``None``: nothing to trim at).
    threshold: str | None
    groups: list[GroupNeed]
    removed: int


@dataclasses.dataclass(frozen=True)
class TrimResult:
    """What a trim did (or, with ``dry_run``, would do) on every covered partition."""

    stream: str
    dry_run: bool
    forced: bool
    partitions: list[PartitionTrim]

    @property
    def length_before(self) -> int:
        """Entries before the trim, all partitions."""
        return sum(p.length_before for p in self.partitions)

    @property
    def removed(self) -> int:
        """Entries removed, all partitions."""
        return sum(p.removed for p in self.partitions)

    @property
    def threshold(self) -> str | None:
        """The smallest partition threshold: ids below it are gone from every partition."""
        return oldest(p.threshold for p in self.partitions)


def group_needs(client: redis.Redis, stream: str) -> list[GroupNeed]:
    """Every group's position on ``stream`` (one XINFO GROUPS, one XPENDING per group)."""
    needs: list[GroupNeed] = []
    for g in groups(client, stream):
        pending_from: StreamId | None = None
        if g.pending:
            summary = client.xpending(stream, g.name)
            if summary["pending"] and summary["min"] is not None:
                pending_from = StreamId.parse(summary["min"])
        needs.append(GroupNeed(g.name, StreamId.parse(g.last_delivered_id), pending_from))
    return needs


def count_before(client: redis.Redis, stream: str, threshold: StreamId) -> int:
    """How many entries have ids below ``threshold`` (what MINID would remove)."""
    if threshold == ZERO:
        return 0
    total = 0
    start = "-"
    end = f"({threshold}"
    while True:
        rows = cast(list[RawEntry], client.xrange(stream, start, end, _COUNT_PAGE))
        total += len(rows)
        if len(rows) < _COUNT_PAGE:
            return total
        start = "(" + rows[-1][0].decode()


def trim_acked(
    client: redis.Redis,
    settings: StreamSettings,
    *,
    dry_run: bool = False,
    force: bool = False,
    partition: int | None = None,
) -> TrimResult:
    """Trim each covered partition to the oldest entry any of its groups still needs.

    ``StreamNotFound`` if no covered partition exists; ``NoGroups`` (unless
    ``force``) if one that exists has no group, before anything is trimmed.
    """
    parts = covered(settings, partition)
    found = existing(client, settings, parts)
    needs = {
        p.index: group_needs(client, p.stream)
        for p, there in zip(parts, found, strict=True)
        if there
    }
    if not force:
        for p in parts:
            if p.index in needs and not needs[p.index]:
                raise NoGroups(
                    f"stream {p.stream!r} has no consumer group: nothing says which entries "
                    "were consumed; refusing to trim (force to remove every entry)"
                )
    rows = [
        _trim_one(client, p, needs[p.index], dry_run)
        if p.index in needs
        else PartitionTrim(p.index, p.stream, 0, None, [], 0)
        for p in parts
    ]
    return TrimResult(settings.stream, dry_run, force, rows)


def _trim_one(
    client: redis.Redis, p: Partition, needs: list[GroupNeed], dry_run: bool
) -> PartitionTrim:
    length = int(client.xlen(p.stream))
    threshold = trim_threshold(needs)
    if threshold is None:  # forced, no group: everything goes
        last = cast(list[RawEntry], client.xrevrange(p.stream, "+", "-", count=1))
        if not last:
            return PartitionTrim(p.index, p.stream, length, None, [], 0)
        threshold = StreamId.parse(last[0][0]).successor()
    if dry_run:
        removed = count_before(client, p.stream, threshold)
    else:
        removed = int(client.xtrim(p.stream, minid=str(threshold), approximate=False))
        log.info("trimmed %d entries of %s below %s", removed, p.stream, threshold)
    return PartitionTrim(p.index, p.stream, length, str(threshold), needs, removed)
