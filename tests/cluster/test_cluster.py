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
