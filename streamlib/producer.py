"""Producers: XADD envelopes, one at a time or in pipelined batches.

``PartitionedProducer`` is the producer of a stream of ``P`` partitions, any
``P``: it routes each envelope to partition ``crc32(key) mod P``
(``partitions``) and sends each partition's share through that partition's
``StreamProducer``, the sender of one Redis stream. With ``P = 1`` it hands
the whole call to the one ``StreamProducer`` of the plain stream.
"""

from __future__ import annotations

import functools
import itertools
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import redis
from redis.exceptions import ClusterDownError, TryAgainError

from . import xadd_batch
from .backoff import Backoff
from .codec import Envelope, encode
from .connection import is_permanent_failure
from .constants import DEFAULT_BATCH_SIZE
from .errors import ConfigError, ProducerUnavailable
from .flow import DEFAULT_MAX_LAG, LagGate
from .partitions import partition_of, partition_stream

log = logging.getLogger(__name__)

#: Resent until the deadline. The last two only happen on Redis Cluster (a
#: master away or slots moving: CLUSTERDOWN, MASTERDOWN, TRYAGAIN).
RETRYABLE = (redis.ConnectionError, redis.TimeoutError, ClusterDownError, TryAgainError)


class StreamProducer:
    """Appends envelopes to one Redis stream (one partition).

    ``send_many`` sends batches of ``batch_size`` XADDs in one pipelined round
    trip each (no MULTI: a batch is not atomic, but it arrives in order): on a
    plain ``redis.Redis``, one packed write on a pooled connection
    (``xadd_batch``), else (Redis Cluster, unusual clients) redis-py's
    ``Pipeline``. An error reply (WRONGTYPE, NOPERM) is raised once the
    batch's replies are read, as the pipeline raises it. A
    batch that fails on a connection error is sent again whole, with backoff,
    for up to ``retry_timeout`` seconds (not when Redis refuses the credentials
    or the server's certificate does not verify: that fails at once): some of
    its entries may then be in the
    stream twice, with the same ``key``, which idempotent consumers absorb
    (at-least-once). After the deadline, ``ProducerUnavailable`` says how many
    envelopes were not delivered. Entries are never trimmed here: retention is
    ``streamctl trim --acked``, which keeps what a group still needs.

    ``group``: flow control, on whenever the consumer group is named: before
    each batch, the group's lag (entries it has not read yet) must leave room
    for it under ``max_lag``, else the producer waits for the group to read
    (``flow.LagGate``). A producer faster than its consumers so keeps a short
    queue instead of an ever longer backlog. Unknown lag (no such group yet)
    never holds it back. The group comes only from ``group=``, never from a
    default: a producer built from ``StreamSettings`` passes
    ``group=settings.group`` to follow the group its consumers read.
    """

    def __init__(
        self,
        client: redis.Redis,
        stream: str,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        retry_timeout: float = 0.0,
        group: str | None = None,
        max_lag: int = DEFAULT_MAX_LAG,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        if retry_timeout < 0:
            raise ConfigError(f"retry_timeout must be >= 0, got {retry_timeout}")
        self.client = client
        self.stream = stream
        self.batch_size = batch_size
        self.retry_timeout = retry_timeout
        #: Flow control on ``group``'s lag; ``None`` without a group.
        self.gate = LagGate(client, stream, group, max_lag) if group else None
        #: Whether batches take the packed path (``xadd_batch``) rather than a pipeline.
        self.packed = xadd_batch.supports(client)
        #: Counters since creation: entries added, batches sent, batch retries.
        self.sent = 0
        self.batches = 0
        self.retries = 0

    def send(self, envelope: Envelope) -> str:
        """XADD one envelope; returns its entry id."""
        return self.send_many([envelope])[0]

    def send_many(self, envelopes: Iterable[Envelope]) -> list[str]:
        """XADD every envelope, in order, in pipelined batches; returns the ids."""
        ids: list[str] = []
        pending = list(envelopes)
        for start, batch in _chunks(pending, self.batch_size):
            if self.gate is not None:
                self.gate.admit(len(batch))
            try:
                ids.extend(self._send_batch(batch))
            except RETRYABLE as exc:
                why = (
                    "Redis refused the connection (credentials or TLS certificate)"
                    if is_permanent_failure(exc)
                    else f"Redis unreachable for {self.retry_timeout:g}s"
                )
                raise ProducerUnavailable(
                    f"{why}; {len(pending) - start} envelope(s) not delivered: {exc}",
                    undelivered=len(pending) - start,
                ) from exc
        return ids

    def _send_batch(self, batch: list[Envelope]) -> list[str]:
        encoded = [encode(e) for e in batch]  # encode errors are the caller's bug
        attempt = self._packed_attempt(encoded) if self.packed else self._pipeline_attempt(encoded)
        deadline = time.monotonic() + self.retry_timeout
        backoff = Backoff(base=0.05, cap=2.0)
        while True:
            try:
                replies = attempt()
            except RETRYABLE as exc:
                delay = backoff.next_delay()
                if is_permanent_failure(exc) or time.monotonic() + delay > deadline:
                    raise  # waiting can't fix refused credentials or an unverifiable server
                self.retries += 1
                log.warning("XADD batch failed (%s); resending in %.2fs", exc, delay)
                time.sleep(delay)
                continue
            self.sent += len(replies)
            self.batches += 1
            return [r.decode() if isinstance(r, bytes) else str(r) for r in replies]

    def _packed_attempt(self, encoded: Sequence[xadd_batch.Fields]) -> Callable[[], list[Any]]:
        """One send of the batch, packed once here, sent as often as it is retried."""
        payload = xadd_batch.pack_xadds(self.stream, encoded)
        return functools.partial(
            xadd_batch.send_xadds, self.client, self.stream, payload, len(encoded)
        )

    def _pipeline_attempt(self, encoded: list[dict[str, bytes | str]]) -> Callable[[], list[Any]]:
        def attempt() -> list[Any]:
            with self.client.pipeline(transaction=False) as pipe:
                for fields in encoded:
                    pipe.xadd(self.stream, fields)  # type: ignore[arg-type]
                replies: list[Any] = pipe.execute()
                return replies

        return attempt


class PartitionedProducer:
    """The producer of a stream of ``partitions`` partitions (1: the plain stream).

    Each envelope goes to partition ``partition_of(key, P)``. ``send_many``
    splits the envelopes by partition (keeping their order within each) and
    sends each partition's share through that partition's ``StreamProducer``:
    pipelined batches, resent whole on a connection error until
    ``retry_timeout``, then ``ProducerUnavailable`` counting every envelope
    of the call that may not be in a stream. Ids come back in the order of
    the envelopes given. ``group`` and ``max_lag``: flow control, per
    partition (see ``StreamProducer``).
    """

    def __init__(
        self,
        client: redis.Redis,
        stream: str,
        partitions: int = 1,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        retry_timeout: float = 0.0,
        group: str | None = None,
        max_lag: int = DEFAULT_MAX_LAG,
    ) -> None:
        if partitions < 1:
            raise ConfigError(f"partitions must be >= 1, got {partitions}")
        self.client = client
        self.stream = stream
        self.partitions = partitions
        #: One sender per partition, in partition order.
        self.producers = [
            StreamProducer(
                client,
                partition_stream(stream, i, partitions),
                batch_size=batch_size,
                retry_timeout=retry_timeout,
                group=group,
                max_lag=max_lag,
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
        if self.partitions == 1:  # every envelope to the one partition: nothing to route
            return self.producers[0].send_many(envelopes)
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


def _chunks(items: list[Envelope], size: int) -> Iterator[tuple[int, list[Envelope]]]:
    it = iter(items)
    start = 0
    while batch := list(itertools.islice(it, size)):
        yield start, batch
        start += len(batch)
