"""``Batcher``: items into pipelined XADD batches, off the reactor thread.

A Kafka-style producer buffer. ``submit`` puts an envelope in the current
batch and returns at once; a batch is handed to one dedicated worker thread
when it holds ``batch_size`` items or when its oldest item has waited
``max_delay`` seconds. The worker sends it with streamlib's ``StreamProducer``
(one pipelined round trip of XADDs, resent with backoff until the producer's
retry deadline), batches one after the other, so entries reach the stream in
the order the items were submitted. The reactor thread does one thread hop
and one future per *batch*, never per item.

Why a worker thread: the blocking Redis work reuses the one tested retry
policy instead of a second, async copy of it, and a batch in flight - even
one stuck on a paused or dead Redis - never holds up the event loop: pages
keep being downloaded and parsed meanwhile.

The buffer is bounded: at most ``max_pending`` items accepted and not yet
answered by Redis (buffered or in flight). Past that, ``submit`` returns a
future that resolves once the item has been let in, after some batch was
answered; items let in from that queue keep their order, and an item
arriving meanwhile queues behind them.

After the first batch that can't be delivered, every later one fails at
once: ``failed`` is set, ``on_failure`` is called (once, on the event loop),
every item of the failed batches is counted in ``undelivered``, and
``submit`` raises ``DeliveryFailed``. ``drain`` sends what is buffered and
waits until every batch is answered.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
from collections.abc import Callable
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
        max_pending: int,
        on_failure: Callable[[BaseException], None] | None = None,
        on_batch: Callable[[], None] | None = None,
    ) -> None:
        if max_pending < batch_size:
            raise ValueError(f"max_pending ({max_pending}) must be >= batch_size ({batch_size})")
        self.producer = producer
        self.batch_size = batch_size
        self.max_delay = max_delay
        self.max_pending = max_pending
        self._on_failure = on_failure
        self._on_batch = on_batch
        #: Items that did not reach the stream (their batch failed, or they
        #: came after delivery had stopped).
        self.undelivered = 0
        #: Why delivery stopped, once it has.
        self.failure: BaseException | None = None
        #: Items accepted and not yet answered by Redis (buffered or in flight).
        self.pending = 0
        #: Times an item had to wait for room in the buffer.
        self.waits = 0
        self._failed = threading.Event()
        self._reported = False
        self._buffer: list[Envelope] = []
        self._waiting: collections.deque[tuple[Envelope, asyncio.Future[None]]] = (
            collections.deque()
        )
        self._timer: asyncio.TimerHandle | None = None
        self._in_flight: set[asyncio.Future[None]] = set()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stream-producer")

    @property
    def failed(self) -> bool:
        """Whether some batch could not be delivered (all later ones fail too)."""
        return self._failed.is_set()

    def submit(self, envelope: Envelope) -> asyncio.Future[None] | None:
        """Accept ``envelope`` for delivery.

        Returns ``None`` when it is in the buffer already, or a future that
        resolves once it is (the buffer was full), or fails with
        ``DeliveryFailed`` if delivery stops before. Raises ``DeliveryFailed``
        at once when delivery has stopped.
        """
        if self._failed.is_set():
            self.undelivered += 1
            raise DeliveryFailed(f"delivery stopped earlier: {self.failure}")
        if self.pending < self.max_pending and not self._waiting:
            self._accept(envelope)
            return None
        self.waits += 1
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((envelope, future))
        return future

    def flush(self) -> None:
        """Hand the buffered items, if any, to the worker thread now."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._buffer:
            return
        batch, self._buffer = self._buffer, []
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._executor, self._send, batch)
        self._in_flight.add(future)
        future.add_done_callback(lambda done: self._answered(done, len(batch)))

    async def drain(self) -> None:
        """Send everything accepted or waiting, and wait until Redis answered it all."""
        while self._buffer or self._in_flight or self._waiting:
            self._admit_waiting()
            self.flush()
            if self._in_flight:
                await asyncio.wait(list(self._in_flight))

    def close(self) -> None:
        """Stop the worker thread (after ``drain``)."""
        self._executor.shutdown(wait=True)

    def _accept(self, envelope: Envelope) -> None:
        self.pending += 1
        self._buffer.append(envelope)
        if len(self._buffer) >= self.batch_size:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.max_delay, self.flush)

    def _answered(self, done: asyncio.Future[None], size: int) -> None:
        """Event loop: a batch of ``size`` items was answered (or failed)."""
        self._in_flight.discard(done)
        self.pending -= size
        exc = DeliveryFailed("batch cancelled") if done.cancelled() else done.exception()
        if exc is not None:
            self.undelivered += size
            if self.failure is None:  # not from the worker: a bug, or the loop shutting down
                self.failure = exc
                self._failed.set()
            self._fail_waiting()
            if not self._reported:
                self._reported = True
                if self._on_failure is not None:
                    self._on_failure(self.failure)
        else:
            self._admit_waiting()
        if self._on_batch is not None:
            self._on_batch()

    def _admit_waiting(self) -> None:
        """Let waiting items into the buffer, oldest first, while there is room."""
        while self._waiting and self.pending < self.max_pending:
            envelope, future = self._waiting.popleft()
            self._accept(envelope)
            if not future.done():
                future.set_result(None)

    def _fail_waiting(self) -> None:
        error = DeliveryFailed(f"delivery stopped: {self.failure}")
        while self._waiting:
            _, future = self._waiting.popleft()
            self.undelivered += 1
            if not future.done():
                future.set_exception(error)

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
