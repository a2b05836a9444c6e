"""reclaim moves a dead consumer's entries, on one stream and on partitions."""

from __future__ import annotations

import redis

from streamlib import StreamSettings
from tests.streamlib.cli.conftest import P, Run, as_json, drain, keys_in, parts, produce, send
from tests.support.helpers import wait_for


def test_reclaim_moves_a_dead_consumers_entries(
    run: Run, client: redis.Redis, settings: StreamSettings, killed_consumer
) -> None:
    ids = produce(client, settings, 5)
    killed_consumer("dead-replica", 3)
    assert as_json(run("reclaim", "--min-idle", "1h", "--json"))["moved"] == []

    wait_for(
        lambda: as_json(run("pending", "--min-idle", "150", "--json"))["entries"],
        what="entries idle 150ms",
    )
    doc = as_json(run("reclaim", "--min-idle", "150", "--to", "rescuer", "--json"))
    assert doc["to"] == "rescuer"
    assert [m["id"] for m in doc["moved"]] == ids[:3]
    assert {(m["from_consumer"], m["deliveries"]) for m in doc["moved"]} == {("dead-replica", 1)}
    entries = as_json(run("pending", "--details", "--json"))["entries"]
    assert {(e["consumer"], e["deliveries"]) for e in entries} == {("rescuer", 1)}

    # A live consumer of that name takes them on start and acknowledges them.
    drain(client, settings, consumer="rescuer")
    assert as_json(run("pending", "--json"))["pending"] == 0


def test_reclaim_table_and_deleted_entries(
    run: Run, client: redis.Redis, settings: StreamSettings, killed_consumer
) -> None:
    ids = produce(client, settings, 3)
    killed_consumer("dead-replica", 2)
    client.xdel(settings.stream, ids[1])
    wait_for(lambda: as_json(run("pending", "--min-idle", "50", "--json"))["entries"])
    out = run("reclaim", "--min-idle", "50").stdout
    assert "moved 1 entries to streamctl" in out
    assert ids[0] in out
    assert f"dropped 1 pending ids of deleted entries: {ids[1]}" in out


def test_reclaim_across_partitions(
    run4: Run, client: redis.Redis, settings4: StreamSettings, killed_consumer
) -> None:
    ps = parts(settings4)
    send(client, settings4, keys_in(P, {0, 3}, 12))
    killed_consumer("dead-replica", 2, ps[0].stream)
    killed_consumer("dead-replica", 3, ps[3].stream)
    held = {
        i: [e.decode() for e, _ in client.xrange(ps[i].stream, count=n)]
        for i, n in ((0, 2), (3, 3))
    }
    client.xdel(ps[3].stream, held[3][1])  # a pending entry deleted from the stream
    wait_for(
        lambda: len(as_json(run4("pending", "--min-idle", "100", "--json"))["entries"]) == 5,
        what="entries idle 100ms",
    )

    doc = as_json(run4("reclaim", "--min-idle", "100", "--to", "rescuer", "--json"))
    assert sorted((m["partition"], m["id"]) for m in doc["moved"]) == sorted(
        [(0, i) for i in held[0]] + [(3, held[3][0]), (3, held[3][2])]
    )
    assert {m["from_consumer"] for m in doc["moved"]} == {"dead-replica"}
    assert doc["deleted"] == [f"3/{held[3][1]}"]  # N/ID: ids alone repeat across partitions
    entries = as_json(run4("pending", "--details", "--json"))["entries"]
    assert {(e["partition"], e["consumer"]) for e in entries} == {(0, "rescuer"), (3, "rescuer")}

    drain(client, settings4, consumer="rescuer")  # a live rescuer takes them on start
    assert as_json(run4("pending", "--json"))["pending"] == 0
    table = run4("reclaim", "--min-idle", "0").stdout
    assert table.startswith("moved 0 entries to streamctl")
