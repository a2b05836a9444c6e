"""``streamctl`` across the partitions of a stream on the cluster, and on one of them."""

from __future__ import annotations

import json
from typing import Any

import redis
from click.testing import CliRunner

from streamlib import PartitionedProducer, StreamSettings
from streamlib.cli import cli
from streamlib.deadletter import dead_letter_fields
from streamlib.partitions import all_partition_settings
from tests.helpers import quote

TOTAL = 600


def streamctl(s: StreamSettings, *args: str, partitions: bool = True) -> tuple[int, str]:
    target = ["--redis-url", s.redis_url, "--stream", s.stream, "--group", s.group]
    if partitions:
        target += ["--partitions", str(s.partitions)]
    result = CliRunner().invoke(cli, [*args, *target], catch_exceptions=False)
    return result.exit_code, result.output


def doc(s: StreamSettings, *args: str) -> Any:
    code, out = streamctl(s, *args, "--json")
    assert code == 0, out
    return json.loads(out)


def test_info_pending_dead_and_trim_across_partitions(
    cluster_client: redis.Redis, cluster_settings: StreamSettings
) -> None:
    s = cluster_settings
    parts = all_partition_settings(s)
    PartitionedProducer(cluster_client, s.stream, s.partitions).send_many(
        quote(n) for n in range(TOTAL)
    )
    lengths = [int(cluster_client.xlen(p.stream)) for p in parts]
    assert sum(lengths) == TOTAL
    for p in parts:  # 5 entries pending with "stuck" in every partition
        cluster_client.xgroup_create(p.stream, p.group, id="0")
        cluster_client.xreadgroup(p.group, "stuck", {p.stream: ">"}, count=5)
    # Partition 0 read to its end and acknowledged: trimmable.
    rest = cluster_client.xreadgroup(parts[0].group, "done", {parts[0].stream: ">"})
    pending0 = [
        r["message_id"]
        for r in cluster_client.xpending_range(parts[0].stream, s.group, "-", "+", 10)
    ]
    cluster_client.xack(parts[0].stream, s.group, *pending0, *(i for i, _ in rest[0][1]))
    cluster_client.xadd(
        parts[3].dead_letters,
        dead_letter_fields(
            orig_id="1-0", orig_stream=parts[3].stream, group=s.group, consumer="c",
            deliveries=6, reason="for the test", fields={b"k": b"v"},
        ),
    )  # fmt: skip

    info = doc(s, "info")
    assert (info["length"], info["dead_letters"]) == (TOTAL, 1)
    assert info["pending"] == 5 * 5
    assert info["lag"] == TOTAL - lengths[0] - 5 * 5
    rows = info["partitions"]
    assert [r["stream"] for r in rows] == [p.stream for p in parts]
    assert [r["group"]["pending"] for r in rows] == [0] + [5] * 5
    assert [r["group"]["lag"] for r in rows] == [0] + [n - 5 for n in lengths[1:]]
    assert rows[3]["dead_letters"] == 1
    code, text = streamctl(s, "info")
    assert code == 0 and "PARTITION" in text and parts[5].stream in text

    one = doc(s, "info", "--partition", "2")
    assert one["stream"] == parts[2].stream and one["length"] == lengths[2]
    assert one["groups"][0]["pending"] == 5

    pending = doc(s, "pending")
    assert pending["pending"] == 25
    assert pending["consumers"][-1]["consumer"] == "stuck"
    assert pending["consumers"][-1]["pending"] == 25
    details = doc(s, "pending", "--details", "--count", "7")
    assert len(details["entries"]) == 7
    assert {e["partition"] for e in details["entries"]} == {1, 2}

    dead = doc(s, "dead", "list")
    assert dead["length"] == 1 and dead["dead_letters"][0]["partition"] == 3

    dry = doc(s, "trim", "--acked", "--dry-run")
    assert dry["removed"] == lengths[0]
    assert [p["result"]["removed"] for p in dry["partitions"]] == [lengths[0]] + [0] * 5
    done = doc(s, "trim", "--acked")
    assert done["removed"] == lengths[0]
    assert cluster_client.xlen(parts[0].stream) == 0

    code, out = streamctl(s, "consumers")
    assert code == 1 and "not yet supported" in out and "--partition" in out
    code, out = streamctl(s, "consumers", "--partition", "1", "--json")
    assert code == 0 and {c["name"] for c in json.loads(out)["consumers"]} == {"stuck"}
    code, out = streamctl(s, "info", "--partition", "6")
    assert code == 1 and "between 0 and 5" in out
