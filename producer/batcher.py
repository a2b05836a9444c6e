"""``Batcher``: items into pipelined XADD batches, off the reactor thread.

Why a worker thread: Scrapy runs on the asyncio reactor here, so the pipeline
is a coroutine that awaits an ``asyncio.Future`` per item; the blocking Redis
work is done by streamlib's ``StreamProducer`` (pipelined XADDs, resend with
backoff until its retry deadline) in one dedicated worker thread. That reuses
the one tested retry policy instead of writing a second, async one, and a
batch in flight - even one stuck on a paused or dead Redis - never holds up
the event loop: pages keep being downloaded and parsed meanwhile.

A batch is sent when it holds ``batch_size`` items or when its oldest item has
waited ``max_delay`` seconds. One worker thread sends batches one at a time,
so entries reach the stream in the order the items arrived. Each item's
future resolves only once its whole batch is in Redis (the item is
"processed" then), or fails with ``DeliveryFailed``. After the first batch
that can't be delivered by the deadline, every later one fails at once
(``failed`` is set): the caller is to stop the crawl.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from streamlib import Envelope, PartitionedProducer, StreamlibError, StreamProducer

log = logging.getLogger(__name__)


class DeliveryFailed(StreamlibError):
    """An item's batch could not be put in the stream."""


class Batcher:
    """Collects envelopes and sends them in batches through a ``StreamProducer``."""

    def __init__(
        self,
        producer: StreamProducer | PartitionedProducer,
        *,
        batch_size: int,
        max_delay: float,
    ) -> None:
        self.producer = producer
        self.batch_size = batch_size
        self.max_delay = max_delay
        #: Items whose delivery failed (their futures raised ``DeliveryFailed``).
        self.undelivered = 0
        #: Why delivery stopped, once it has.
        self.failure: BaseException | None = None
        self._failed = threading.Event()
        self._buffer: list[tuple[Envelope, asyncio.Future[None]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._in_flight: set[asyncio.Task[None]] = set()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stream-producer")

    @property
    def failed(self) -> bool:
        """Whether some batch could not be delivered (all later ones fail too)."""
        return self._failed.is_set()

    def submit(self, envelope: Envelope) -> asyncio.Future[None]:
        """Queue ``envelope``; the future resolves once it is in the stream."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        if self.failed:
            self.undelivered += 1
            future.set_exception(DeliveryFailed(f"delivery stopped earlier: {self.failure}"))
            return future
        self._buffer.append((envelope, future))
        if len(self._buffer) >= self.batch_size:
            self.flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.max_delay, self.flush)
        return future

    def flush(self) -> None:
        """Hand the buffered items, if any, to the worker thread now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        task = asyncio.ensure_future(self._deliver(batch))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def drain(self) -> None:
        """Send what is buffered and wait for every batch in flight."""
        self.flush()
        while self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)

    def close(self) -> None:
        """Stop the worker thread (after ``drain``)."""
        self._executor.shutdown(wait=True)

    async def _deliver(self, batch: list[tuple[Envelope, asyncio.Future[None]]]) -> None:
        loop = asyncio.get_running_loop()
        envelopes = [envelope for envelope, _ in batch]
        try:
            await loop.run_in_executor(self._executor, self._send, envelopes)
        except DeliveryFailed as exc:
            self.undelivered += len(batch)
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for _, future in batch:
            if not future.done():
                future.set_result(None)

    def _send(self, envelopes: list[Envelope]) -> None:
        """Worker thread: one pipelined batch, resent with backoff until the deadline.

        The first failure is recorded here, in the worker, so that a batch
        queued right behind it fails at once instead of retrying again.
        """
        if self._failed.is_set():
            raise DeliveryFailed(f"delivery stopped earlier: {self.failure}")
        try:
            self.producer.send_many(envelopes)
        except Exception as exc:
            # Unreachable past the deadline, a reply no resend can fix (OOM,
            # WRONGTYPE), an unencodable item, or a bug: whatever it is, the
            # items must not wait forever. Stop delivering, loudly.
            self.failure = exc
            self._failed.set()
            log.error("Batch of %d item(s) not delivered: %s", len(envelopes), exc)
            raise DeliveryFailed(str(exc)) from exc
