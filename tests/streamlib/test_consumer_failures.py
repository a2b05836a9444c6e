"""GroupConsumer's two kinds of failure, against a real Redis: outages and poison records.

An outage (the handler raises ``OutageError``) holds the batch: its lease is
kept, nothing new is read, no delivery is counted, nothing is dead-lettered,
and the batch is retried until the handler succeeds. A poison record (the
handler raises ``RecordError``) is isolated by splitting the batch; only it
is dead-lettered. The handlers here are plain functions standing in for a
sink (the real sinks are in ``tests/consumer/test_sink_failures.py``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence

import pytest
import redis

from streamlib import (
    BatchResult,
    GroupConsumer,
    Message,
    OutageError,
    RecordError,
    StreamProducer,
    StreamSettings,
    client_from_url,
    parse_dead_letter,
)
from streamlib.outage import Outages
from streamlib.testing import LocalRedis
from tests.support.helpers import quote, wait_for


def fill(client: redis.Redis, settings: StreamSettings, n: int, start: int = 0) -> list[str]:
    """XADD quotes ``start`` .. ``start + n - 1``; their entry ids."""
    return StreamProducer(client, settings.stream).send_many(
        quote(i) for i in range(start, start + n)
    )


def deliveries(client: redis.Redis, settings: StreamSettings) -> dict[str, int]:
    """Entry id -> delivery count of every pending entry."""
    rows = client.xpending_range(settings.stream, settings.group, "-", "+", 100_000)
    return {r["message_id"].decode(): r["times_delivered"] for r in rows}


class Weather:
    """A handler whose sink is down until ``clear()``; it stores (remembers) keys."""

    def __init__(self) -> None:
        self.stored: Counter[str] = Counter()
        self.attempts = 0
        self.up = threading.Event()

    def __call__(self, batch: Sequence[Message]) -> None:
        self.attempts += 1
        if not self.up.is_set():
            raise OutageError("connection refused (test sink)")
        self.stored.update(m.envelope.key for m in batch)

    def clear(self) -> None:
        self.up.set()


def outage_for(consumer: GroupConsumer, seconds: float) -> bool:
    status = consumer.outages.status()
    return status is not None and status.seconds >= seconds


def test_an_outage_holds_the_batch_without_counting_deliveries_or_reading_on(
    client: redis.Redis,
    settings: StreamSettings,
    in_thread: Callable[[GroupConsumer], threading.Thread],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="streamlib")
    ours = settings.replace(batch_size=20, min_idle_ms=300, max_deliveries=2)
    fill(client, ours, 100)
    sink = Weather()
    consumer = GroupConsumer(client, ours, sink)
    other = GroupConsumer(client, ours.replace(consumer="other"), sink)  # would reclaim
    in_thread(consumer)
    wait_for(lambda: outage_for(consumer, 0), timeout=30, what="the outage to be noticed")
    in_thread(other)
    # Far longer than max_deliveries x min-idle: without the hold, the batch
    # would be reclaimed and counted, again and again, into the dead letters.
    limit = ours.max_deliveries * ours.min_idle_ms / 1000
    wait_for(lambda: outage_for(consumer, 4 * limit), timeout=60, what="a long outage")
    wait_for(lambda: outage_for(other, 4 * limit), timeout=60, what="the other to hold too")

    held = deliveries(client, ours)
    assert len(held) == 2 * ours.batch_size  # one batch each, nothing more read
    assert set(held.values()) == {1}
    assert consumer.stats.read + other.stats.read == 2 * ours.batch_size
    assert consumer.stats.reclaimed + other.stats.reclaimed == 0
    assert client.xlen(ours.dead_letters) == 0
    status = consumer.outages.status()
    assert status is not None and status.component == "sink" and status.held == 20
    assert "connection refused" in status.reason
    assert sink.attempts > 4  # retried with backoff meanwhile

    sink.clear()
    wait_for(
        lambda: client.xinfo_groups(ours.stream)[0]["lag"] == 0 and not deliveries(client, ours),
        timeout=60,
        what="the drain after the outage",
    )
    assert sink.stored == Counter({quote(n).key: 1 for n in range(100)})
    assert client.xlen(ours.dead_letters) == 0
    assert consumer.outages.current is None and consumer.outages.count["sink"] == 1
    assert consumer.outages.seconds_total("sink") >= 4 * limit
    assert consumer.stats.redelivered + other.stats.redelivered == 0
    # Logged once per change, not per retry.
    messages = [r.getMessage() for r in caplog.records if r.name == "streamlib.outage"]
    assert sum("sink down" in m for m in messages) == 2  # one per consumer
    assert sum("sink back" in m for m in messages) == 2


def test_stop_during_an_outage_returns_promptly_leaving_the_batch_pending(
    client: redis.Redis,
    settings: StreamSettings,
) -> None:
    ids = fill(client, settings, 10)
    consumer = GroupConsumer(client, settings, Weather())
    thread = threading.Thread(target=consumer.run)
    thread.start()
    wait_for(lambda: outage_for(consumer, 1.0), timeout=30, what="an outage")
    consumer.stop()
    thread.join(timeout=10)  # one backoff slice at most: the stop wakes it
    assert not thread.is_alive()
    assert deliveries(client, settings) == dict.fromkeys(ids, 1)
    assert consumer.stats.acked == 0 and client.xlen(settings.dead_letters) == 0


def test_max_outage_gives_up_leaving_the_batch_pending(
    client: redis.Redis, settings: StreamSettings
) -> None:
    ids = fill(client, settings, 10)
    consumer = GroupConsumer(client, settings.replace(max_outage=1.0), Weather())
    started = time.monotonic()
    with pytest.raises(OutageError, match=r"longer than max_outage \(1s\); 10 entries left"):
        consumer.run()
    assert time.monotonic() - started >= 1.0
    assert deliveries(client, settings) == dict.fromkeys(ids, 1)
    assert client.xlen(settings.dead_letters) == 0


def test_max_outage_covers_redis_too(
    redis_factory: Callable[..., LocalRedis], settings: StreamSettings
) -> None:
    server = redis_factory()
    client = client_from_url(server.url, socket_connect_timeout=1.0)
    consumer = GroupConsumer(
        client, settings.replace(redis_url=server.url, max_outage=1.0), Weather()
    )
    server.kill()
    with pytest.raises(OutageError, match=r"^redis: down for"):
        consumer.run()
    assert consumer.outages.count["redis"] == 1


class Picky:
    """A handler whose "database" refuses some keys, the whole batch at once."""

    def __init__(self, refused: set[str], *, outage_on_call: int | None = None) -> None:
        self.refused = refused
        self.calls = 0
        self.stored: Counter[str] = Counter()
        self.outage_on_call = outage_on_call

    def __call__(self, batch: Sequence[Message]) -> BatchResult | None:
        self.calls += 1
        if self.calls == self.outage_on_call:
            raise OutageError("the database restarted mid-split")
        bad = [m.envelope.key for m in batch if m.envelope.key in self.refused]
        if bad:
            raise RecordError(f"check constraint violated by {bad[0]}")
        self.stored.update(m.envelope.key for m in batch)
        return None


@pytest.mark.parametrize(
    ("offenders", "outage_on_call"),
    [((321,), None), ((0, 250, 499), None), ((137,), 4), (tuple(range(500)), None)],
    ids=["one", "three", "outage-mid-split", "all"],
)
def test_a_refused_record_is_isolated_and_dead_lettered_alone(
    client: redis.Redis,
    settings: StreamSettings,
    offenders: tuple[int, ...],
    outage_on_call: int | None,
) -> None:
    ours = settings.replace(batch_size=500)
    ids = fill(client, ours, 500)
    refused = {quote(n).key for n in offenders}
    handler = Picky(refused, outage_on_call=outage_on_call)
    consumer = GroupConsumer(client, ours, handler)
    consumer.run(burst=True)

    dead = [parse_dead_letter(i, f) for i, f in client.xrange(ours.dead_letters)]
    assert sorted(d.orig_id for d in dead) == sorted(ids[n] for n in offenders)
    for d in dead:
        assert d.reason == f"check constraint violated by {d.fields[b'key'].decode()}"
        assert d.deliveries == 1
    assert handler.stored == Counter({quote(n).key: 1 for n in range(500) if n not in offenders})
    assert deliveries(client, ours) == {}
    assert consumer.stats.dead_lettered == len(offenders)
    assert consumer.stats.handled == 500 - len(offenders)
    if len(offenders) == 1:
        # Bisection: two tries per level, log2(500) levels, and the first call.
        assert handler.calls <= 1 + 2 * math.ceil(math.log2(500)) + (outage_on_call is not None)


def test_a_split_batch_keeps_what_the_handler_rejected_itself(
    client: redis.Redis, settings: StreamSettings
) -> None:
    ids = fill(client, settings, 8)
    refused_key = quote(5).key

    def handler(batch: Sequence[Message]) -> BatchResult:
        if any(m.envelope.key == refused_key for m in batch):
            raise RecordError("too long")
        return BatchResult(rejected={m.id: "invalid" for m in batch if m.id == ids[2]})

    GroupConsumer(client, settings, handler).run(burst=True)
    letters = [parse_dead_letter(i, f) for i, f in client.xrange(settings.dead_letters)]
    dead = {d.orig_id: d.reason for d in letters}
    assert dead == {ids[2]: "invalid", ids[5]: "too long"}
    assert deliveries(client, settings) == {}


def test_outages_log_once_per_change_and_remind_each_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="streamlib.outage")
    now = [100.0]
    outages = Outages("c1", clock=lambda: now[0], wall_clock=lambda: 1_700_000_000.0)
    for _ in range(50):  # retries within the first minute: one line
        outages.down("sink", "refused", 500)
        now[0] += 1.0
    now[0] += 11.0  # 61 s in
    assert outages.down("sink", "refused", 500) == pytest.approx(61.0)
    outages.down("sink", "refused", 500)
    status = outages.status()
    assert status is not None
    assert (status.component, status.held, status.since) == ("sink", 500, 1_700_000_000.0)
    outages.down("redis", "connection reset", 500)  # another component: a change
    now[0] += 4.0
    outages.up()
    outages.up()  # nothing down: nothing to say
    lines = [r.getMessage() for r in caplog.records]
    assert [line.split(" (")[0].split(";")[0] for line in lines] == [
        "sink down",
        "sink still down after 61s",
        "redis down",
        "redis back after 4.0s",
    ]
    assert outages.status() is None
    assert outages.seconds_total("sink") == pytest.approx(61.0)
    assert outages.seconds_total("redis") == pytest.approx(4.0)
    assert outages.count == {"sink": 1, "redis": 1}
