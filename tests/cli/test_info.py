"""info shows stuck entries, the group's lag and the dead letters, per partition too."""

from __future__ import annotations

import redis

from streamlib import StreamSettings
from tests.cli.conftest import Run, as_json, produce


def test_info_shows_stuck_entries_and_lag(
    run: Run, client: redis.Redis, settings: StreamSettings, killed_consumer
) -> None:
    ids = produce(client, settings, 10)
    killed_consumer("dead-replica", 4)
    doc = as_json(run("info", "--json"))
    assert doc["stream"] == settings.stream
    assert doc["length"] == 10
    assert (doc["first_id"], doc["last_id"]) == (ids[0], ids[-1])
    assert doc["memory_bytes"] > 0
    assert doc["dead_letters"] == {"stream": settings.dead_letters, "length": 0}
    [g] = doc["groups"]
    assert g["name"] == settings.group
    assert (g["consumers"], g["pending"], g["entries_read"], g["lag"]) == (1, 4, 4, 6)
    assert g["last_delivered_id"] == ids[3]
    assert g["oldest_pending_id"] == ids[0]
    assert g["oldest_pending_age_ms"] >= g["oldest_pending_idle_ms"] >= 0

    table = run("info").stdout
    assert "length         10" in table
    row = next(line for line in table.splitlines() if line.startswith(settings.group + " "))
    assert row.split()[:6] == [settings.group, "1", "4", ids[3], "4", "6"]


def test_info_shows_unknown_lag_never_zero(
    run: Run, client: redis.Redis, settings: StreamSettings
) -> None:
    ids = produce(client, settings, 5)
    client.xgroup_create(settings.stream, settings.group, id="0")
    client.xreadgroup(settings.group, "c", {settings.stream: ">"}, count=1)
    client.xdel(settings.stream, ids[2])  # a tombstone after last-delivered: lag unknown
    [g] = as_json(run("info", "--json"))["groups"]
    assert g["lag"] is None
    row = next(line for line in run("info").stdout.splitlines() if line.startswith(settings.group))
    assert row.split()[5] == "unknown"


def test_info_without_groups(run: Run, client: redis.Redis, settings: StreamSettings) -> None:
    produce(client, settings, 2)
    assert as_json(run("info", "--json"))["groups"] == []
    assert "(no consumer groups)" in run("info").stdout
