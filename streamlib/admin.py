"""Inspection and maintenance of streams and groups (the basis of ``streamctl``).

Everything here takes a streamlib client (RESP2, bytes replies) and returns
plain dataclasses; printing is the CLI's job. Dead letters are handled in
``deadletter_ops`` and safe trimming in ``retention``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from typing import Any, cast

import redis

from .errors import GroupNotFound, StreamNotFound
from .streamids import StreamId

log = logging.getLogger(__name__)

#: Entries per XPENDING / XRANGE page when scanning.
PAGE = 1_000


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


def require_stream(client: redis.Redis, stream: str) -> None:
    """Raise ``StreamNotFound`` unless ``stream`` exists (and is a stream)."""
    kind = _text(client.type(stream))
    if kind == "none":
        raise StreamNotFound(f"stream {stream!r} not found")
    if kind != "stream":
        raise StreamNotFound(f"key {stream!r} is a {kind}, not a stream")


def require_group(client: redis.Redis, stream: str, name: str) -> GroupInfo:
    """The group, or ``StreamNotFound`` / ``GroupNotFound``."""
    require_stream(client, stream)
    found = group(client, stream, name)
    if found is None:
        raise GroupNotFound(f"group {name!r} not found on stream {stream!r}")
    return found


def server_time_ms(client: redis.Redis) -> int:
    """Redis's clock in ms (ages are computed against it, not the local clock)."""
    seconds, micros = client.time()
    return int(seconds) * 1000 + int(micros) // 1000


# -- info -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GroupStatus:
    """A group with its oldest pending entry (``None`` when nothing is pending)."""

    group: GroupInfo
    oldest_pending_id: str | None
    #: Server time minus the oldest pending id's timestamp.
    oldest_pending_age_ms: int | None
    #: Time since the oldest pending entry was last delivered.
    oldest_pending_idle_ms: int | None


@dataclasses.dataclass(frozen=True)
class StreamSummary:
    """The one-screen health view of a stream (``streamctl info``)."""

    stream: str
    length: int
    first_id: str | None
    last_id: str | None
    last_generated_id: str
    entries_added: int | None
    memory_bytes: int | None
    groups: list[GroupStatus]
    dead_letter_stream: str
    dead_letters: int


def stream_info(client: redis.Redis, stream: str, dead_letter_stream: str) -> StreamSummary:
    """``StreamSummary`` of ``stream``; ``StreamNotFound`` if it does not exist."""
    require_stream(client, stream)
    raw = client.xinfo_stream(stream)
    now = server_time_ms(client)
    statuses = [_group_status(client, stream, g, now) for g in groups(client, stream)]
    first, last = raw.get("first-entry"), raw.get("last-entry")
    return StreamSummary(
        stream=stream,
        length=int(raw["length"]),
        first_id=_text(first[0]) if first else None,
        last_id=_text(last[0]) if last else None,
        last_generated_id=_text(raw["last-generated-id"]),
        entries_added=_opt_int(raw.get("entries-added")),
        memory_bytes=_opt_int(client.memory_usage(stream)),
        groups=statuses,
        dead_letter_stream=dead_letter_stream,
        dead_letters=stream_length(client, dead_letter_stream),
    )


def stream_length(client: redis.Redis, stream: str) -> int:
    """XLEN (0 for a missing stream)."""
    return int(client.xlen(stream))


def _group_status(client: redis.Redis, stream: str, info: GroupInfo, now_ms: int) -> GroupStatus:
    if info.pending == 0:
        return GroupStatus(info, None, None, None)
    rows = client.xpending_range(stream, info.name, "-", "+", 1)
    if not rows:  # acknowledged in between
        return GroupStatus(info, None, None, None)
    oldest = _text(rows[0]["message_id"])
    age = max(0, now_ms - StreamId.parse(oldest).ms)
    return GroupStatus(info, oldest, age, int(rows[0]["time_since_delivered"]))


# -- pending ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class PendingEntry:
    """One entry of a group's pending entries list."""

    id: str
    consumer: str
    idle_ms: int
    deliveries: int


@dataclasses.dataclass(frozen=True)
class ConsumerPending:
    """What one consumer holds pending, and its oldest pending entry."""

    consumer: str
    pending: int
    oldest_id: str | None
    oldest_idle_ms: int | None
    oldest_deliveries: int | None


@dataclasses.dataclass(frozen=True)
class PendingSummary:
    """A group's pending entries list, summed up per consumer."""

    group: str
    pending: int
    min_id: str | None
    max_id: str | None
    consumers: list[ConsumerPending]


def pending_summary(client: redis.Redis, stream: str, group_name: str) -> PendingSummary:
    """XPENDING's summary, plus each consumer's oldest entry (no scan of the whole list)."""
    require_group(client, stream, group_name)
    summary = client.xpending(stream, group_name)
    with client.pipeline(transaction=False) as pipe:
        for row in summary["consumers"]:
            pipe.xpending_range(stream, group_name, "-", "+", 1, consumername=row["name"])
        oldest = pipe.execute()
    holders = []
    for row, first in zip(summary["consumers"], oldest, strict=True):
        entry = first[0] if first else None
        holders.append(
            ConsumerPending(
                consumer=_text(row["name"]),
                pending=int(row["pending"]),
                oldest_id=_text(entry["message_id"]) if entry else None,
                oldest_idle_ms=int(entry["time_since_delivered"]) if entry else None,
                oldest_deliveries=int(entry["times_delivered"]) if entry else None,
            )
        )
    return PendingSummary(
        group=group_name,
        pending=int(summary["pending"]),
        min_id=_text(summary["min"]) if summary["min"] is not None else None,
        max_id=_text(summary["max"]) if summary["max"] is not None else None,
        consumers=sorted(holders, key=_by_name),
    )


def _by_name(c: ConsumerPending) -> str:
    return c.consumer


def iter_pending(
    client: redis.Redis,
    stream: str,
    group_name: str,
    *,
    min_idle_ms: int | None = None,
    consumer: str | None = None,
) -> Iterator[PendingEntry]:
    """Every pending entry in id order, paged with exclusive ranges."""
    start = "-"
    while True:
        rows = client.xpending_range(
            stream, group_name, start, "+", PAGE, consumername=consumer, idle=min_idle_ms
        )
        for row in rows:
            yield PendingEntry(
                id=_text(row["message_id"]),
                consumer=_text(row["consumer"]),
                idle_ms=int(row["time_since_delivered"]),
                deliveries=int(row["times_delivered"]),
            )
        if len(rows) < PAGE:
            return
        start = "(" + _text(rows[-1]["message_id"])


def pending_entries(
    client: redis.Redis,
    stream: str,
    group_name: str,
    *,
    count: int,
    min_idle_ms: int | None = None,
    consumer: str | None = None,
) -> list[PendingEntry]:
    """Up to ``count`` pending entries, oldest first, optionally filtered."""
    require_group(client, stream, group_name)
    out: list[PendingEntry] = []
    for entry in iter_pending(
        client, stream, group_name, min_idle_ms=min_idle_ms, consumer=consumer
    ):
        if len(out) >= count:
            break
        out.append(entry)
    return out


# -- consumers --------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ConsumerInfo:
    """One consumer of a group, as XINFO CONSUMERS reports it."""

    name: str
    pending: int
    #: Since its last attempted interaction (read, claim).
    idle_ms: int
    #: Since its last successful interaction; ``None`` before Redis 7.2.
    inactive_ms: int | None


def consumers(client: redis.Redis, stream: str, group_name: str) -> list[ConsumerInfo]:
    """The consumers of a group; ``StreamNotFound`` / ``GroupNotFound`` if missing."""
    require_group(client, stream, group_name)
    return [
        ConsumerInfo(
            name=_text(row["name"]),
            pending=int(row["pending"]),
            idle_ms=int(row["idle"]),
            inactive_ms=_opt_int(row.get("inactive")),
        )
        for row in client.xinfo_consumers(stream, group_name)
    ]


@dataclasses.dataclass(frozen=True)
class PruneDecision:
    """What ``prune_consumers`` did with one consumer, and why."""

    name: str
    pending: int
    idle_ms: int
    #: ``"deleted"``, ``"kept"`` or, in a dry run, ``"would delete"``.
    action: str
    reason: str

    @property
    def deleted(self) -> bool:
        """Whether the consumer was deleted."""
        return self.action == "deleted"


#: Deletes the consumer only if it has no pending entry at that very moment
#: (XGROUP DELCONSUMER would drop its pending entries: they'd never be redelivered).
_DELETE_IF_NO_PENDING = """
local p = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2])
if #p > 0 then return -1 end
return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
"""


def prune_consumers(
    client: redis.Redis, stream: str, group_name: str, *, idle_ms: int, dry_run: bool = False
) -> list[PruneDecision]:
    """Delete consumers idle at least ``idle_ms`` **and** with nothing pending.

    The pending check and the delete run atomically (a script), so an entry
    delivered to the consumer after it was listed is never dropped.
    """
    decisions: list[PruneDecision] = []
    for c in consumers(client, stream, group_name):
        if c.pending:
            reason = f"has {c.pending} pending entr{'y' if c.pending == 1 else 'ies'}"
            decisions.append(PruneDecision(c.name, c.pending, c.idle_ms, "kept", reason))
        elif c.idle_ms < idle_ms:
            decisions.append(
                PruneDecision(c.name, 0, c.idle_ms, "kept", "active (idle below the threshold)")
            )
        elif dry_run:
            decisions.append(
                PruneDecision(c.name, 0, c.idle_ms, "would delete", "idle, nothing pending")
            )
        else:
            result = int(client.eval(_DELETE_IF_NO_PENDING, 1, stream, group_name, c.name))
            if result < 0:
                decisions.append(
                    PruneDecision(c.name, 0, c.idle_ms, "kept", "got pending entries meanwhile")
                )
            else:
                log.info("deleted idle consumer %s of group %s", c.name, group_name)
                decisions.append(
                    PruneDecision(c.name, 0, c.idle_ms, "deleted", "idle, nothing pending")
                )
    return decisions


# -- reclaim ----------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ReclaimedEntry:
    """An entry a reclaim sweep moved, with its previous owner when known."""

    id: str
    from_consumer: str | None
    deliveries: int | None


@dataclasses.dataclass(frozen=True)
class ReclaimResult:
    """What a reclaim sweep moved to ``to``, and the pending ids of deleted entries."""

    to: str
    moved: list[ReclaimedEntry]
    deleted: list[str]


#: redis-py drops XAUTOCLAIM's cursor when JUSTID is given; the script returns it whole.
_AUTOCLAIM_JUSTID = """
return redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], 'COUNT', ARGV[5],
                  'JUSTID')
"""


def reclaim(
    client: redis.Redis,
    stream: str,
    group_name: str,
    *,
    min_idle_ms: int,
    to: str,
    count: int = 100,
) -> ReclaimResult:
    """XAUTOCLAIM every entry idle ``min_idle_ms`` or more to consumer ``to``.

    Follows the cursor to the end. JUSTID: delivery counts are not raised
    (nothing is delivered by the sweep); ``to`` then owns the entries with
    idle reset, and a live consumer of that name re-reads them on start.
    """
    require_group(client, stream, group_name)
    before = {e.id: e for e in iter_pending(client, stream, group_name, min_idle_ms=min_idle_ms)}
    moved: list[ReclaimedEntry] = []
    deleted: list[str] = []
    cursor = "0-0"
    while True:
        reply = client.eval(
            _AUTOCLAIM_JUSTID, 1, stream, group_name, to, min_idle_ms, cursor, count
        )
        cursor = _text(reply[0])
        for raw in reply[1]:
            entry_id = _text(raw)
            prev = before.get(entry_id)
            moved.append(
                ReclaimedEntry(
                    entry_id,
                    prev.consumer if prev else None,
                    prev.deliveries if prev else None,
                )
            )
        if len(reply) > 2:
            deleted.extend(_text(d) for d in reply[2])
        if cursor == "0-0":
            break
    log.info("reclaimed %d entries to %s (%d deleted)", len(moved), to, len(deleted))
    return ReclaimResult(to, moved, deleted)


# -- tail -------------------------------------------------------------------

#: One raw entry (RESP2): id and fields.
RawEntry = tuple[bytes, dict[bytes, bytes]]


def last_entries(client: redis.Redis, stream: str, count: int) -> list[RawEntry]:
    """The newest ``count`` entries, oldest first (XREVRANGE; never joins a group)."""
    require_stream(client, stream)
    rows = cast(list[RawEntry], client.xrevrange(stream, "+", "-", count=count))
    return list(reversed(rows))


def read_after(
    client: redis.Redis, stream: str, after: str, *, block_ms: int, count: int = 100
) -> list[RawEntry]:
    """Entries after id ``after`` (XREAD, blocking up to ``block_ms``; no group)."""
    reply: Any = client.xread({stream: after}, count=count, block=block_ms)
    return cast(list[RawEntry], reply[0][1]) if reply else []


# -- group management -------------------------------------------------------


def create_group(
    client: redis.Redis,
    stream: str,
    group_name: str,
    *,
    start_id: str = "0",
    mkstream: bool = True,
) -> bool:
    """XGROUP CREATE at ``start_id``; ``False`` if the group already existed."""
    if not mkstream:
        require_stream(client, stream)
    try:
        client.xgroup_create(stream, group_name, id=start_id, mkstream=mkstream)
    except redis.ResponseError as exc:
        if str(exc).startswith("BUSYGROUP"):
            return False
        raise
    log.info("created group %s on %s at %s", group_name, stream, start_id)
    return True


def destroy_group(client: redis.Redis, stream: str, group_name: str) -> GroupInfo:
    """XGROUP DESTROY; returns the group as it was (its pending entries are gone)."""
    info = require_group(client, stream, group_name)
    client.xgroup_destroy(stream, group_name)
    log.warning("destroyed group %s on %s (%d pending)", group_name, stream, info.pending)
    return info


def set_group_id(
    client: redis.Redis,
    stream: str,
    group_name: str,
    start_id: str,
    *,
    entries_read: int | None = None,
) -> tuple[GroupInfo, GroupInfo]:
    """XGROUP SETID; returns the group before and after."""
    before = require_group(client, stream, group_name)
    client.xgroup_setid(stream, group_name, start_id, entries_read=entries_read)
    after = require_group(client, stream, group_name)
    log.warning(
        "moved group %s on %s from %s to %s",
        group_name,
        stream,
        before.last_delivered_id,
        after.last_delivered_id,
    )
    return before, after
