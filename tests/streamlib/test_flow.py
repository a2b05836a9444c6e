"""Flow control: a producer held back while its consumer group lags, against a real Redis."""

from __future__ import annotations

import threading

import pytest
import redis

from streamlib import ConfigError, PartitionedProducer, StreamProducer, StreamSettings
from streamlib.flow import LagGate
from tests.support.helpers import quote, wait_for


def read(client: redis.Redis, settings: StreamSettings, count: int) -> int:
    """Read ``count`` entries as the group (lowering its lag); returns how many came."""
    reply = client.xreadgroup(settings.group, "c", {settings.stream: ">"}, count=count)
    return len(reply[0][1]) if reply else 0


def test_a_producer_waits_while_the_group_lags_then_goes_on(
    client: redis.Redis, settings: StreamSettings
) -> None:
    client.xgroup_create(settings.stream, settings.group, id="0", mkstream=True)
    producer = StreamProducer(
        client, settings.stream, batch_size=500, group=settings.group, max_lag=1000
    )
    producer.send_many([quote(n) for n in range(1000)])  # lag 1000: exactly full
    assert producer.gate is not None
    more = threading.Thread(
        target=producer.send_many, args=([quote(n) for n in range(1000, 1500)],)
    )
    more.start()
    readings = producer.gate.readings
    wait_for(lambda: producer.gate is not None and producer.gate.readings >= readings + 3)
    assert more.is_alive() and client.xlen(settings.stream) == 1000  # polled, still held back
    assert read(client, settings, 500) == 500  # the group reads a batch: room for one more
    more.join(timeout=30)
    assert not more.is_alive() and client.xlen(settings.stream) == 1500
    assert producer.gate.waits == 1 and producer.sent == 1500


def test_room_left_by_the_last_reading_costs_no_round_trip(
    client: redis.Redis, settings: StreamSettings
) -> None:
    client.xgroup_create(settings.stream, settings.group, id="0", mkstream=True)
    gate = LagGate(client, settings.stream, settings.group, max_lag=2000)
    producer = StreamProducer(client, settings.stream, batch_size=500)
    for _ in range(4):  # one reading (lag 0), then the bound 500 .. 2000 leaves room
        gate.admit(500)
        producer.send_many([quote(n) for n in range(500)])
    assert gate.readings == 1
    assert read(client, settings, 2000) == 2000
    gate.admit(500)  # the bound is full: read again, and the group has caught up
    assert (gate.readings, gate.waits) == (2, 0)


def test_unknown_lag_never_holds_a_producer_back(
    client: redis.Redis, settings: StreamSettings
) -> None:
    # No such group: nobody to pace, every batch goes (a reading per max_lag entries).
    producer = StreamProducer(client, settings.stream, batch_size=100, group="nobody", max_lag=200)
    producer.send_many([quote(n) for n in range(1000)])
    assert client.xlen(settings.stream) == 1000
    assert producer.gate is not None and producer.gate.waits == 0


def test_a_batch_over_max_lag_goes_once_the_group_has_read_everything(
    client: redis.Redis, settings: StreamSettings
) -> None:
    client.xgroup_create(settings.stream, settings.group, id="0", mkstream=True)
    producer = StreamProducer(
        client, settings.stream, batch_size=500, group=settings.group, max_lag=100
    )
    producer.send_many([quote(n) for n in range(500)])  # lag 0 before it
    assert client.xlen(settings.stream) == 500


def test_partitions_each_get_their_gate(client: redis.Redis, settings: StreamSettings) -> None:
    producer = PartitionedProducer(client, settings.stream, 3, group=settings.group, max_lag=50)
    assert [p.gate.max_lag if p.gate else None for p in producer.producers] == [50, 50, 50]
    assert StreamProducer(client, settings.stream).gate is None  # no group named: off


def test_max_lag_must_be_positive(client: redis.Redis) -> None:
    with pytest.raises(ConfigError, match="max_lag must be >= 1, got 0"):
        StreamProducer(client, "s", group="g", max_lag=0)
