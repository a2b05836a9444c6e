"""Create, destroy or move a consumer group (``streamctl group``) on every partition.

Each function returns one ``GroupChange`` per covered partition: the group as
it was and as it is; ``groupinfo.combined`` sums a column of them up.
"""

from __future__ import annotations

import dataclasses
import logging

import redis

from ..constants import GROUP_START_ID
from ..groupinfo import GroupInfo, group
from ..settings import StreamSettings
from .scope import covered, existing, require_one, with_group

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class GroupChange:
    """The group on one partition before and after a change (``None``: not there)."""

    partition: int
    stream: str
    before: GroupInfo | None
    after: GroupInfo | None

    @property
    def created(self) -> bool:
        """Whether the change created the group on this partition."""
        return self.before is None and self.after is not None


def create_group(
    client: redis.Redis,
    settings: StreamSettings,
    *,
    start_id: str = GROUP_START_ID,
    mkstream: bool = True,
    partition: int | None = None,
) -> list[GroupChange]:
    """XGROUP CREATE at ``start_id`` on every covered partition; an existing group stays.

    Without ``mkstream`` a partition whose stream does not exist is left
    alone (``StreamNotFound`` if none exists).
    """
    parts = covered(settings, partition)
    found = [True] * len(parts) if mkstream else existing(client, settings, parts)
    changes: list[GroupChange] = []
    for p, there in zip(parts, found, strict=True):
        if not there:
            changes.append(GroupChange(p.index, p.stream, None, None))
            continue
        try:
            client.xgroup_create(p.stream, settings.group, id=start_id, mkstream=mkstream)
            created = True
        except redis.ResponseError as exc:
            if not str(exc).startswith("BUSYGROUP"):
                raise
            created = False
        now = group(client, p.stream, settings.group)
        if created:
            log.info("created group %s on %s at %s", settings.group, p.stream, start_id)
        changes.append(GroupChange(p.index, p.stream, None if created else now, now))
    return changes


def destroy_group(
    client: redis.Redis, settings: StreamSettings, *, partition: int | None = None
) -> list[GroupChange]:
    """XGROUP DESTROY on every covered partition that has the group (its pending lists go too)."""
    changes: list[GroupChange] = []
    for p, info in with_group(client, settings, partition):
        client.xgroup_destroy(p.stream, settings.group)
        log.warning("destroyed group %s on %s (%d pending)", settings.group, p.stream, info.pending)
        changes.append(GroupChange(p.index, p.stream, info, None))
    return changes


def set_group_id(
    client: redis.Redis,
    settings: StreamSettings,
    start_id: str,
    *,
    entries_read: int | None = None,
    partition: int | None = None,
) -> list[GroupChange]:
    """XGROUP SETID on every covered partition that has the group.

    One ``start_id`` for all: an id is a time, so every partition goes to the
    same moment; ``$`` moves each to its own end. ``entries_read`` counts
    entries of one partition, so it needs a single partition covered.
    """
    if entries_read is not None:
        require_one(settings, partition, "entries-read")
    changes: list[GroupChange] = []
    for p, before in with_group(client, settings, partition):
        client.xgroup_setid(p.stream, settings.group, start_id, entries_read=entries_read)
        after = group(client, p.stream, settings.group)
        log.warning(
            "moved group %s on %s from %s to %s",
            settings.group,
            p.stream,
            before.last_delivered_id,
            after.last_delivered_id if after else None,
        )
        changes.append(GroupChange(p.index, p.stream, before, after))
    return changes
