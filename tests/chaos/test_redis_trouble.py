"""Redis away and slow handlers: waiting, resuming, and never storing twice for nothing.

- A producer and a consumer started while Redis is down wait with backoff,
  say so in their logs, and go on once it is up.
- Redis SIGKILLed in the middle of a batch (stored, not yet acknowledged)
  loses nothing: the consumer holds the batch until Redis is back on its
  AOF, then acknowledges it (no second delivery).
- A handler slower than min-idle keeps its batch (the lease is renewed),
  so another replica neither steals it nor pushes it to the dead letters;
  a stuck consumer's renewals never take back what was reclaimed from it.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import redis

from streamlib import GroupConsumer, Message, StreamProducer, StreamSettings, client_from_url
from streamlib.lease import Lease
from streamlib.testing import LocalRedis, free_port
from tests.support.helpers import quote, wait_for
from tests.support.replicas import Replica, consumer_command, drained, fill, sqlite_count

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(240)
def test_producer_and_consumer_started_while_redis_is_down_wait_then_proceed(
    redis_factory: Callable[..., LocalRedis], tmp_path: Path
) -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    db = tmp_path / "q.db"
    consumer = Replica(
        consumer_command(
            redis_url=url,
            stream="quotes",
            group="g",
            sink=f"sqlite:///{db}",
            name="early",
            extra=["--block-ms", "100", "--progress-interval", "0"],
        ),
        tmp_path / "consumer.log",
        None,
    )
    producer_log = tmp_path / "producer.log"
    command = [sys.executable, "-m", "tests.support.producer_proc", url, "quotes", "2000", "1e6"]
    with producer_log.open("wb") as log:
        producer = subprocess.Popen(
            [*command, str(tmp_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    try:
        for what, read in (("consumer", consumer.log), ("producer", producer_log.read_text)):
            wait_for(
                lambda read=read: read().count("unreachable") >= 2,  # type: ignore[misc]
                timeout=60,
                what=f"the {what} to log two retries",
            )
        assert consumer.process.poll() is None and producer.poll() is None  # waiting
        server = redis_factory(port=port)
        client = client_from_url(server.url)
        assert producer.wait(120) == 0, producer_log.read_text()
        wait_for(lambda: drained(client, "quotes", "g", 2000), timeout=120, what="the drain")
        assert sqlite_count(db) == 2000
        consumer.terminate()
        assert consumer.wait(60) == 0, consumer.log()
    finally:
        consumer.kill()
        if producer.poll() is None:
            producer.kill()
        producer.wait()
    assert "retrying in" in producer_log.read_text()


def test_redis_killed_mid_batch_loses_nothing(
    redis_factory: Callable[..., LocalRedis], tmp_path: Path
) -> None:
    server = redis_factory(persistent=True)
    client = client_from_url(server.url, socket_connect_timeout=1.0)
    fill(client, "s", 50)
    seen: Counter[str] = Counter()
    crashed = threading.Event()
    restart = threading.Timer(0.5, server.start)  # back on its AOF, a moment later

    def handler(batch: Sequence[Message]) -> None:
        seen.update(m.envelope.key for m in batch)  # "stored"...
        if not crashed.is_set():  # ...and Redis dies before the acknowledgement
            crashed.set()
            server.kill()
            restart.start()

    settings = StreamSettings(
        redis_url=server.url, stream="s", group="g", consumer="c", batch_size=20, block_ms=50
    )
    consumer = GroupConsumer(client, settings, handler)

    def done() -> bool:
        consumer.run(burst=True)
        return drained(client, "s", "g", 50)

    try:
        wait_for(done, timeout=60, what="the consumer to drain after the restart")
    finally:
        # The consumer can be served before start() has seen its own PING: let start()
        # finish here (a failed drain too), or the teardown's kill lands in the middle
        # of it and the thread's exception surfaces in another test.
        if crashed.is_set():  # the handler (this thread) started the timer
            restart.join(30)
    assert not restart.is_alive() and server.running
    # The stored batch was held until Redis answered, then acknowledged: not
    # read again, no delivery counted.
    assert seen == dict.fromkeys((quote(n).key for n in range(50)), 1)
    assert consumer.stats.redelivered == 0 and consumer.stats.redis_errors >= 1
    assert consumer.outages.count["redis"] == 1 and consumer.outages.current is None
    assert client.xlen(settings.dead_letters) == 0


def test_a_handler_slower_than_min_idle_keeps_its_batch(
    client: redis.Redis, settings: StreamSettings
) -> None:
    # Renewed every 500 ms against a 1.5 s min-idle: a whole second of slack for a
    # busy machine (with 200 ms against 600 ms, a 400 ms stall of the lease thread
    # on a loaded CI machine would let the other replica take the batch).
    ours = settings.replace(min_idle_ms=1_500, batch_size=10, max_deliveries=2)
    StreamProducer(client, ours.stream).send_many(quote(n) for n in range(40))
    handled: list[tuple[str, str]] = []
    lock = threading.Lock()

    def slow(name: str) -> Callable[[Sequence[Message]], None]:
        def handle(batch: Sequence[Message]) -> None:
            time.sleep(3.0)  # the slow sink under test: twice min-idle per batch
            with lock:
                handled.extend((name, m.envelope.key) for m in batch)

        return handle

    consumers = [
        GroupConsumer(client, ours.replace(consumer=name), slow(name)) for name in ("a", "b")
    ]
    threads = [threading.Thread(target=c.run) for c in consumers]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: drained(client, ours.stream, ours.group, 40), timeout=60, what="drain")
    finally:
        for c in consumers:
            c.stop()
        for thread in threads:
            thread.join(60)
    keys = Counter(key for _, key in handled)
    assert set(keys) == {quote(n).key for n in range(40)}
    assert max(keys.values()) == 1, "a slow replica's batch was handled twice"
    assert sum(c.stats.reclaimed for c in consumers) == 0
    assert sum(c.stats.redelivered for c in consumers) == 0
    assert client.xlen(ours.dead_letters) == 0


def test_a_stuck_consumers_lease_never_takes_back_what_was_reclaimed(
    client: redis.Redis, settings: StreamSettings
) -> None:
    ids = StreamProducer(client, settings.stream).send_many(quote(n) for n in range(5))
    client.xgroup_create(settings.stream, settings.group, id="0")
    client.xreadgroup(settings.group, "stuck", {settings.stream: ">"})
    # The stuck consumer's entries go to a rescuer (as XAUTOCLAIM would, after min-idle).
    client.xclaim(settings.stream, settings.group, "rescuer", 0, ids[:3])
    lease = Lease(client, settings.stream, settings.group, "stuck", interval=0.05)
    with lease.hold(ids):
        wait_for(lambda: lease.renewals >= 2, timeout=30, what="two renewals")
    lease.close()
    owners = {
        row["message_id"].decode(): row["consumer"].decode()
        for row in client.xpending_range(settings.stream, settings.group, "-", "+", 10)
    }
    assert owners == {i: "rescuer" for i in ids[:3]} | {i: "stuck" for i in ids[3:]}
    counts = {
        row["message_id"].decode(): row["times_delivered"]
        for row in client.xpending_range(settings.stream, settings.group, "-", "+", 10)
    }
    assert counts == dict.fromkeys(ids, 1) | dict.fromkeys(ids[:3], 2)  # JUSTID: no delivery


def test_stop_in_a_slow_batch_acks_it_and_ends_the_lease(
    client: redis.Redis, settings: StreamSettings
) -> None:
    """A replica in a slow batch still stops gracefully: the lease ends with the batch."""
    fill(client, settings.stream, 5)
    gate = threading.Event()

    def handler(batch: Sequence[Message]) -> None:
        gate.set()
        time.sleep(0.8)

    consumer = GroupConsumer(client, settings.replace(min_idle_ms=150), handler)
    thread = threading.Thread(target=consumer.run)
    thread.start()
    wait_for(gate.is_set, timeout=30, what="the batch in hand")
    consumer.stop()
    thread.join(30)
    assert not thread.is_alive()
    assert client.xpending(settings.stream, settings.group)["pending"] == 0
