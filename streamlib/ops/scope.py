"""Which partitions an operation covers, and which of them exist.

An operation covers every partition of the stream, or the one given as
``partition``. A partition whose stream does not exist yet (nothing was routed
there so far) is a row of zeros, never an error: only a stream none of whose
covered partitions exists is ``StreamNotFound``, and a group found on none of
them ``GroupNotFound``. Existence is asked with TYPE, so a key of another type
is an error rather than a missing stream.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import NamedTuple

import redis

from ..errors import ConfigError, GroupNotFound, StreamNotFound
from ..groupinfo import GroupInfo, group
from ..partitions import all_partition_settings, partition_settings
from ..replies import text
from ..settings import StreamSettings


@dataclasses.dataclass(frozen=True)
class Partition:
    """One partition of a stream: its index, its stream and its dead-letter stream."""

    index: int
    stream: str
    dead_letters: str


class EntryRef(NamedTuple):
    """An entry id and the partition it is in (ids alone repeat across partitions)."""

    partition: int
    id: str


def covered(settings: StreamSettings, partition: int | None = None) -> list[Partition]:
    """Every partition of the stream, or only ``partition`` (``ConfigError`` if out of range)."""
    if partition is not None:
        one = partition_settings(settings, partition)
        return [Partition(partition, one.stream, one.dead_letters)]
    return [
        Partition(i, p.stream, p.dead_letters)
        for i, p in enumerate(all_partition_settings(settings))
    ]


def require_one(settings: StreamSettings, partition: int | None, what: str) -> None:
    """``ConfigError`` unless one partition is covered (``what`` needs one, e.g. a count)."""
    if len(covered(settings, partition)) > 1:
        raise ConfigError(
            f"{what} is a count within one partition: give one partition "
            f"(the stream has {settings.partitions})"
        )


def stream_exists(client: redis.Redis, stream: str) -> bool:
    """Whether ``stream`` exists; ``StreamNotFound`` if the key holds another type."""
    kind = text(client.type(stream))
    if kind == "none":
        return False
    if kind != "stream":
        raise StreamNotFound(f"key {stream!r} is a {kind}, not a stream")
    return True


def existing(
    client: redis.Redis, settings: StreamSettings, parts: Sequence[Partition]
) -> list[bool]:
    """Whether each partition's stream exists; ``StreamNotFound`` if none does."""
    found = [stream_exists(client, p.stream) for p in parts]
    if not any(found):
        if len(parts) == 1:
            raise StreamNotFound(f"stream {parts[0].stream!r} not found")
        raise StreamNotFound(
            f"stream {settings.stream!r} not found: none of its {len(parts)} partitions exists"
        )
    return found


def group_on(
    client: redis.Redis, settings: StreamSettings, parts: Sequence[Partition]
) -> list[GroupInfo | None]:
    """The group on each partition (``None`` where it or the stream is missing).

    ``StreamNotFound`` if no partition's stream exists, ``GroupNotFound`` if
    the group is on none of them.
    """
    found = existing(client, settings, parts)
    infos = [
        group(client, p.stream, settings.group) if there else None
        for p, there in zip(parts, found, strict=True)
    ]
    if all(info is None for info in infos):
        if len(parts) == 1:
            raise GroupNotFound(f"group {settings.group!r} not found on stream {parts[0].stream!r}")
        raise GroupNotFound(
            f"group {settings.group!r} not found on any of the {len(parts)} "
            f"partitions of {settings.stream!r}"
        )
    return infos


def with_group(
    client: redis.Redis, settings: StreamSettings, partition: int | None
) -> list[tuple[Partition, GroupInfo]]:
    """The covered partitions that have the group, with it (see ``group_on``)."""
    parts = covered(settings, partition)
    infos = group_on(client, settings, parts)
    return [(p, info) for p, info in zip(parts, infos, strict=True) if info is not None]


def server_time_ms(client: redis.Redis) -> int:
    """Redis's clock in ms (ages are computed against it, not the local clock)."""
    seconds, micros = client.time()
    return int(seconds) * 1000 + int(micros) // 1000
