"""``quotes-consumer --metrics-port`` on six partitions over three masters.

One replica drains the six partitions with metrics on: every partition has
its own series, and they add up to what was produced. Then the master that
holds some of the partitions is killed: ``/healthz`` turns 503 naming exactly
those partitions (stalled, and waiting out a Redis outage) while the others
keep reading, and recovers once the master is back.
"""

from __future__ import annotations

import json
from pathlib import Path

import redis

from streamlib import PartitionedProducer, StreamSettings
from streamlib.partitions import all_partition_settings
from streamlib.testing import LocalCluster, free_port
from tests.support.helpers import quote
from tests.support.replicas import (
    Replica,
    consumer_command,
    get,
    healthz,
    samples,
    sqlite_count,
    stalled,
)

TOTAL = 600


def test_metrics_and_health_per_partition_across_the_cluster(
    cluster: LocalCluster,
    cluster_client: redis.Redis,
    cluster_settings: StreamSettings,
    tmp_path: Path,
) -> None:
    s = cluster_settings
    parts = all_partition_settings(s)
    streams = [p.stream for p in parts]
    owners = [cluster.node_for_slot(cluster_client.cluster_keyslot(p)) for p in streams]
    victim = owners[0]
    cut_off = [stream for stream, owner in zip(streams, owners, strict=True) if owner is victim]
    assert 0 < len(cut_off) < len(streams), "the test needs partitions on two masters or more"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    db = tmp_path / "q.db"
    replica = Replica(
        consumer_command(
            redis_url=s.redis_url,
            stream=s.stream,
            group=s.group,
            sink=f"sqlite:///{db}",
            name="m",
            extra=[
                *("--partitions", str(s.partitions), "--batch-size", "50"),
                *("--block-ms", "200", "--health-timeout", "5"),
                *("--metrics-port", str(port), "--metrics-host", "127.0.0.1"),
            ],
        ),
        tmp_path / "m.log",
        None,
    )
    try:
        replica.expect(lambda: get(base + "/healthz")[0] == 200, timeout=90, what="healthy")
        PartitionedProducer(cluster_client, s.stream, s.partitions).send_many(
            quote(n) for n in range(TOTAL)
        )
        expected = {
            "streamlib_consumer_read_total": TOTAL,
            "streamlib_consumer_acked_total": TOTAL,
            "streamlib_consumer_end_to_end_seconds_count": TOTAL,
            "streamlib_group_pending": 0,
            "streamlib_group_lag": 0,
        }
        replica.expect(
            lambda: all(samples(base, s.group, streams).get(k) == v for k, v in expected.items()),
            timeout=90,
            what=f"every partition's series adding up to {expected}",
        )
        for stream in streams:  # each partition's own numbers: what it holds
            acked = samples(base, s.group, [stream])["streamlib_consumer_acked_total"]
            assert acked == cluster_client.xlen(stream) > 0
        assert sqlite_count(db) == TOTAL

        # One master away: its partitions stall, the others go on reading.
        victim.kill()
        replica.expect(
            lambda: healthz(base),
            until=lambda answer: stalled(answer) == cut_off,
            timeout=60,
            what=f"only {cut_off} stalled",
        )
        errors = samples(base, s.group, cut_off)
        assert errors["streamlib_consumer_errors_total{kind=redis}"] >= len(cut_off)
        # ...each waiting out a Redis outage, which /healthz and the metrics name
        # (the others may have met it too: their clients refresh the slot map).
        body = json.loads(get(base + "/healthz")[1])
        assert (body["status"], body["down"]) == ("outage", "redis"), body
        assert set(cut_off) <= set(body["outage_partitions"]), body
        assert samples(base, s.group, cut_off)["streamlib_consumer_redis_up"] == 0
        victim.start()  # same port, nodes.conf and AOF
        cluster.wait_ok(60)
        replica.expect(lambda: get(base + "/healthz")[0] == 200, timeout=120, what="healthy again")

        replica.terminate()
        assert replica.wait(60) == 0, replica.log()
    finally:
        replica.kill()
    assert get(base + "/healthz")[0] == 0  # the port is closed with the process
