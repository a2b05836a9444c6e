"""consumers and consumers prune against real stuck and idle consumers."""

from __future__ import annotations

import contextlib

import redis

from streamlib import StreamSettings
from tests.streamlib.cli.conftest import P, Run, as_json, parts, produce, target_args
from tests.support.helpers import wait_for


def died_between_batches(client: redis.Redis, settings: StreamSettings, name: str) -> None:
    """A consumer ``name`` that read and acknowledged what was left on every partition, then died.

    (A consumer that stops cleanly with nothing pending leaves the group by itself.)
    """
    for one in parts(settings):
        with contextlib.suppress(redis.ResponseError):  # BUSYGROUP: it exists already
            client.xgroup_create(one.stream, one.group, id="0", mkstream=True)
        reply = client.xreadgroup(one.group, name, {one.stream: ">"})
        ids = [entry_id for _, entries in reply for entry_id, _ in entries]
        if ids:
            client.xack(one.stream, one.group, *ids)


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
        *target_args(settings),  # given to the group, before the subcommand
        "prune",
        "--idle",
        "0",
        "--json",
        target=False,
    )
    assert [c["name"] for c in as_json(result)["consumers"]] == ["gone"]


def test_consumers_and_prune_across_partitions(
    run4: Run, client: redis.Redis, settings4: StreamSettings, killed_consumer
) -> None:
    """A replica is a consumer on every partition; prune judges each partition apart."""
    ps = parts(settings4)
    produce(client, settings4, 40)
    died_between_batches(client, settings4, "finished")  # all 4 read, acked
    produce(client, settings4, 60, start=40)
    killed_consumer("stuck", 2, ps[0].stream)  # holds 2 entries of partition 0 only
    wait_for(
        lambda: all(c["idle_ms"] >= 300 for c in as_json(run4("consumers", "--json"))["consumers"]),
        what="every consumer idle",
    )

    found = as_json(run4("consumers", "--json"))["consumers"]
    assert sorted((c["partition"], c["name"], c["pending"]) for c in found) == [
        (0, "finished", 0), (0, "stuck", 2), (1, "finished", 0), (2, "finished", 0),
        (3, "finished", 0),
    ]  # fmt: skip
    lines = run4("consumers").stdout.splitlines()
    assert lines[0].split() == ["PARTITION", "CONSUMER", "PENDING", "IDLE", "INACTIVE"]

    dry = as_json(run4("consumers", "prune", "--idle", "300ms", "--dry-run", "--json"))
    assert {(d["partition"], d["name"], d["action"]) for d in dry["consumers"]} == {
        *((i, "finished", "would delete") for i in range(P)),
        (0, "stuck", "kept"),
    }
    one = as_json(run4("consumers", "prune", "--idle", "300ms", "--partition", "3", "--json"))
    assert [(d["partition"], d["action"]) for d in one["consumers"]] == [(3, "deleted")]
    done = as_json(run4("consumers", "prune", "--idle", "300ms", "--json"))["consumers"]
    assert sorted((d["partition"], d["name"]) for d in done if d["action"] == "deleted") == [
        (0, "finished"), (1, "finished"), (2, "finished"),
    ]  # fmt: skip
    left = as_json(run4("consumers", "--json"))["consumers"]
    assert [(c["partition"], c["name"]) for c in left] == [(0, "stuck")]
    assert as_json(run4("pending", "--json"))["pending"] == 2  # nothing was dropped
