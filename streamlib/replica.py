"""``PartitionedConsumer``: one consumer-group replica over every partition of a stream.

A stream is ``P`` partitions (``partitions``); ``P = 1`` is the plain stream.
A replica runs one ``GroupConsumer`` (the read -> handle -> ack -> reclaim ->
dead-letter loop) per partition, all under the replica's one consumer name,
in the group of the same name on every partition:

- ``P = 1``: the one ``GroupConsumer`` runs in the thread that calls ``run()``;
- ``P > 1``: each runs in a thread of its own with its own client, and the
  shared handler is called by one partition at a time (a lock), so a handler
  written for one stream is safe here.

Every replica reads every partition: Redis balances each partition's entries
over the replicas, reclaim and dead-lettering stay per partition, and a
replica that dies leaves pending entries that the others reclaim, as on one
stream.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence

import redis
from redis.exceptions import ClusterError, ReadOnlyError, RedisClusterException, TryAgainError

from .connection import client_from_url
from .consumer import BatchResult, ConsumerStats, GroupConsumer, Handler, Message
from .partitions import all_partition_settings
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

#: ``wrap(partition settings, handler) -> handler``: see ``PartitionedConsumer.wrap_handler``.
HandlerWrapper = Callable[[StreamSettings, Handler], Handler]


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
    """One replica of a consumer group over every partition of a stream (any ``P``).

    ``settings`` are the stream's (``settings.partitions`` of them); each
    partition's ``GroupConsumer`` gets ``partition_settings(settings, i)`` and
    a client from ``client_factory`` (default: a client for
    ``settings.redis_url``). ``run()`` returns when every partition is
    drained (``burst``) or after ``stop()``, each partition having finished
    and acknowledged its batch in hand. A partition whose node is away (a
    restart, a failover) rejoins with backoff while the others go on. An
    error that is not weather (WRONGTYPE, NOPERM, a bug) stops every
    partition and is raised by ``run()``.
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
        self._errors: list[BaseException] = []
        self._lock = threading.Lock()

        def factory() -> redis.Redis:
            return client_from_url(settings.redis_url, settings.connection)

        make = client_factory or factory
        parts = all_partition_settings(settings)
        #: What each partition calls, before the lock: ``handler``, maybe wrapped.
        self._handlers: list[Handler] = [handler] * len(parts)
        #: One loop per partition, in partition order.
        self.consumers = [GroupConsumer(make(), s, self._guarded(handler)) for s in parts]

    def _guarded(self, handler: Handler) -> Handler:
        """``handler`` as a partition calls it: one partition at a time when there are several."""
        if len(self._handlers) == 1:
            return handler
        lock = self._lock

        def serialised(batch: Sequence[Message]) -> BatchResult | None:
            with lock:
                return handler(batch)

        return serialised

    def wrap_handler(self, wrap: HandlerWrapper) -> None:
        """Wrap the handler of each partition with ``wrap(partition settings, handler)``.

        For per-partition instrumentation (``metrics.ConsumerMetrics.track``).
        The wrapped handler runs inside the one-at-a-time lock, so the time
        it measures is the handler's own. Wrappers compose; call before ``run()``.
        """
        for i, consumer in enumerate(self.consumers):
            self._handlers[i] = wrap(consumer.settings, self._handlers[i])
            consumer.handler = self._guarded(self._handlers[i])

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
        if len(self.consumers) == 1:
            self._supervise(0, burst)  # no thread to hand over to: the hot path stays here
        else:
            threads = [
                threading.Thread(
                    target=self._supervise, args=(i, burst), name=f"partition-{i}", daemon=True
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
        return self.stats

    def _supervise(self, index: int, burst: bool) -> None:
        """Run partition ``index`` until it returns, riding out cluster weather."""
        consumer = self.consumers[index]
        while not self._stop.is_set():
            try:
                try:
                    consumer.run(burst=burst)
                    return
                except CLUSTER_WEATHER as exc:
                    # A Redis outage for this partition: logged, shown by /healthz and
                    # given up on past max_outage, as inside the loop; then rejoin.
                    log.debug("partition %d (%s) rejoins: %r", index, consumer.settings.stream, exc)
                    consumer.wait_out(exc)
            except Exception as exc:  # not weather, or max_outage outlasted: stop every partition
                log.error("partition %d (%s) failed: %r", index, consumer.settings.stream, exc)
                self._fail(exc)
                return
            except BaseException as exc:  # SystemExit, KeyboardInterrupt: stop, re-raise in run()
                self._fail(exc)
                return

    def _fail(self, exc: BaseException) -> None:
        self._errors.append(exc)
        self.stop()

    def close(self) -> None:
        """Close every partition's client (after ``run()`` returned)."""
        for consumer in self.consumers:
            with contextlib.suppress(redis.RedisError):
                consumer.client.close()
