"""A stream of P partitions on one node: names, routing, the producer and the replica.

P = 1 (the plain stream) and P > 1 go through the same classes; the same
layer on a real three-master cluster, with a node restart, is in
``tests/cluster/``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import pytest
import redis
from redis.crc import key_slot

from streamlib import (
    BatchResult,
    ConfigError,
    GroupConsumer,
    Handler,
    Message,
    PartitionedConsumer,
    PartitionedProducer,
    ProducerUnavailable,
    StreamSettings,
    partition_of,
    partition_stream,
)
from streamlib.connection import ConnectionOptions, client_from_url, connect
from streamlib.errors import RedisUnavailable
from streamlib.partitions import partition_dead_letters, partition_settings
from streamlib.replica import sum_stats
from streamlib.testing import free_port
from tests.support.helpers import quote

SECRET = "s3cr3t-Pa55"


def test_one_partition_keeps_todays_names() -> None:
    s = StreamSettings(stream="quotes")
    assert s.partitions == 1
    assert partition_stream("quotes", 0, 1) == "quotes"
    assert partition_settings(s, 0) is s
    assert s.dead_letters == "quotes:dead"


def test_partition_names_carry_a_hash_tag_shared_with_their_dead_letters() -> None:
    names = [partition_stream("quotes", i, 6) for i in range(6)]
    assert names == [f"{{quotes:{i}}}" for i in range(6)]
    for i, name in enumerate(names):
        dead = partition_dead_letters("quotes", i, 6)
        assert dead == name + ":dead"
        assert key_slot(dead.encode()) == key_slot(name.encode())
    assert len({key_slot(n.encode()) for n in names}) == 6
    # Another stream's partitions are tagged apart from these.
    assert key_slot(b"{authors:0}") != key_slot(b"{quotes:0}")


def test_partition_settings_are_a_plain_stream_each() -> None:
    s = StreamSettings(stream="quotes", group="g", partitions=4)
    p3 = partition_settings(s, 3)
    assert (p3.stream, p3.dead_letters, p3.group, p3.partitions) == (
        "{quotes:3}",
        "{quotes:3}:dead",
        "g",
        1,
    )
    with pytest.raises(ConfigError, match="between 0 and 3"):
        partition_settings(s, 4)


@pytest.mark.parametrize(
    ("configured", "partition_3"),
    [
        (None, "{quotes:3}:dead"),
        ("quotes-failed", "{quotes:3}-failed"),
        ("dlq", "{quotes:3}:dlq"),
    ],
)
def test_a_custom_dead_letter_stream_is_named_per_partition_in_its_slot(
    configured: str | None, partition_3: str
) -> None:
    s = StreamSettings(stream="quotes", partitions=4, dead_letter_stream=configured)
    dead = partition_settings(s, 3).dead_letters
    assert dead == partition_3
    assert key_slot(dead.encode()) == key_slot(b"{quotes:3}")
    # One partition: the configured name as it is.
    assert StreamSettings(stream="quotes", dead_letter_stream=configured).dead_letters == (
        configured or "quotes:dead"
    )


def test_routing_is_stable_and_spreads_keys() -> None:
    # Pinned values: a change of the hash would silently re-route every key.
    assert partition_of("abc", 6) == 0x352441C2 % 6
    assert [partition_of(f"key-{n}", 6) for n in range(6)] == [
        partition_of(f"key-{n}", 6) for n in range(6)
    ]
    counts = [0] * 6
    for n in range(6000):
        counts[partition_of(quote(n).key, 6)] += 1
    assert min(counts) > 800, counts
    assert all(partition_of(k, 1) == 0 for k in ("a", "b", ""))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PARTITIONS": "0"}, "partitions must be between 1 and 1024"),
        ({"PARTITIONS": "two"}, "PARTITIONS='two' is not a whole number"),
        ({"PARTITIONS": "2", "STREAM": "a{b}"}, "can't hold"),
    ],
)
def test_bad_partition_settings_are_clear_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        StreamSettings.from_env(env)


def test_from_env_reads_partitions() -> None:
    assert StreamSettings.from_env({"PARTITIONS": "6"}).partitions == 6


def test_producer_routes_by_key_and_returns_ids_in_order(
    client: redis.Redis, settings: StreamSettings
) -> None:
    producer = PartitionedProducer(client, settings.stream, 4, batch_size=7)
    envelopes = [quote(n) for n in range(100)] + [quote(3)]  # a key twice
    ids = producer.send_many(envelopes)
    assert len(ids) == 101 and all(ids)
    assert (producer.sent, producer.batches) == (101, sum(p.batches for p in producer.producers))
    for i in range(4):
        stream = partition_stream(settings.stream, i, 4)
        rows = client.xrange(stream)
        keys = [fields[b"key"].decode() for _, fields in rows]
        expected = [e.key for e in envelopes if partition_of(e.key, 4) == i]
        assert keys == expected  # per-partition order = send order
        assert [r[0].decode() for r in rows] == [
            ids[n] for n, e in enumerate(envelopes) if partition_of(e.key, 4) == i
        ]
    assert client.xlen(partition_stream(settings.stream, partition_of(quote(3).key, 4), 4)) >= 2
    assert producer.send(quote(500))


def test_one_partition_producer_writes_the_plain_stream(
    client: redis.Redis, settings: StreamSettings
) -> None:
    producer = PartitionedProducer(client, settings.stream, batch_size=7)  # P = 1 by default
    ids = producer.send_many(quote(n) for n in range(20))
    assert [i.decode() for i, _ in client.xrange(settings.stream)] == ids
    assert (producer.sent, producer.batches) == (20, 3)
    assert not client.exists(partition_stream(settings.stream, 0, 2))


def test_an_unreachable_partition_counts_what_the_call_did_not_deliver(
    client: redis.Redis, settings: StreamSettings
) -> None:
    """Partitions are sent in order: those before the failing one are in, the rest are not."""
    producer = PartitionedProducer(client, settings.stream, 3)
    envelopes = [quote(n) for n in range(60)]
    per_partition = [sum(1 for e in envelopes if partition_of(e.key, 3) == i) for i in range(3)]
    nobody = redis.Redis(port=free_port(), socket_connect_timeout=1)
    producer.producers[1] = PartitionedProducer(nobody, settings.stream, 3).producers[1]
    try:
        with pytest.raises(ProducerUnavailable, match="partition 1") as info:
            producer.send_many(envelopes)  # partition 1's node does not answer
    finally:
        nobody.close()
    assert info.value.undelivered == per_partition[1] + per_partition[2]
    assert client.xlen(partition_stream(settings.stream, 0, 3)) == per_partition[0]


class Recorder:
    """A handler that records keys and threads, and checks it is never called concurrently."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.threads: set[str] = set()
        self.inside = threading.Lock()
        self.overlaps = 0

    def __call__(self, batch: Sequence[Message]) -> BatchResult | None:
        if not self.inside.acquire(blocking=False):
            self.overlaps += 1
            self.inside.acquire()
        try:
            self.keys.extend(m.envelope.key for m in batch)
            self.threads.add(threading.current_thread().name)
            bad = {m.id: "rejected for the test" for m in batch if m.envelope.data["n"] == 7}
            return BatchResult(rejected=bad) if bad else None
        finally:
            self.inside.release()


@pytest.mark.parametrize("partitions", [1, 5])
def test_a_replica_drains_every_partition_once(
    client: redis.Redis, settings: StreamSettings, partitions: int
) -> None:
    s = settings.replace(partitions=partitions)
    PartitionedProducer(client, s.stream, partitions).send_many(quote(n) for n in range(300))
    recorder = Recorder()
    consumer = PartitionedConsumer(s, recorder)
    try:
        stats = consumer.run(burst=True)
    finally:
        consumer.close()
    assert sorted(recorder.keys) == sorted(quote(n).key for n in range(300))
    assert recorder.overlaps == 0
    assert (stats.read, stats.acked, stats.dead_lettered) == (300, 299, 1)
    assert [c.settings.stream for c in consumer.consumers] == [
        partition_stream(s.stream, i, partitions) for i in range(partitions)
    ]
    dead_partition = partition_of(quote(7).key, partitions)
    for i in range(partitions):
        ps = partition_settings(s, i)
        assert client.xpending(ps.stream, ps.group)["pending"] == 0
        assert client.xlen(ps.dead_letters) == (1 if i == dead_partition else 0)


def test_one_partition_runs_in_the_calling_thread_on_the_plain_stream(
    client: redis.Redis, settings: StreamSettings
) -> None:
    PartitionedProducer(client, settings.stream).send_many(quote(n) for n in range(10))
    recorder = Recorder()
    consumer = PartitionedConsumer(settings, recorder, client_factory=lambda: client)
    stats = consumer.run(burst=True)
    assert recorder.threads == {threading.current_thread().name}  # no hand-over to a thread
    assert consumer.consumers[0].handler is recorder  # called directly, no lock around it
    assert (stats.acked, stats.dead_lettered) == (9, 1)
    assert client.xlen(f"{settings.stream}:dead") == 1  # today's names


@pytest.mark.parametrize("partitions", [1, 3])
def test_a_failing_partition_stops_all_and_raises(
    client: redis.Redis, settings: StreamSettings, partitions: int
) -> None:
    s = settings.replace(partitions=partitions)
    bad = partition_stream(s.stream, partitions - 1, partitions)
    client.set(bad, b"not a stream")  # WRONGTYPE for the last partition
    consumer = PartitionedConsumer(s, Recorder())
    try:
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            consumer.run()
    finally:
        consumer.close()
    assert consumer.stopping
    assert all(c.stopping for c in consumer.consumers)


@pytest.mark.parametrize("partitions", [1, 3])
def test_stop_from_another_thread_stops_every_partition(
    client: redis.Redis, settings: StreamSettings, partitions: int
) -> None:
    consumer = PartitionedConsumer(settings.replace(partitions=partitions), Recorder())
    timer = threading.Timer(0.5, consumer.stop)
    timer.start()
    try:
        consumer.run()
    finally:
        consumer.close()
        timer.cancel()
    assert all(c.stopping for c in consumer.consumers)


def test_wrap_handler_wraps_each_partition_inside_the_lock(
    client: redis.Redis, settings: StreamSettings
) -> None:
    s = settings.replace(partitions=4)
    PartitionedProducer(client, s.stream, 4).send_many(quote(n) for n in range(200))
    recorder = Recorder()
    consumer = PartitionedConsumer(s, recorder)
    seen: dict[str, int] = {}
    layers: list[str] = []

    def wrap(name: str) -> Callable[[StreamSettings, Handler], Handler]:
        def wrapper(part: StreamSettings, handler: Handler) -> Handler:
            def counted(batch: Sequence[Message]) -> BatchResult | None:
                if name == "outer":
                    seen[part.stream] = seen.get(part.stream, 0) + len(batch)
                layers.append(name)
                return handler(batch)

            return counted

        return wrapper

    consumer.wrap_handler(wrap("inner"))
    consumer.wrap_handler(wrap("outer"))  # wrappers compose
    try:
        consumer.run(burst=True)
    finally:
        consumer.close()
    assert seen == {
        partition_stream(s.stream, i, 4): sum(
            1 for n in range(200) if partition_of(quote(n).key, 4) == i
        )
        for i in range(4)
    }
    assert layers[:2] == ["outer", "inner"]
    assert recorder.overlaps == 0 and len(recorder.keys) == 200


def test_a_group_consumer_reads_one_stream_only(
    client: redis.Redis, settings: StreamSettings
) -> None:
    with pytest.raises(ConfigError, match="use PartitionedConsumer"):
        GroupConsumer(client, settings.replace(partitions=2), Recorder())


def test_sum_stats_adds_counters_and_keeps_the_oldest_progress() -> None:
    a, b = sum_stats([]), sum_stats([])
    a.acked, b.acked, a.last_progress, b.last_progress = 2, 3, 10.0, 5.0
    total = sum_stats([a, b])
    assert (total.acked, total.last_progress) == (5, 5.0)


def test_cluster_urls_are_validated_and_clients_made_lazily() -> None:
    with pytest.raises(ConfigError, match="only database 0"):
        client_from_url("redis+cluster://127.0.0.1:7000/2")
    with pytest.raises(ConfigError, match="TLS files need a rediss:// URL"):
        client_from_url(
            "redis+cluster://127.0.0.1:7000", ConnectionOptions(tls_ca_file="/etc/hostname")
        )
    port = free_port()  # nothing listens there: made without talking to it
    c = client_from_url(f"redis+cluster://user:{SECRET}@127.0.0.1:{port}")
    assert SECRET not in repr(c) and "***" in repr(c)
    with pytest.raises(redis.ConnectionError):
        c.ping()
    c.close()
    with pytest.raises(RedisUnavailable, match="did not answer"):
        connect(f"redis+cluster://127.0.0.1:{port}", timeout=0.5)


def test_consumers_are_made_without_talking_to_a_cluster_that_is_down() -> None:
    """A replica started while the cluster's seed node is down waits for it (``ping_until``)
    instead of crashing: making the consumers (their leases too) talks to nobody."""
    url = f"redis+cluster://127.0.0.1:{free_port()}"  # nothing listens there
    consumer = PartitionedConsumer(StreamSettings(redis_url=url, partitions=3), Recorder())
    try:
        with pytest.raises(redis.ConnectionError):
            consumer.consumers[0].client.ping()
    finally:
        consumer.close()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"STREAM_PARTITIONS": "0"}, "between 1 and 1024"),
        ({"STREAM_PARTITIONS": "x"}, "is not a whole number"),
    ],
)
def test_scrapy_partition_settings_are_validated(values: dict[str, str], message: str) -> None:
    from scrapy.settings import Settings

    from producer.config import StreamConfig

    base = {
        "STREAM_REDIS_URL": "redis+cluster://127.0.0.1:7000",
        "STREAM_NAME": "quotes",
        "STREAM_BATCH_SIZE": 10,
        "STREAM_MAX_DELAY": 1,
        "STREAM_RETRY_TIMEOUT": 1,
        "STREAM_BACKPRESSURE_HIGH": 10,
        "STREAM_BACKPRESSURE_LOW": 5,
        "STREAM_BACKPRESSURE_INTERVAL": 1,
    }
    assert StreamConfig.from_settings(Settings(base)).partitions == 1
    with pytest.raises(ConfigError, match=message):
        StreamConfig.from_settings(Settings({**base, **values}))
