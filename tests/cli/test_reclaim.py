"""reclaim moves a dead consumer's entries, on one stream and on partitions."""

from __future__ import annotations

import redis

from streamlib import StreamSettings
from tests.cli.conftest import Run, as_json, drain, produce
from tests.helpers import wait_for


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
