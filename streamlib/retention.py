"""Safe retention: trim what every group has read and acknowledged, nothing else.

For each group the oldest entry it still needs is

    min(oldest pending id, first id after last-delivered-id)

(the pending list holds what was delivered but not acknowledged; everything
after last-delivered has not been delivered yet). The stream is trimmed with
``XTRIM <stream> MINID = <min over groups>``, which removes exactly the
entries with smaller ids. Positions are ids, never the entries-read / lag
counters: those become unknown after deletions, ids never do.

A stream without groups has no reader to protect: ``trim`` refuses unless
forced, and then removes every entry (the key and its last id stay).

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

from .admin import groups, require_stream
from .errors import NoGroups
from .streamids import StreamId

log = logging.getLogger(__name__)

_COUNT_PAGE = 10_000


@dataclasses.dataclass(frozen=True)
class GroupNeed:
    """Where one group stands, and the oldest entry id it still needs."""

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
class TrimResult:
    """What a trim did (or, with ``dry_run``, would do)."""

    stream: str
    length_before: int
    threshold: str | None
    groups: list[GroupNeed]
    removed: int
    dry_run: bool
    forced: bool


def group_needs(client: redis.Redis, stream: str) -> list[GroupNeed]:
    """Every group's position (one XINFO GROUPS, one XPENDING summary per group)."""
    needs: list[GroupNeed] = []
    for g in groups(client, stream):
        oldest: StreamId | None = None
        if g.pending:
            summary = client.xpending(stream, g.name)
            if summary["pending"] and summary["min"] is not None:
                oldest = StreamId.parse(summary["min"])
        needs.append(GroupNeed(g.name, StreamId.parse(g.last_delivered_id), oldest))
    return needs


def count_before(client: redis.Redis, stream: str, threshold: StreamId) -> int:
    """How many entries have ids below ``threshold`` (what MINID would remove)."""
    total = 0
    start = "-"
    end = f"({threshold}"
    if threshold == StreamId(0, 0):
        return 0
    while True:
        rows = cast(list[tuple[bytes, object]], client.xrange(stream, start, end, _COUNT_PAGE))
        total += len(rows)
        if len(rows) < _COUNT_PAGE:
            return total
        start = "(" + rows[-1][0].decode()


def trim_acked(
    client: redis.Redis, stream: str, *, dry_run: bool = False, force: bool = False
) -> TrimResult:
    """Trim ``stream`` to the oldest entry any group still needs (see module doc)."""
    require_stream(client, stream)
    length = int(client.xlen(stream))
    needs = group_needs(client, stream)
    threshold = trim_threshold(needs)
    if threshold is None:
        if not force:
            raise NoGroups(
                f"stream {stream!r} has no consumer group: nothing says which entries "
                "were consumed; refusing to trim (force to remove every entry)"
            )
        last = cast(list[tuple[bytes, object]], client.xrevrange(stream, "+", "-", count=1))
        if not last:
            return TrimResult(stream, length, None, [], 0, dry_run, force)
        threshold = StreamId.parse(last[0][0]).successor()
    if dry_run:
        removed = count_before(client, stream, threshold)
    else:
        removed = int(client.xtrim(stream, minid=str(threshold), approximate=False))
        log.info("trimmed %d entries of %s below %s", removed, stream, threshold)
    return TrimResult(stream, length, str(threshold), needs, removed, dry_run, force)
