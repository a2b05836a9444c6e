"""pending shows a killed consumer's stuck entries, on one stream and on partitions."""

from __future__ import annotations

import redis

from streamlib import StreamSettings
from tests.cli.conftest import Run, as_json, produce
from tests.helpers import wait_for


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
