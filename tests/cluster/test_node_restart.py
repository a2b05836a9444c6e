"""Four ``quotes-consumer`` processes drain six partitions while a master restarts.

The producer keeps writing while one master is killed (SIGKILL) and started
again on the same port and folder (its nodes.conf and AOF); the consumers
ride it out (connection errors, CLUSTERDOWN, a refreshed slot map) and every
key is stored exactly once, with nothing pending and no lag left.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import redis

from streamlib import PartitionedProducer, StreamSettings
from streamlib.localcluster import LocalCluster
from streamlib.partitions import all_partition_settings
from tests.consumer.replicas import Replicas, sqlite_count, sqlite_rows
from tests.helpers import quote, wait_for

TOTAL = 6_000
REPLICAS = 4
EXTRA = "--partitions 6 --batch-size 100 --block-ms 200 --min-idle-ms 3000 --progress-interval 5"


def partitions_drained(client: redis.Redis, settings: StreamSettings) -> bool:
    for p in all_partition_settings(settings):
        rows = client.xinfo_groups(p.stream)
        if not rows or int(rows[0]["pending"]) or rows[0].get("lag") != 0:
            return False
    return True


def test_four_consumers_six_partitions_survive_a_master_restart(
    cluster: LocalCluster,
    cluster_client: redis.Redis,
    cluster_settings: StreamSettings,
    tmp_path: Path,
) -> None:
    s = cluster_settings
    db = tmp_path / "quotes.db"
    producer = PartitionedProducer(cluster_client, s.stream, s.partitions, retry_timeout=90)
    failures: list[BaseException] = []

    def produce() -> None:  # steadily, so some batches meet the dead master
        try:
            for start in range(0, TOTAL, 200):
                producer.send_many(quote(n) for n in range(start, start + 200))
                time.sleep(0.05)
        except BaseException as exc:
            failures.append(exc)

    # The master holding the most partitions is the one to restart.
    owners = [
        cluster.node_for_slot(cluster_client.cluster_keyslot(p.stream))
        for p in all_partition_settings(s)
    ]
    victim = max(owners, key=owners.count)

    with Replicas(
        REPLICAS,
        redis_url=s.redis_url,
        stream=s.stream,
        group=s.group,
        sink=f"sqlite:///{db}",
        log_dir=tmp_path,
        extra=EXTRA.split(),
    ) as replicas:
        writer = threading.Thread(target=produce)
        writer.start()
        try:
            wait_for(lambda: sqlite_count(db) >= 1_000, timeout=90, what="a first thousand stored")
            victim.kill()
            time.sleep(3)  # longer than cluster-node-timeout: the others mark it failing
            victim.start()
            cluster.wait_ok(60)
        finally:
            writer.join(timeout=120)
        assert not failures, failures
        try:
            wait_for(
                lambda: sqlite_count(db) >= TOTAL and partitions_drained(cluster_client, s),
                timeout=120,
                interval=0.25,
                what="all six partitions drained into SQLite",
            )
        except AssertionError:
            raise AssertionError(replicas.logs()) from None
        assert replicas.stop() == [0] * REPLICAS, replicas.logs()
        stats = [r.done_stats() for r in replicas.replicas]
        logs = replicas.logs()

    keys = {row[0] for row in sqlite_rows(db, "SELECT key FROM quotes")}
    assert keys == {quote(n).key for n in range(TOTAL)}  # every key, once (primary key)
    assert sum(1 for st in stats if st["acked"] > 0) >= 2, stats  # the work was shared
    assert sum(st["acked"] for st in stats) >= TOTAL
    assert sum(st["redis_errors"] for st in stats) > 0, logs  # they did meet the restart
