"""Partitions: one logical stream as ``P`` Redis streams (naming and routing).

A stream is ``P`` partitions. ``P = 1`` is the plain stream with today's
names; ``P > 1`` spreads the stream over Redis Cluster's slots::

    P = 1                 quotes        its dead letters  quotes:dead (or DEAD_LETTER_STREAM)
    P > 1, partition i    {quotes:i}    its dead letters  {quotes:i}:dead (partition_dead_letters)

The braces are a Redis Cluster hash tag: only ``S:i`` is hashed, so a
partition and its dead letters always share a slot (the MULTI/EXEC that moves
a dead letter and acknowledges it touches one slot), while different
partitions, and the partitions of different streams, spread over the slots.

Routing: an envelope goes to partition ``crc32(key) mod P`` (zlib's CRC-32 of
the UTF-8 key), so the same key always lands in the same partition and
per-key order holds. Changing ``P`` re-routes keys: drain first.

The producer (``producer.PartitionedProducer``) and the consumer replica
(``replica.PartitionedConsumer``) work on every ``P`` through these names.
"""

from __future__ import annotations

import zlib

from .constants import DEAD_LETTER_SUFFIX
from .errors import ConfigError
from .settings import StreamSettings


def partition_stream(stream: str, index: int, partitions: int) -> str:
    """The name of partition ``index`` of ``stream`` (``stream`` itself when ``P = 1``)."""
    _check_index(index, partitions)
    return stream if partitions == 1 else f"{{{stream}:{index}}}"


def partition_dead_letters(
    stream: str, index: int, partitions: int, dead_letter_stream: str | None = None
) -> str:
    """The dead-letter stream of partition ``index``, in the partition's hash slot.

    With ``P = 1`` it is ``dead_letter_stream`` (default ``<stream>:dead``). With
    ``P > 1`` each partition has its own, named after the partition: what the
    configured name adds to the stream's name (``:dead`` by default, ``-failed``
    for ``quotes-failed``) follows the partition's name, and a name that does not
    start with the stream's is appended after a colon (``{quotes:3}:dlq`` for ``dlq``).
    """
    name = dead_letter_stream or stream + DEAD_LETTER_SUFFIX
    if partitions == 1:
        _check_index(index, 1)
        return name
    suffix = name[len(stream) :] if name.startswith(stream) else ":" + name
    return partition_stream(stream, index, partitions) + suffix


def partition_of(key: str, partitions: int) -> int:
    """The partition of an envelope key: ``crc32(utf-8 key) mod partitions``."""
    if partitions < 1:
        raise ConfigError(f"partitions must be >= 1, got {partitions}")
    return zlib.crc32(key.encode("utf-8")) % partitions


def partition_settings(settings: StreamSettings, index: int) -> StreamSettings:
    """Settings of one partition, as a plain single stream (what a ``GroupConsumer`` takes)."""
    p = settings.partitions
    if p == 1:
        _check_index(index, 1)
        return settings
    return settings.replace(
        stream=partition_stream(settings.stream, index, p),
        dead_letter_stream=partition_dead_letters(
            settings.stream, index, p, settings.dead_letter_stream
        ),
        partitions=1,
    )


def all_partition_settings(settings: StreamSettings) -> list[StreamSettings]:
    """``partition_settings`` of every partition, in order."""
    return [partition_settings(settings, i) for i in range(settings.partitions)]


def _check_index(index: int, partitions: int) -> None:
    if not 0 <= index < partitions:
        raise ConfigError(f"partition must be between 0 and {partitions - 1}, got {index}")
