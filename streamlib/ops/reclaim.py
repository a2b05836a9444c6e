"""An XAUTOCLAIM sweep by hand (``streamctl reclaim``), on every partition."""

from __future__ import annotations

import dataclasses
import logging

import redis

from ..replies import text
from ..settings import StreamSettings
from .pending import iter_pending
from .scope import EntryRef, Partition, with_group

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ReclaimedEntry:
    """An entry a reclaim sweep moved, with its previous owner when known."""

    partition: int
    id: str
    from_consumer: str | None
    deliveries: int | None


@dataclasses.dataclass(frozen=True)
class ReclaimResult:
    """What a sweep moved to ``to``, and the pending ids of deleted entries it dropped."""

    to: str
    moved: list[ReclaimedEntry]
    deleted: list[EntryRef]


#: redis-py drops XAUTOCLAIM's cursor when JUSTID is given; the script returns it whole.
_AUTOCLAIM_JUSTID = """
return redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], 'COUNT', ARGV[5],
                  'JUSTID')
"""


def reclaim(
    client: redis.Redis,
    settings: StreamSettings,
    *,
    min_idle_ms: int,
    to: str,
    count: int = 100,
    partition: int | None = None,
) -> ReclaimResult:
    """XAUTOCLAIM every entry idle ``min_idle_ms`` or more to consumer ``to``.

    On every covered partition that has the group, following the cursor to
    the end. JUSTID: delivery counts are not raised (nothing is delivered by
    the sweep); ``to`` then owns the entries with idle reset, and a live
    consumer of that name re-reads them on start.
    """
    result = ReclaimResult(to, [], [])
    for p, _ in with_group(client, settings, partition):
        _sweep(client, p, settings.group, min_idle_ms, to, count, result)
    log.info("reclaimed %d entries to %s (%d deleted)", len(result.moved), to, len(result.deleted))
    return result


def _sweep(
    client: redis.Redis,
    p: Partition,
    group_name: str,
    min_idle_ms: int,
    to: str,
    count: int,
    into: ReclaimResult,
) -> None:
    before = {e.id: e for e in iter_pending(client, p, group_name, min_idle_ms=min_idle_ms)}
    cursor = "0-0"
    while True:
        reply = client.eval(
            _AUTOCLAIM_JUSTID, 1, p.stream, group_name, to, min_idle_ms, cursor, count
        )
        cursor = text(reply[0])
        for raw in reply[1]:
            entry_id = text(raw)
            prev = before.get(entry_id)
            into.moved.append(
                ReclaimedEntry(
                    p.index,
                    entry_id,
                    prev.consumer if prev else None,
                    prev.deliveries if prev else None,
                )
            )
        if len(reply) > 2:
            into.deleted.extend(EntryRef(p.index, text(d)) for d in reply[2])
        if cursor == "0-0":
            return
