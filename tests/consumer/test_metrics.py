"""``/metrics`` and ``/healthz`` of a running replica, over real HTTP, for one and four
partitions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis

from streamlib import Envelope, PartitionedProducer, partition_stream
from streamlib.testing import free_port
from tests.support.replicas import (
    Replica,
    consumer_command,
    fill,
    get,
    health_state,
    healthz,
    samples,
    sqlite_rows,
    stalled,
)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("partitions", [1, 4])
def test_metrics_and_health_over_http(redis_factory, tmp_path: Path, partitions: int) -> None:
    server = redis_factory()
    client = redis.Redis(port=server.port)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    db = tmp_path / "q.db"
    replica = Replica(
        consumer_command(
            redis_url=server.url,
            stream="q",
            group="g",
            sink=f"sqlite:///{db}",
            name="m",
            extra=[
                "--metrics-port",
                str(port),
                "--metrics-host",
                "127.0.0.1",
                "--block-ms",
                "100",
                "--health-timeout",
                "3",
                "--batch-size",
                "50",
                "--partitions",
                str(partitions),
            ],
        ),
        tmp_path / "m.log",
        None,
    )
    try:
        replica.expect(lambda: get(base + "/healthz")[0] == 200, timeout=60, what="healthy")
        fill(client, "q", 300, partitions=partitions)
        PartitionedProducer(client, "q", partitions).send_many(
            [
                Envelope(type="author", key="nameless", data={}),
                Envelope(type="quote", key="bad", data={"text": "no author"}),
            ]
        )
        streams = [partition_stream("q", i, partitions) for i in range(partitions)]
        expected = {
            "streamlib_consumer_read_total": 302,
            "streamlib_consumer_handled_total": 300,
            "streamlib_consumer_acked_total": 300,
            "streamlib_consumer_dead_lettered_total": 2,
            "streamlib_consumer_reclaimed_total": 0,
            "streamlib_consumer_errors_total{kind=handler}": 0,
            "streamlib_consumer_end_to_end_seconds_count": 300,
            "streamlib_group_pending": 0,
            "streamlib_group_lag": 0,
        }

        def numbers_match() -> bool:
            got = samples(base, "g", streams)
            return all(got.get(k) == v for k, v in expected.items())

        replica.expect(numbers_match, timeout=60, what=f"metrics {expected}")
        got = samples(base, "g", streams)
        assert got["streamlib_consumer_handle_seconds_count"] >= 300 / 50
        assert got["streamlib_consumer_handle_seconds_sum"] > 0
        assert sqlite_rows(db, "SELECT count(*) FROM quotes") == [(300,)]
        status, body = get(base + "/healthz")
        assert status == 200 and json.loads(body)["status"] == "ok"
        assert get(base + "/nope")[0] == 404

        # Redis gone: 503, an outage of Redis for every partition, and after the
        # timeout without a successful read, every partition stalled too.
        server.kill()
        replica.expect(
            lambda: healthz(base),
            until=lambda answer: stalled(answer) == streams,
            changes=health_state,
            timeout=60,
            what="all stalled",
        )
        body = json.loads(get(base + "/healthz")[1])
        assert (body["status"], body["down"]) == ("outage", "redis"), body
        assert body["outage_partitions"] == sorted(streams) and body["held"] == 0, body
        assert samples(base, "g", streams)["streamlib_consumer_redis_up"] == 0
        assert samples(base, "g", streams)["streamlib_consumer_errors_total{kind=redis}"] >= 1
        server.start()  # same port, fresh (non-persistent) data
        replica.expect(lambda: get(base + "/healthz")[0] == 200, timeout=90, what="healthy again")

        replica.terminate()
        assert replica.wait(60) == 0, replica.log()
    finally:
        replica.kill()
    assert get(base + "/healthz")[0] == 0  # the port is closed with the process
