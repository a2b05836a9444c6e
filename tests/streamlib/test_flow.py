"""Flow control: a producer held back while its consumer group lags, against a real Redis.

The lag read (one stream, or summed over partitions), the decision (hold at
high, release at low, never on an unknown lag) and the gate of a producer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import pytest
import redis

from streamlib import (
    ConfigError,
    PartitionedProducer,
    StreamProducer,
    StreamSettings,
    client_from_url,
)
from streamlib.flow import GroupLag, LagGate, LagLimits, Throttle
from streamlib.partitions import partition_stream
from streamlib.testing import LocalRedis
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


def add(client: redis.Redis, stream: str, count: int) -> None:
    for n in range(count):
        client.xadd(stream, {"n": str(n)})


def test_a_throttle_holds_at_high_and_releases_only_at_low(
    client: redis.Redis, settings: StreamSettings
) -> None:
    client.xgroup_create(settings.stream, settings.group, id="0", mkstream=True)
    throttle = Throttle(GroupLag(client, settings.stream, settings.group), LagLimits(10, 4))
    decisions = []
    add(client, settings.stream, 9)
    decisions.append(throttle.check())  # 9: under high
    add(client, settings.stream, 1)
    decisions.append(throttle.check())  # 10: holds
    assert read(client, settings, 3) == 3
    decisions.append(throttle.check())  # 7: still held, above low
    assert read(client, settings, 3) == 3
    decisions.append(throttle.check())  # 4: released
    add(client, settings.stream, 3)
    decisions.append(throttle.check())  # 7: still released, under high
    decisions.append(throttle.check(adding=3))  # 7 + a batch of 3 would reach high
    assert decisions == [False, True, True, False, False, True]
    assert (throttle.lag, throttle.holds, throttle.readings) == (7, 2, 6)


def test_the_lag_is_summed_over_partitions(client: redis.Redis, settings: StreamSettings) -> None:
    names = [partition_stream(settings.stream, i, 3) for i in range(3)]
    for name, count in zip(names, [2, 3, 4], strict=True):
        client.xgroup_create(name, settings.group, id="0", mkstream=True)
        add(client, name, count)
    lag = GroupLag(client, settings.stream, settings.group, partitions=3)
    assert lag.read() == 9
    throttle = Throttle(lag, LagLimits(high=9, low=3))
    assert throttle.check()  # no partition alone lags 9
    client.xreadgroup(settings.group, "c", {names[2]: ">"})
    assert throttle.check() and throttle.lag == 5  # held: 5 is above low
    client.xreadgroup(settings.group, "c", {names[0]: ">"})
    assert not throttle.check() and throttle.lag == 3
    # The plain stream is the one partition: its own lag only.
    assert GroupLag(client, names[1], settings.group).read() == 3


def test_unknown_lag_releases_a_held_producer_and_is_logged_once(
    client: redis.Redis, settings: StreamSettings, caplog: pytest.LogCaptureFixture
) -> None:
    names = [partition_stream(settings.stream, i, 2) for i in range(2)]
    for name in names:
        client.xgroup_create(name, settings.group, id="0", mkstream=True)
        add(client, name, 5)
    throttle = Throttle(GroupLag(client, settings.stream, settings.group, 2), LagLimits(10, 4))
    assert throttle.check()
    client.xgroup_destroy(names[1], settings.group)  # one partition without the group
    with caplog.at_level(logging.WARNING, logger="streamlib.flow"):
        assert not throttle.check() and (throttle.held, throttle.lag) == (False, None)
        assert not throttle.check()
    [warning] = [r.getMessage() for r in caplog.records]
    assert "unknown (no such group yet): not holding the producer back" in warning
    assert f"group 'g' on '{settings.stream}' (2 partitions)" in warning
    # Known again, lag 5: under high, so still released.
    client.xgroup_create(names[1], settings.group, id="$")
    assert not throttle.check() and throttle.lag == 5


def test_a_lag_redis_cant_tell_or_report_holds_nothing(
    client: redis.Redis, settings: StreamSettings, redis_factory: Callable[..., LocalRedis]
) -> None:
    ids = [client.xadd(settings.stream, {"n": str(n)}) for n in range(20)]
    client.xgroup_create(settings.stream, settings.group, id="0")
    client.xdel(settings.stream, ids[5])  # deleted in the middle: Redis can't count the lag
    throttle = Throttle(GroupLag(client, settings.stream, settings.group), LagLimits(10, 4))
    assert not throttle.check() and throttle.lag is None
    assert throttle.source.unknown_because.startswith("Redis can't tell")
    server = redis_factory()
    gone = client_from_url(server.url)
    server.close()  # Redis unreachable
    unreachable = Throttle(GroupLag(gone, settings.stream, settings.group), LagLimits(10, 4))
    assert not unreachable.check() and unreachable.lag is None
    assert unreachable.source.unknown_because.startswith("unreadable: ")


def test_a_lag_the_user_may_not_read_holds_nothing_and_is_logged_once_per_reason(
    redis_factory: Callable[..., LocalRedis], caplog: pytest.LogCaptureFixture
) -> None:
    server = redis_factory()
    admin = client_from_url(server.url)
    admin.xgroup_create("s", "g", id="0", mkstream=True)
    rule = ["resetkeys", "resetchannels", "-@all", "+ping", "+xadd", "~s"]  # no XINFO GROUPS
    admin.execute_command("ACL", "SETUSER", "adder", "reset", "on", ">pw", *rule)
    adder = client_from_url(f"redis://adder:pw@127.0.0.1:{server.port}/0")
    add(adder, "s", 5)
    throttle = Throttle(GroupLag(adder, "s", "g"), LagLimits(high=2, low=1))
    with caplog.at_level(logging.WARNING, logger="streamlib.flow"):
        assert not any(throttle.check() for _ in range(3))  # lag 5, but unknown to this user
        [denied] = [r.getMessage() for r in caplog.records]
        assert throttle.source.unknown_kind == "denied"
        admin.execute_command("ACL", "SETUSER", "adder", "+xinfo|groups")
        assert throttle.check() and throttle.lag == 5  # the right granted: read, and held
        admin.xgroup_destroy("s", "g")
        assert not throttle.check() and not throttle.check()
        admin.execute_command("ACL", "SETUSER", "adder", "-xinfo|groups")
        assert not throttle.check() and throttle.source.unknown_kind == "denied"
    assert "lag of group 'g' on 's' unknown (permission denied: " in denied
    assert "needs +xinfo|groups on the stream" in denied and "not holding" in denied
    # Another reason is said once too; a reason said before is not said again.
    assert [r.getMessage() for r in caplog.records][1:] == [
        "lag of group 'g' on 's' unknown (no such group yet): not holding the producer back"
    ]


def test_a_group_that_read_everything_never_holds_back(
    client: redis.Redis, settings: StreamSettings
) -> None:
    client.xgroup_create(settings.stream, settings.group, id="0", mkstream=True)
    throttle = Throttle(GroupLag(client, settings.stream, settings.group), LagLimits.at_most(100))
    assert (throttle.limits.high, throttle.limits.low) == (101, 100)
    assert not throttle.check(adding=500)  # however big the batch
    add(client, settings.stream, 1)
    assert throttle.check(adding=100)


@pytest.mark.parametrize(("high", "low"), [(5, 5), (5, 6), (5, -1)])
def test_lag_limits_need_low_under_high(high: int, low: int) -> None:
    with pytest.raises(ConfigError, match="0 <= low < high"):
        LagLimits(high, low)
