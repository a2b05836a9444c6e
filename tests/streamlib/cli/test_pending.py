"""pending shows a killed consumer's stuck entries, on one stream and on partitions."""

from __future__ import annotations

import redis

from streamlib import StreamSettings
from tests.streamlib.cli.conftest import P, Run, as_json, keys_in, parts, produce, send, target_args
from tests.support.helpers import wait_for


def test_pending_shows_killed_consumers_entries(
    run: Run, client: redis.Redis, settings: StreamSettings, killed_consumer
) -> None:
    ids = produce(client, settings, 10)
    killed_consumer("dead-replica", 4)
    wait_for(
        lambda: all(
            e["idle_ms"] >= 100 for e in as_json(run("pending", "--details", "--json"))["entries"]
        ),
        what="entries idle",
    )

    summary = as_json(run("pending", "--json"))
    assert summary["pending"] == 4
    assert summary["min_id"] == ids[0] and summary["max_id"] == ids[3]
    [holder] = summary["consumers"]
    assert holder["consumer"] == "dead-replica"
    assert holder["pending"] == 4 and holder["oldest_id"] == ids[0]
    assert holder["oldest_idle_ms"] >= 100 and holder["oldest_deliveries"] == 1

    details = as_json(run("pending", "--details", "--json"))["entries"]
    assert [e["id"] for e in details] == ids[:4]
    assert {(e["consumer"], e["deliveries"]) for e in details} == {("dead-replica", 1)}

    table = run("pending")
    assert table.exit_code == 0
    assert "4 pending" in table.stdout
    row = next(line for line in table.stdout.splitlines() if line.startswith("dead-replica"))
    assert row.split()[1:3] == ["4", ids[0]]

    detail_table = run("pending", "--details")
    lines = detail_table.stdout.splitlines()
    assert lines[0].split() == ["ID", "CONSUMER", "IDLE", "DELIVERIES"]
    assert [line.split()[0] for line in lines[1:]] == ids[:4]
    assert all(line.split()[1] == "dead-replica" and line.split()[3] == "1" for line in lines[1:])


def test_pending_filters(
    run: Run, client: redis.Redis, settings: StreamSettings, killed_consumer
) -> None:
    ids = produce(client, settings, 6)
    killed_consumer("first", 2)
    killed_consumer("second", 2)
    only = as_json(run("pending", "--consumer", "second", "--json"))["entries"]
    assert [e["id"] for e in only] == ids[2:4]
    assert len(as_json(run("pending", "--details", "--count", "3", "--json"))["entries"]) == 3
    assert as_json(run("pending", "--min-idle", "1h", "--json"))["entries"] == []
    assert "no pending entries match" in run("pending", "--min-idle", "1h").stdout


def test_pending_across_partitions(
    run4: Run, client: redis.Redis, settings4: StreamSettings, killed_consumer
) -> None:
    ps = parts(settings4)
    send(client, settings4, keys_in(P, {1, 2}, 20))  # partitions 0 and 3 stay empty
    killed_consumer("dead-replica", 3, ps[1].stream)  # a real replica of partition 1, killed
    client.xgroup_create(ps[2].stream, settings4.group, id="0")
    client.xreadgroup(settings4.group, "other", {ps[2].stream: ">"}, count=2)
    first_in_1 = [i.decode() for i, _ in client.xrange(ps[1].stream, count=3)]
    first_in_2 = [i.decode() for i, _ in client.xrange(ps[2].stream, count=2)]

    summary = as_json(run4("pending", "--json"))
    assert summary["pending"] == 5
    assert [p["pending"] for p in summary["partitions"]] == [None, 3, 2, None]
    holders = {(c["partition"], c["consumer"]): c for c in summary["consumers"]}
    assert set(holders) == {(1, "dead-replica"), (2, "other")}
    assert holders[(1, "dead-replica")]["oldest_id"] == first_in_1[0]
    ids = sorted([*first_in_1, *first_in_2], key=lambda i: tuple(map(int, i.split("-"))))
    assert (summary["min_id"], summary["max_id"]) == (ids[0], ids[-1])

    details = as_json(run4("pending", "--details", "--json"))["entries"]
    assert [e["id"] for e in details] == ids  # oldest first over all partitions
    assert {(e["partition"], e["consumer"]) for e in details} == set(holders)
    two = as_json(run4("pending", "--details", "--count", "2", "--partition", "2", "--json"))
    assert [e["id"] for e in two["entries"]] == first_in_2

    table = run4("pending").stdout
    assert "group g: 5 pending" in table and "(no group)" in table
    consumer_rows = table.split("\n\n")[-1].splitlines()
    assert consumer_rows[0].split() == [
        "PARTITION", "CONSUMER", "PENDING", "OLDEST-ID", "OLDEST-IDLE", "DELIVERIES",
    ]  # fmt: skip
    assert consumer_rows[1].split()[:3] == ["1", "dead-replica", "3"]
    assert run4("pending", "--details").stdout.splitlines()[0].startswith("PARTITION  ID")

    nowhere = run4("pending", *target_args(settings4.replace(group="missing")), target=False)
    assert nowhere.exit_code == 3
    assert "group 'missing' not found on any of the 4 partitions" in nowhere.stderr
