"""A group's consumers (``streamctl consumers``), and pruning the idle ones."""

from __future__ import annotations

import dataclasses
import logging

import redis

from ..replies import opt_int, text
from ..settings import StreamSettings
from .scope import Partition, with_group

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ConsumerInfo:
    """One consumer of the group on one partition, as XINFO CONSUMERS reports it."""

    partition: int
    name: str
    pending: int
    #: Since its last attempted interaction (read, claim).
    idle_ms: int
    #: Since its last successful interaction; ``None`` before Redis 7.2.
    inactive_ms: int | None


def consumers(
    client: redis.Redis, settings: StreamSettings, *, partition: int | None = None
) -> list[ConsumerInfo]:
    """The group's consumers on every covered partition that has the group."""
    return [
        c
        for p, _ in with_group(client, settings, partition)
        for c in _consumers(client, p, settings.group)
    ]


def _consumers(client: redis.Redis, p: Partition, group_name: str) -> list[ConsumerInfo]:
    return [
        ConsumerInfo(
            partition=p.index,
            name=text(row["name"]),
            pending=int(row["pending"]),
            idle_ms=int(row["idle"]),
            inactive_ms=opt_int(row.get("inactive")),
        )
        for row in client.xinfo_consumers(p.stream, group_name)
    ]


@dataclasses.dataclass(frozen=True)
class PruneDecision:
    """What ``prune_consumers`` did with one consumer on one partition, and why."""

    partition: int
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
    client: redis.Redis,
    settings: StreamSettings,
    *,
    idle_ms: int,
    dry_run: bool = False,
    partition: int | None = None,
) -> list[PruneDecision]:
    """Delete consumers idle at least ``idle_ms`` **and** with nothing pending.

    Partition by partition: a replica is a consumer on each, and is deleted
    from the partitions where it is idle with nothing pending. The pending
    check and the delete run atomically (a script), so an entry delivered to
    the consumer after it was listed is never dropped.
    """
    decisions: list[PruneDecision] = []
    for p, _ in with_group(client, settings, partition):
        for c in _consumers(client, p, settings.group):
            decisions.append(_prune_one(client, p, settings.group, c, idle_ms, dry_run))
    return decisions


def _prune_one(
    client: redis.Redis, p: Partition, group_name: str, c: ConsumerInfo, idle_ms: int, dry: bool
) -> PruneDecision:
    def decided(action: str, reason: str) -> PruneDecision:
        return PruneDecision(p.index, c.name, c.pending, c.idle_ms, action, reason)

    if c.pending:
        return decided("kept", f"has {c.pending} pending entr{'y' if c.pending == 1 else 'ies'}")
    if c.idle_ms < idle_ms:
        return decided("kept", "active (idle below the threshold)")
    if dry:
        return decided("would delete", "idle, nothing pending")
    if int(client.eval(_DELETE_IF_NO_PENDING, 1, p.stream, group_name, c.name)) < 0:
        return decided("kept", "got pending entries meanwhile")
    log.info("deleted idle consumer %s of group %s on %s", c.name, group_name, p.stream)
    return decided("deleted", "idle, nothing pending")
