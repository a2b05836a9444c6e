"""consumers and consumers prune against real stuck and idle consumers."""

from __future__ import annotations

import redis

from streamlib import StreamSettings
from tests.cli.conftest import Run, as_json, drain, produce
from tests.helpers import wait_for


def test_consumers_lists_pending_and_idle(
    run: Run, client: redis.Redis, settings: StreamSettings, killed_consumer
) -> None:
    produce(client, settings, 6)
    killed_consumer("stuck", 3)
    doc = as_json(run("consumers", "--json"))
    [c] = doc["consumers"]
    assert (c["name"], c["pending"]) == ("stuck", 3)
    assert c["idle_ms"] >= 0
    lines = run("consumers").stdout.splitlines()
    assert lines[0].split() == ["CONSUMER", "PENDING", "IDLE", "INACTIVE"]
    assert lines[1].split()[:2] == ["stuck", "3"]


def test_prune_deletes_only_idle_consumers_without_pending(
    run: Run, client: redis.Redis, settings: StreamSettings, killed_consumer
) -> None:
    produce(client, settings, 6)
    killed_consumer("stuck", 3)  # idle, but holds 3 entries: must be kept
    # Took the rest, acked: idle and empty. An hour's min-idle: with the fixture's
    # 200 ms it would also reclaim stuck's entries whenever the run starts late.
    drain(client, settings, consumer="finished", min_idle_ms=3_600_000)
    wait_for(
        lambda: all(c["idle_ms"] >= 300 for c in as_json(run("consumers", "--json"))["consumers"]),
        what="both consumers idle",
    )
    client.xgroup_createconsumer(settings.stream, settings.group, "busy")  # new, empty

    dry = as_json(run("consumers", "prune", "--idle", "300ms", "--dry-run", "--json"))
    assert {c["name"]: c["action"] for c in dry["consumers"]}["finished"] == "would delete"
    assert len(as_json(run("consumers", "--json"))["consumers"]) == 3

    result = run("consumers", "prune", "--idle", "300")
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert "deleted" in rows["finished"]
    assert "kept" in rows["stuck"] and "has 3 pending entries" in rows["stuck"]
    assert "kept" in rows["busy"] and "active" in rows["busy"]

    left = {c["name"] for c in as_json(run("consumers", "--json"))["consumers"]}
    assert left == {"stuck", "busy"}
    assert as_json(run("pending", "--json"))["pending"] == 3  # nothing was dropped


def test_prune_takes_options_before_the_subcommand(
    run: Run, client: redis.Redis, settings: StreamSettings
) -> None:
    produce(client, settings, 1)
    drain(client, settings, consumer="gone")
    result = run(
        "consumers",
        "--redis-url",
        settings.redis_url,
        "--stream",
        settings.stream,
        "--group",
        settings.group,
        "prune",
        "--idle",
        "0",
        "--json",
        target=False,
    )
    assert [c["name"] for c in as_json(result)["consumers"]] == ["gone"]
