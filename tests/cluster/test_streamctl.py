"""``streamctl`` over the six partitions of a stream on a three-master Redis Cluster."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import redis
from click.testing import CliRunner

from streamlib import GroupConsumer, Message, PartitionedProducer, StreamSettings
from streamlib.cli import cli
from streamlib.partitions import all_partition_settings
from streamlib.testing import LocalCluster
from tests.streamlib.cli.conftest import POISON, target_args
from tests.support.helpers import quote

TOTAL = 600


def streamctl(s: StreamSettings, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, *target_args(s)], catch_exceptions=False)
    return result.exit_code, result.output


def doc(s: StreamSettings, *args: str) -> Any:
    code, out = streamctl(s, *args, "--json")
    assert code == 0, out
    return json.loads(out)


def drain(client: redis.Redis, one: StreamSettings) -> None:
    """The real consumer on one partition, to the end (the stuck entries stay pending).

    Holding nothing when it is done, it leaves the group.
    """

    def handler(batch: Sequence[Message]) -> None:
        return None

    GroupConsumer(client, one.replace(consumer="worker", min_idle_ms=3_600_000), handler).run(
        burst=True
    )


def test_info_pending_dead_replay_and_trim_across_the_cluster(
    cluster: LocalCluster, cluster_client: redis.Redis, cluster_settings: StreamSettings
) -> None:
    s = cluster_settings
    ps = all_partition_settings(s)
    assert (
        len({cluster.node_for_slot(cluster_client.cluster_keyslot(p.stream)).port for p in ps}) == 3
    )
    PartitionedProducer(cluster_client, s.stream, s.partitions).send_many(
        quote(n) for n in range(TOTAL)
    )
    bad = {i: cluster_client.xadd(ps[i].stream, POISON).decode() for i in (1, 4)}  # type: ignore[arg-type]
    lengths = [int(cluster_client.xlen(p.stream)) for p in ps]
    assert sum(lengths) == TOTAL + 2
    for p in ps:  # "stuck" holds the first 5 entries of every partition, then dies
        cluster_client.xgroup_create(p.stream, p.group, id="0")
        cluster_client.xreadgroup(p.group, "stuck", {p.stream: ">"}, count=5)
    stuck0 = [
        r["message_id"] for r in cluster_client.xpending_range(ps[0].stream, s.group, "-", "+", 5)
    ]
    cluster_client.xack(ps[0].stream, s.group, *stuck0)
    for p in ps:
        drain(cluster_client, p)  # acks the rest, dead-letters the two poison entries

    info = doc(s, "info")
    assert (info["length"], info["dead_letters"]["length"]) == (TOTAL + 2, 2)
    assert [p["stream"] for p in info["partitions"]] == [p.stream for p in ps]
    assert [p["dead_letters"] for p in info["partitions"]] == [0, 1, 0, 0, 1, 0]
    assert [(g["partition"], g["pending"], g["lag"]) for g in info["groups"]] == [
        (i, 0 if i == 0 else 5, 0) for i in range(6)
    ]
    code, text = streamctl(s, "info")
    assert code == 0 and "PARTITION" in text and ps[5].stream in text

    pending = doc(s, "pending")
    assert pending["pending"] == 25
    assert [p["pending"] for p in pending["partitions"]] == [0, 5, 5, 5, 5, 5]
    assert {(c["partition"], c["consumer"]) for c in pending["consumers"]} == {
        (i, "stuck") for i in range(1, 6)
    }
    details = doc(s, "pending", "--details", "--count", "7")["entries"]
    assert len(details) == 7
    order = [tuple(map(int, e["id"].split("-"))) for e in details]
    assert order == sorted(order)  # oldest first over all partitions
    assert {c["name"] for c in doc(s, "consumers", "--partition", "3")["consumers"]} == {"stuck"}

    dead = doc(s, "dead", "list")["dead_letters"]
    assert {d["partition"]: d["orig_id"] for d in dead} == bad
    refs = [f"{d['partition']}/{d['id']}" for d in dead]
    replayed = doc(s, "dead", "replay", *refs)["replayed"]
    assert sorted(r["partition"] for r in replayed) == [1, 4]
    for r in replayed:  # back on its own partition, in that partition's slot
        assert cluster_client.xrange(ps[r["partition"]].stream, r["new_id"], r["new_id"])
    assert doc(s, "dead", "list")["length"] == 0

    dry = doc(s, "trim", "--acked", "--dry-run")
    assert [p["removed"] for p in dry["partitions"]] == [lengths[0], 0, 0, 0, 0, 0]
    done = doc(s, "trim", "--acked")
    assert done["removed"] == lengths[0] and cluster_client.xlen(ps[0].stream) == 0
    assert [int(cluster_client.xlen(p.stream)) for p in ps[1:]] == [
        n + (1 if i in bad else 0) for i, n in enumerate(lengths) if i
    ]  # replayed entries added, nothing any group still needs removed

    code, out = streamctl(s, "info", "--partition", "6")
    assert code == 1 and "between 0 and 5" in out
