"""``StreamProducer``: XADD envelopes, one at a time or in pipelined batches."""

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

log = logging.getLogger(__name__)

#: Resent until the deadline. The last two only happen on Redis Cluster (a
#: master away or slots moving: CLUSTERDOWN, MASTERDOWN, TRYAGAIN).
RETRYABLE = (redis.ConnectionError, redis.TimeoutError, ClusterDownError, TryAgainError)


class StreamProducer:
    """Appends envelopes to one stream.

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
    """

    def __init__(
        self,
        client: redis.Redis,
        stream: str,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        retry_timeout: float = 0.0,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        if retry_timeout < 0:
            raise ConfigError(f"retry_timeout must be >= 0, got {retry_timeout}")
        self.client = client
        self.stream = stream
        self.batch_size = batch_size
        self.retry_timeout = retry_timeout
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


def _chunks(items: list[Envelope], size: int) -> Iterator[tuple[int, list[Envelope]]]:
    it = iter(items)
    start = 0
    while batch := list(itertools.islice(it, size)):
        yield start, batch
        start += len(batch)
