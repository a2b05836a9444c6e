"""The batcher against a real Redis: batches, the bounded buffer, order, failure."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import redis

from producer.batcher import Batcher, DeliveryFailed
from streamlib import StreamProducer, client_from_url, decode
from streamlib.testing import LocalRedis
from tests.support.helpers import quote


def numbers(client: redis.Redis, stream: str) -> list[int]:
    return [decode(fields).data["n"] for _, fields in client.xrange(stream)]


def test_full_batches_go_at_once_and_the_rest_after_the_delay(client: redis.Redis) -> None:
    stream = f"b-{uuid.uuid4().hex[:8]}"
    producer = StreamProducer(client, stream, batch_size=3)

    async def run() -> list[object]:
        all_sent = asyncio.Event()

        def answered() -> None:
            if producer.sent == 7:
                all_sent.set()

        batcher = Batcher(
            producer, batch_size=3, max_delay=0.05, max_pending=100, on_batch=answered
        )
        accepted = [batcher.submit(quote(n)) for n in range(7)]
        # No drain: the last item must go out on its own once its delay ran out.
        await asyncio.wait_for(all_sent.wait(), timeout=30)
        pending = batcher.pending
        await batcher.drain()
        batcher.close()
        return [*accepted, pending, batcher.undelivered]

    # Every submit returned at once (no per-item wait); nothing left pending.
    assert asyncio.run(run()) == [None] * 7 + [0, 0]
    assert (producer.sent, producer.batches) == (7, 3)  # two full batches, then the last item
    assert numbers(client, stream) == list(range(7))  # submission order kept


def test_a_full_buffer_makes_items_wait_in_order_until_a_batch_is_answered(
    client: redis.Redis,
) -> None:
    stream = f"b-{uuid.uuid4().hex[:8]}"
    producer = StreamProducer(client, stream, batch_size=2)

    async def item(batcher: Batcher, n: int, log: list[tuple[int, int]]) -> None:
        room = batcher.submit(quote(n))
        if room is not None:
            await room
            # Let in only once some batch was answered, and never past the bound.
            log.append((producer.batches, batcher.pending))

    async def run() -> tuple[Batcher, list[tuple[int, int]]]:
        batcher = Batcher(producer, batch_size=2, max_delay=10, max_pending=4)
        log: list[tuple[int, int]] = []
        first = [batcher.submit(quote(n)) for n in range(4)]
        assert first == [None] * 4
        assert batcher.pending == 4
        fifth = batcher.submit(quote(4))
        assert fifth is not None and not fifth.done()  # the buffer is full
        await fifth
        assert producer.batches >= 1
        await asyncio.gather(*(item(batcher, n, log) for n in range(5, 40)))
        await batcher.drain()
        batcher.close()
        return batcher, log

    batcher, log = asyncio.run(run())
    assert log and all(batches >= 1 and pending <= 4 for batches, pending in log)
    assert batcher.waits >= len(log) + 1
    assert (producer.sent, batcher.undelivered, batcher.pending) == (40, 0, 0)
    assert numbers(client, stream) == list(range(40))  # the waiting ones kept their turn


def test_once_redis_stays_down_every_item_is_counted_undelivered(
    redis_factory: Callable[..., LocalRedis],
) -> None:
    server = redis_factory()
    server.kill()
    producer = StreamProducer(client_from_url(server.url), "s", batch_size=4, retry_timeout=0.3)
    failures: list[BaseException] = []

    async def run() -> Batcher:
        batcher = Batcher(
            producer, batch_size=4, max_delay=0.05, max_pending=8, on_failure=failures.append
        )
        waiting = []
        for n in range(10):  # 8 accepted, 2 waiting for room
            room = batcher.submit(quote(n))
            if room is not None:
                waiting.append(room)
        assert len(waiting) == 2
        results = await asyncio.gather(*waiting, return_exceptions=True)
        assert all(isinstance(r, DeliveryFailed) for r in results)
        await batcher.drain()
        try:
            batcher.submit(quote(10))
        except DeliveryFailed:
            pass
        else:
            raise AssertionError("a submit after the failure was accepted")
        batcher.close()
        return batcher

    batcher = asyncio.run(run())
    assert batcher.failed
    assert len(failures) == 1  # the pipeline is told once
    assert (batcher.undelivered, producer.sent, batcher.pending) == (11, 0, 0)
