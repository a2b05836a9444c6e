"""info shows stuck entries, the group's lag and the dead letters, per partition too."""

from __future__ import annotations

import redis

from streamlib import StreamSettings
from tests.streamlib.cli.conftest import P, Run, as_json, keys_in, parts, produce, send


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


def test_info_across_partitions(run4: Run, client: redis.Redis, settings4: StreamSettings) -> None:
    """Every partition is a row; one nothing was routed to yet is a row of zeros."""
    ps = parts(settings4)
    send(client, settings4, keys_in(P, {0, 1, 2}, 30))  # nothing routed to partition 3
    client.xgroup_create(ps[0].stream, settings4.group, id="0")
    client.xgroup_create(ps[1].stream, settings4.group, id="0")
    client.xreadgroup(settings4.group, "c1", {ps[1].stream: ">"}, count=2)
    client.xadd(ps[2].dead_letters, {"orig_id": "1-0", "reason": "for the test"})
    lengths = [int(client.xlen(p.stream)) for p in ps]
    assert lengths[3] == 0 and all(lengths[:3])

    doc = as_json(run4("info", "--json"))
    assert doc["stream"] == settings4.stream and doc["length"] == 30
    assert [p["length"] for p in doc["partitions"]] == lengths
    assert [p["stream"] for p in doc["partitions"]] == [p.stream for p in ps]
    assert [p["exists"] for p in doc["partitions"]] == [True, True, True, False]
    assert doc["partitions"][3]["memory_bytes"] == 0
    assert doc["partitions"][2]["dead_letters"] == 1 and doc["dead_letters"]["length"] == 1
    groups = {g["partition"]: g for g in doc["groups"]}
    assert sorted(groups) == [0, 1]  # none on partition 2 (entries, no group) nor 3
    assert (groups[1]["pending"], groups[1]["lag"]) == (2, lengths[1] - 2)
    assert groups[1]["oldest_pending_id"] is not None
    assert doc["last_id"] == max(
        (p["last_id"] for p in doc["partitions"] if p["last_id"]),
        key=lambda i: tuple(map(int, i.split("-"))),
    )

    table = run4("info").stdout
    assert f"stream         {settings4.stream} ({P} partitions)" in table
    _head, partition_table, group_table = table.split("\n\n")
    assert partition_table.splitlines()[0].split()[:3] == ["PARTITION", "STREAM", "LENGTH"]
    assert partition_table.splitlines()[4].split()[:3] == ["3", ps[3].stream, "0"]
    assert group_table.splitlines()[0].split()[:2] == ["PARTITION", "GROUP"]
    assert group_table.splitlines()[2].split()[:4] == ["1", settings4.group, "1", "2"]

    one = as_json(run4("info", "--partition", "1", "--json"))
    assert [p["partition"] for p in one["partitions"]] == [1] and one["length"] == lengths[1]
    assert [g["partition"] for g in one["groups"]] == [1]
    missing = run4("info", "--partition", "3")
    assert missing.exit_code == 3 and f"stream {ps[3].stream!r} not found" in missing.stderr
    out_of_range = run4("info", "--partition", "4")
    assert out_of_range.exit_code == 1 and "between 0 and 3" in out_of_range.stderr


def test_info_of_a_stream_none_of_whose_partitions_exists(run4: Run, client: redis.Redis) -> None:
    result = run4("info")
    assert result.exit_code == 3 and "none of its 4 partitions exists" in result.stderr
