"""Partitioned streams: one logical stream as ``P`` Redis streams (for Redis Cluster).

One Redis stream lives on one node. With ``partitions = P > 1`` the stream
``S`` becomes ``P`` streams, each with its own dead-letter stream::

    partition i of S      {S:i}         e.g. {quotes:0} ... {quotes:5}
    its dead letters      {S:i}:dead    e.g. {quotes:3}:dead (see partition_dead_letters)

The braces are a Redis Cluster hash tag: only ``S:i`` is hashed, so a
partition and its dead letters always share a slot (the MULTI/EXEC that moves
a dead letter and acknowledges it touches one slot), while different
partitions, and the partitions of different streams, spread over the slots.
With ``P = 1`` nothing changes: the stream is ``S``, its dead letters
``S:dead`` (or ``DEAD_LETTER_STREAM``).

Routing: an envelope goes to partition ``crc32(key) mod P`` (zlib's CRC-32 of
the UTF-8 key), so the same key always lands in the same partition and
per-key order holds. Changing ``P`` re-routes keys: drain first.

Consumers: every replica reads every partition, one ``GroupConsumer`` per
partition, each in its own thread with its own client, in one consumer group
per partition (same group name). Redis balances each partition's entries over
the replicas, reclaim and dead-lettering stay per partition, and a replica
that dies leaves pending entries that the others reclaim, exactly as with one
stream. The handler is shared and called by one partition thread at a time.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
import zlib
from collections.abc import Callable, Iterable, Sequence

import redis
from redis.exceptions import ClusterError, ReadOnlyError, RedisClusterException, TryAgainError

from .backoff import Backoff
from .codec import Envelope
from .connection import client_from_url
from .constants import DEAD_LETTER_SUFFIX, DEFAULT_BATCH_SIZE
from .consumer import BatchResult, ConsumerStats, GroupConsumer, Handler, Message
from .errors import ConfigError, ProducerUnavailable
from .producer import StreamProducer
from .settings import StreamSettings

log = logging.getLogger(__name__)

#: Errors that mean "the cluster is reshaping or a node is away": a partition's
#: consumer rejoins after a backoff (the cluster client has already retried and
#: refreshed its slot map a few times by then).
CLUSTER_WEATHER: tuple[type[BaseException], ...] = (
    redis.ConnectionError,
    redis.TimeoutError,
    ClusterError,  # CLUSTERDOWN, MASTERDOWN
    RedisClusterException,  # slot not covered, no node reachable
    TryAgainError,
    ReadOnlyError,  # a master just demoted to replica
)


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


# -- producer -------------------------------------------------------------------------


class PartitionedProducer:
    """``StreamProducer``'s API over ``P`` partitions: each envelope to ``partition_of(key)``.

    ``send_many`` splits the envelopes by partition (keeping their order
    within each) and sends each partition's share through that partition's
    ``StreamProducer``: pipelined batches, resent whole on a connection error
    until ``retry_timeout``, then ``ProducerUnavailable`` counting every
    envelope of the call that may not be in a stream. Ids come back in the
    order of the envelopes given.
    """

    def __init__(
        self,
        client: redis.Redis,
        stream: str,
        partitions: int,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        retry_timeout: float = 0.0,
    ) -> None:
        if partitions < 1:
            raise ConfigError(f"partitions must be >= 1, got {partitions}")
        self.client = client
        self.stream = stream
        self.partitions = partitions
        self.producers = [
            StreamProducer(
                client,
                partition_stream(stream, i, partitions),
                batch_size=batch_size,
                retry_timeout=retry_timeout,
            )
            for i in range(partitions)
        ]

    @property
    def sent(self) -> int:
        """Entries added, all partitions."""
        return sum(p.sent for p in self.producers)

    @property
    def batches(self) -> int:
        """Pipelined batches sent, all partitions."""
        return sum(p.batches for p in self.producers)

    @property
    def retries(self) -> int:
        """Batches resent after a connection error, all partitions."""
        return sum(p.retries for p in self.producers)

    def send(self, envelope: Envelope) -> str:
        """XADD one envelope to its partition; returns its entry id."""
        return self.send_many([envelope])[0]

    def send_many(self, envelopes: Iterable[Envelope]) -> list[str]:
        """XADD every envelope to its partition; returns the ids in input order."""
        items = list(envelopes)
        buckets: dict[int, list[int]] = {}
        for position, envelope in enumerate(items):
            buckets.setdefault(partition_of(envelope.key, self.partitions), []).append(position)
        ids: list[str] = [""] * len(items)
        delivered = 0
        for index in sorted(buckets):
            positions = buckets[index]
            try:
                sent = self.producers[index].send_many([items[i] for i in positions])
            except ProducerUnavailable as exc:
                undelivered = len(items) - delivered - (len(positions) - exc.undelivered)
                raise ProducerUnavailable(
                    f"partition {index} ({self.producers[index].stream}): {exc}; "
                    f"{undelivered} envelope(s) of this call not delivered",
                    undelivered=undelivered,
                ) from exc
            for position, entry_id in zip(positions, sent, strict=True):
                ids[position] = entry_id
            delivered += len(positions)
        return ids


# -- consumer -------------------------------------------------------------------------


def sum_stats(parts: Sequence[ConsumerStats]) -> ConsumerStats:
    """The counters of several consumers added up; ``last_progress`` is the oldest one.

    The oldest, so that one stuck partition shows (``/healthz``, progress lines).
    """
    total = ConsumerStats()
    for field in dataclasses.fields(ConsumerStats):
        if field.name == "last_progress":
            continue
        setattr(total, field.name, sum(getattr(s, field.name) for s in parts))
    if parts:
        total.last_progress = min(s.last_progress for s in parts)
    return total


class PartitionedConsumer:
    """One replica of a consumer group over every partition of a stream.

    One ``GroupConsumer`` per partition, each run in its own thread with its
    own client (from ``client_factory``, default: a client for
    ``settings.redis_url``), all sharing ``handler``, which is called by one
    thread at a time (a lock), so a handler written for one stream is safe
    here. ``run()`` returns when every partition is drained (``burst``) or
    after ``stop()``; a partition whose node is away (a restart, a failover)
    rejoins with backoff while the others go on. An error that is not weather
    (WRONGTYPE, NOPERM, a bug) stops every partition and is raised by ``run()``.
    """

    def __init__(
        self,
        settings: StreamSettings,
        handler: Handler,
        *,
        client_factory: Callable[[], redis.Redis] | None = None,
    ) -> None:
        self.settings = settings
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._errors: list[BaseException] = []
        self._handler = handler

        def factory() -> redis.Redis:
            return client_from_url(settings.redis_url, settings.connection)

        make = client_factory or factory
        self.consumers = [
            GroupConsumer(make(), s, self._serialised) for s in all_partition_settings(settings)
        ]

    def _serialised(self, batch: Sequence[Message]) -> BatchResult | None:
        with self._lock:
            return self._handler(batch)

    @property
    def stats(self) -> ConsumerStats:
        """A snapshot of every partition's counters added up (see ``sum_stats``)."""
        return sum_stats([c.stats for c in self.consumers])

    def stop(self) -> None:
        """Ask every partition to finish its batch in hand; ``run()`` then returns."""
        self._stop.set()
        for consumer in self.consumers:
            consumer.stop()

    @property
    def stopping(self) -> bool:
        """Whether ``stop()`` was called."""
        return self._stop.is_set()

    def run(self, *, burst: bool = False) -> ConsumerStats:
        """Consume every partition until stopped (or, with ``burst``, all drained)."""
        threads = [
            threading.Thread(
                target=self._supervise,
                args=(i, burst),
                name=f"partition-{i}",
                daemon=True,
            )
            for i in range(len(self.consumers))
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=0.2)  # short joins: signals reach the main thread
        if self._errors:
            raise self._errors[0]
        stats = self.stats
        log.info("all %d partitions stopped: %s", len(self.consumers), stats)
        return stats

    def _supervise(self, index: int, burst: bool) -> None:
        consumer = self.consumers[index]
        backoff = Backoff(base=0.1, cap=10.0)
        while not self._stop.is_set():
            try:
                consumer.run(burst=burst)
                return
            except CLUSTER_WEATHER as exc:
                consumer.stats.redis_errors += 1
                delay = backoff.next_delay()
                log.warning(
                    "partition %d (%s) unavailable (%s: %s); rejoining in %.2fs",
                    index,
                    consumer.settings.stream,
                    type(exc).__name__,
                    exc,
                    delay,
                )
                self._stop.wait(delay)
            except BaseException as exc:
                log.error("partition %d (%s) failed: %r", index, consumer.settings.stream, exc)
                self._errors.append(exc)
                self.stop()
                return

    def close(self) -> None:
        """Close every partition's client (after ``run()`` returned)."""
        for consumer in self.consumers:
            with contextlib.suppress(redis.RedisError):
                consumer.client.close()
