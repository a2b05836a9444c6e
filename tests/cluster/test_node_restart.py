"""Four ``quotes-consumer`` processes drain six partitions while a master restarts
(or fails over to its replica).

The producer keeps writing while one master is killed (SIGKILL) and started
again on the same port and folder (its nodes.conf and AOF); the consumers
ride it out (connection errors, CLUSTERDOWN, a refreshed slot map) and every
key is stored exactly once, with nothing pending and no lag left.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from pathlib import Path

import redis

from streamlib import PartitionedProducer, StreamSettings
from streamlib.connection import client_from_url
from streamlib.partitions import all_partition_settings
from streamlib.testing import LocalCluster, LocalRedis
from tests.support.helpers import quote, wait_for
from tests.support.replicas import Replicas, consumers_joined, sqlite_count, sqlite_rows

TOTAL = 6_000
REPLICAS = 4
EXTRA = "--partitions 6 --batch-size 100 --block-ms 200 --min-idle-ms 3000 --progress-interval 5"


def partitions_drained(client: redis.Redis, settings: StreamSettings) -> bool:
    for p in all_partition_settings(settings):
        rows = client.xinfo_groups(p.stream)
        if not rows or int(rows[0]["pending"]) or rows[0].get("lag") != 0:
            return False
    return True


@dataclasses.dataclass
class Run:
    """What a drain-through-a-disruption run left: producer, replica stats and logs."""

    producer: PartitionedProducer
    stats: list[dict[str, int]]
    logs: str


def drain_through(
    cluster: LocalCluster,
    client: redis.Redis,
    s: StreamSettings,
    tmp_path: Path,
    disrupt: Callable[[LocalRedis, Callable[[], None]], None],
) -> Run:
    """4 replicas drain TOTAL entries produced steadily while ``disrupt(master, underway)`` runs.

    ``master`` holds the most partitions; ``disrupt`` calls ``underway()`` once
    the disruption is in effect, and the second half of the entries is
    produced only then, so it meets the disruption however slow the machine.
    Checks every key stored exactly once, nothing pending, no lag, every
    replica exiting 0 on SIGTERM.
    """
    db = tmp_path / "quotes.db"
    producer = PartitionedProducer(client, s.stream, s.partitions, retry_timeout=90)
    failures: list[BaseException] = []
    underway = threading.Event()

    def produce() -> None:  # steadily, so some batches meet the disruption
        try:
            for start in range(0, TOTAL, 200):
                if start == TOTAL // 2 and not underway.wait(120):
                    raise AssertionError("the disruption never started")
                producer.send_many(quote(n) for n in range(start, start + 200))
                time.sleep(0.1)
        except BaseException as exc:
            failures.append(exc)

    owners = [
        cluster.node_for_slot(client.cluster_keyslot(p.stream)) for p in all_partition_settings(s)
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
        # Every replica reads every partition before the disruption: the test is
        # about riding it out, not about starting during it.
        try:
            wait_for(
                lambda: all(
                    consumers_joined(client, p.stream, s.group) == REPLICAS
                    for p in all_partition_settings(s)
                ),
                timeout=90,
                what="every replica to join every partition's group",
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{replicas.logs()}") from None
        writer = threading.Thread(target=produce)
        writer.start()
        try:
            wait_for(lambda: sqlite_count(db) >= 1_000, timeout=90, what="a first thousand stored")
            disrupt(victim, underway.set)
            cluster.wait_ok(60)
        finally:
            underway.set()  # never leave the writer waiting (a failed disruption)
            writer.join(timeout=120)
        assert not failures, failures
        try:
            wait_for(
                lambda: sqlite_count(db) >= TOTAL and partitions_drained(client, s),
                timeout=120,
                interval=0.25,
                what="all six partitions drained into SQLite",
            )
        except AssertionError:
            raise AssertionError(replicas.logs()) from None
        assert replicas.stop() == [0] * REPLICAS, replicas.logs()
        run = Run(producer, [r.done_stats() for r in replicas.replicas], replicas.logs())

    keys = {row[0] for row in sqlite_rows(db, "SELECT key FROM quotes")}
    assert keys == {quote(n).key for n in range(TOTAL)}  # every key, once (primary key)
    assert sum(1 for st in run.stats if st["acked"] > 0) >= 2, run.stats  # the work was shared
    assert sum(st["acked"] for st in run.stats) >= TOTAL
    return run


def test_four_consumers_six_partitions_survive_a_master_restart(
    cluster: LocalCluster,
    cluster_client: redis.Redis,
    cluster_settings: StreamSettings,
    tmp_path: Path,
) -> None:
    def restart(master: LocalRedis, underway: Callable[[], None]) -> None:
        master.kill()
        underway()  # the producer's second half meets the dead master
        time.sleep(3)  # longer than cluster-node-timeout: the others mark it failing
        master.start()  # same port, nodes.conf and AOF

    run = drain_through(cluster, cluster_client, cluster_settings, tmp_path, restart)
    assert sum(st["redis_errors"] for st in run.stats) > 0, run.logs  # they met the restart
    assert run.producer.retries > 0  # and so did the producer, and resent


def test_four_consumers_six_partitions_survive_a_failover_to_a_replica(
    cluster_with_replicas: LocalCluster, tmp_path: Path
) -> None:
    cluster = cluster_with_replicas
    s = StreamSettings(redis_url=cluster.url, stream="failover", group="g", partitions=6)
    client = client_from_url(cluster.url)
    promoted: list[LocalRedis] = []

    def failover(master: LocalRedis, underway: Callable[[], None]) -> None:
        # A manual failover: the replica catches up, then takes over (no write lost).
        replica = cluster.replica_of(master)
        direct = redis.Redis(port=replica.port)
        try:
            direct.execute_command("CLUSTER", "FAILOVER")
            underway()
            wait_for(lambda: direct.execute_command("ROLE")[0] == b"master", timeout=30)
        finally:
            direct.close()
        promoted.append(replica)

    try:
        drain_through(cluster, client, s, tmp_path, failover)
        slots = [client.cluster_keyslot(p.stream) for p in all_partition_settings(s)]
        assert promoted[0] in {cluster.node_for_slot(slot) for slot in slots}
    finally:
        client.close()
