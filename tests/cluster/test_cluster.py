"""Partitioned streams on a real three-master Redis Cluster."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import redis

from streamlib import (
    BatchResult,
    Message,
    PartitionedConsumer,
    PartitionedProducer,
    StreamSettings,
)
from streamlib.connection import client_from_url
from streamlib.partitions import all_partition_settings
from streamlib.testing import LocalCluster
from tests.support.helpers import quote


def test_a_partition_and_its_dead_letters_share_a_slot_and_partitions_spread(
    cluster: LocalCluster, cluster_client: redis.Redis, cluster_settings: StreamSettings
) -> None:
    slots = []
    for p in all_partition_settings(cluster_settings):
        slot = cluster_client.cluster_keyslot(p.stream)
        assert cluster_client.cluster_keyslot(p.dead_letters) == slot
        slots.append(slot)
    assert len(set(slots)) == 6
    owners = {cluster.node_for_slot(s).port for s in slots}
    assert len(owners) >= 2, "six partitions all on one master: the scheme spreads nothing"


def test_produce_consume_and_dead_letter_across_the_cluster(
    cluster_client: redis.Redis, cluster_settings: StreamSettings
) -> None:
    s = cluster_settings
    producer = PartitionedProducer(cluster_client, s.stream, s.partitions, batch_size=40)
    producer.send_many(quote(n) for n in range(600))
    seen: list[str] = []

    def handler(batch: Sequence[Message]) -> BatchResult | None:
        seen.extend(m.envelope.key for m in batch)
        bad = {m.id: "poison for the test" for m in batch if m.envelope.data["n"] % 100 == 0}
        return BatchResult(rejected=bad) if bad else None

    consumer = PartitionedConsumer(s, handler)
    try:
        stats = consumer.run(burst=True)
    finally:
        consumer.close()
    assert sorted(seen) == sorted(quote(n).key for n in range(600))
    assert (stats.acked, stats.dead_lettered) == (594, 6)
    dead = 0
    for p in all_partition_settings(s):
        assert cluster_client.xpending(p.stream, p.group)["pending"] == 0
        dead += cluster_client.xlen(p.dead_letters)  # moved + acked in one MULTI/EXEC
    assert dead == 6


def test_a_lazy_cluster_client_first_used_by_several_threads_at_once(
    cluster: LocalCluster,
) -> None:
    """One thread fetches the slot map; the others wait for it instead of failing."""
    client = client_from_url(cluster.url)
    start = threading.Barrier(8)
    answers: list[object] = []

    def first_use() -> None:
        start.wait()
        try:
            answers.append(client.ping())
        except BaseException as exc:
            answers.append(exc)

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    client.close()
    assert answers == [True] * 8


def test_reads_go_on_on_the_other_masters_while_the_clients_default_node_is_down(
    cluster: LocalCluster, cluster_settings: StreamSettings
) -> None:
    """XREADGROUP and XREAD find their stream's master without asking a node.

    redis-py would ask its default node (the first master it learnt of) for
    the keys of every read (COMMAND GETKEYS), so that with that one node away
    reads would fail on every master.
    """
    client = client_from_url(cluster.url)
    try:
        default = client.get_default_node().port
        victim = next(node for node in cluster.nodes if node.port == default)
        streams = [f"{{{cluster_settings.stream}:{i}}}" for i in range(16)]
        live = [s for s in streams if cluster.node_for_slot(client.keyslot(s)) is not victim]
        assert live, "sixteen streams, and not one on the other masters"
        for stream in live:
            client.xgroup_create(stream, "g", id="0", mkstream=True)
            client.xadd(stream, {"n": stream})
        victim.kill()
        for stream in live:
            [(_, entries)] = client.xreadgroup("g", "c", {stream: ">"}, count=10)
            assert [fields for _, fields in entries] == [{b"n": stream.encode()}]
            [(_, entries)] = client.xread({stream: "0"})
            assert len(entries) == 1
    finally:
        client.close()
