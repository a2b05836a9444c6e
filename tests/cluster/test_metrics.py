"""``quotes-consumer --metrics-port`` on six partitions over three masters.

One replica drains the six partitions with metrics on: every partition has
its own series, and they add up to what was produced. Then the master that
the replica's URL names is killed, the node its clients learnt the cluster
from and the first one they would turn to: ``/healthz`` turns 503 naming
exactly the partitions it held (stalled, and waiting out a Redis outage)
while the others keep reading new entries, and recovers once the master is
back.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import redis

from streamlib import PartitionedProducer, StreamProducer, StreamSettings
from streamlib.partitions import all_partition_settings
from streamlib.testing import LocalCluster, LocalRedis, free_port
from tests.support.helpers import quote
from tests.support.replicas import (
    Replica,
    consumer_command,
    get,
    health_state,
    healthz,
    samples,
    sqlite_count,
    stalled,
)

TOTAL = 600
#: New entries for each partition that stays up, read while the victim is away.
MORE = 10


def partitions_on(
    cluster: LocalCluster, client: redis.Redis, settings: StreamSettings, node: LocalRedis
) -> tuple[StreamSettings, list[str]]:
    """``settings`` with a stream name whose partitions ``node`` holds some of, not all;
    and those partitions' streams (a name is tried after another: six partitions
    miss one master of three about one time in eleven)."""
    for n in range(50):
        renamed = dataclasses.replace(settings, stream=f"{settings.stream}-{n}")
        streams = [p.stream for p in all_partition_settings(renamed)]
        held = [s for s in streams if cluster.node_for_slot(client.cluster_keyslot(s)) is node]
        if 0 < len(held) < len(streams):
            return renamed, held
    raise AssertionError(f"no stream name spreads its partitions onto {node.url} and another")


def test_metrics_and_health_per_partition_across_the_cluster(
    cluster: LocalCluster,
    cluster_client: redis.Redis,
    cluster_settings: StreamSettings,
    tmp_path: Path,
) -> None:
    victim = cluster.nodes[0]  # the node of cluster.url
    s, cut_off = partitions_on(cluster, cluster_client, cluster_settings, victim)
    streams = [p.stream for p in all_partition_settings(s)]
    live = [stream for stream in streams if stream not in cut_off]
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
            lambda: samples(base, s.group, streams),
            until=lambda got: all(got.get(k) == v for k, v in expected.items()),
            timeout=90,
            what=f"every partition's series adding up to {expected}",
        )
        for stream in streams:  # each partition's own numbers: what it holds
            acked = samples(base, s.group, [stream])["streamlib_consumer_acked_total"]
            assert acked == cluster_client.xlen(stream) > 0
        assert sqlite_count(db) == TOTAL

        # One master away: its partitions stall...
        victim.kill()
        replica.expect(
            lambda: healthz(base),
            until=lambda answer: stalled(answer) == cut_off,
            changes=health_state,
            timeout=60,
            what=f"only {cut_off} stalled",
        )
        # ...while the others go on reading: what arrives now is read and acked.
        held_live = sum(cluster_client.xlen(stream) for stream in live)
        for i, stream in enumerate(live):
            first = TOTAL + i * MORE
            StreamProducer(cluster_client, stream).send_many(
                quote(n) for n in range(first, first + MORE)
            )
        acked_live = held_live + MORE * len(live)
        replica.expect(
            lambda: samples(base, s.group, live),
            until=lambda got: got.get("streamlib_consumer_acked_total") == acked_live,
            timeout=60,
            what=f"{acked_live} entries acked on {live}, the partitions still up",
        )
        # Still only the victim's partitions stalled, each waiting out a Redis
        # outage, which /healthz and the metrics name.
        status, body = answer = healthz(base)
        assert stalled(answer) == cut_off, answer
        assert (status, body["status"], body["down"]) == (503, "outage", "redis"), answer
        assert body["outage_partitions"] == sorted(cut_off), answer
        errors = samples(base, s.group, cut_off)
        assert errors["streamlib_consumer_errors_total{kind=redis}"] >= len(cut_off)
        assert samples(base, s.group, cut_off)["streamlib_consumer_redis_up"] == 0
        assert samples(base, s.group, live)["streamlib_consumer_redis_up"] == len(live)
        victim.start()  # same port, nodes.conf and AOF
        cluster.wait_ok(60)
        replica.expect(lambda: get(base + "/healthz")[0] == 200, timeout=120, what="healthy again")

        replica.terminate()
        assert replica.wait(60) == 0, replica.log()
    finally:
        replica.kill()
    assert get(base + "/healthz")[0] == 0  # the port is closed with the process
