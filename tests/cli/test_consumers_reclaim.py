"""consumers, consumers prune and reclaim against real stuck and idle consumers."""

from __future__ import annotations

import contextlib

import redis

from streamlib import StreamSettings
from tests.cli.conftest import Run, as_json, drain, produce
from tests.helpers import wait_for


def died_between_batches(client: redis.Redis, settings: StreamSettings, name: str) -> None:
    """A consumer ``name`` that read and acknowledged what was left, then died.

    (A consumer that stops cleanly with nothing pending leaves the group by itself.)
    """
    with contextlib.suppress(redis.ResponseError):  # BUSYGROUP: it exists already
        client.xgroup_create(settings.stream, settings.group, id="0")
    [(_, entries)] = client.xreadgroup(settings.group, name, {settings.stream: ">"})
    client.xack(settings.stream, settings.group, *(entry_id for entry_id, _ in entries))


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
    died_between_batches(client, settings, "finished")  # idle and empty, still listed
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
    died_between_batches(client, settings, "gone")
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
