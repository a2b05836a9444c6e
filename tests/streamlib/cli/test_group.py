"""group create / destroy / setid, on one stream and on every partition."""

from __future__ import annotations

import redis

from streamlib import StreamSettings
from tests.streamlib.cli.conftest import P, Run, as_json, keys_in, parts, produce, send
from tests.support.helpers import remaining


def test_group_create_is_idempotent(
    run: Run, client: redis.Redis, settings: StreamSettings
) -> None:
    created = as_json(run("group", "create", "--json"))
    assert created["created"] is True
    assert created["group"]["last_delivered_id"] == "0-0"
    again = run("group", "create", "--id", "$")
    assert again.exit_code == 0 and "already exists" in again.stdout
    assert as_json(run("info", "--json"))["groups"][0]["last_delivered_id"] == "0-0"


def test_group_create_without_mkstream_needs_the_stream(run: Run, client: redis.Redis) -> None:
    assert run("group", "create", "--no-mkstream").exit_code == 3


def test_group_setid_and_destroy_ask_first(
    run: Run, client: redis.Redis, settings: StreamSettings
) -> None:
    ids = produce(client, settings, 4)
    run("group", "create")
    assert run("group", "setid", ids[1], input="n\n").exit_code == 1
    assert as_json(run("info", "--json"))["groups"][0]["last_delivered_id"] == "0-0"

    moved = as_json(run("group", "setid", ids[1], "--entries-read", "2", "--yes", "--json"))
    assert moved["before"]["last_delivered_id"] == "0-0"
    assert moved["after"]["last_delivered_id"] == ids[1]
    assert moved["after"]["lag"] == 2
    assert run("group", "setid", "nonsense", "--yes").exit_code == 1

    assert run("group", "destroy", input="n\n").exit_code == 1
    assert client.xinfo_groups(settings.stream)
    done = run("group", "destroy", input="y\n")
    assert done.exit_code == 0 and "destroyed group" in done.stdout
    assert client.xinfo_groups(settings.stream) == []
    assert run("group", "destroy", "--yes").exit_code == 3


def test_group_commands_across_partitions(
    run4: Run, client: redis.Redis, settings4: StreamSettings
) -> None:
    ps = parts(settings4)
    created = as_json(run4("group", "create", "--json"))
    assert created["created"] is True
    assert [p["created"] for p in created["partitions"]] == [True] * P
    assert all(client.xinfo_groups(p.stream) for p in ps)  # MKSTREAM on every partition
    again = run4("group", "create")
    assert again.exit_code == 0
    assert again.stdout.splitlines()[3].startswith("partition 3: group g already exists")

    produce(client, settings4, 20)
    middle = remaining(client, ps[2].stream)[1]
    moved = as_json(run4("group", "setid", middle, "--yes", "--json"))
    assert [p["after"]["last_delivered_id"] for p in moved["partitions"]] == [middle] * P
    assert moved["after"]["last_delivered_id"] == middle
    lines = run4("group", "setid", "0", "--yes").stdout.splitlines()
    assert lines == [f"partition {i}: moved group g: {middle} -> 0-0" for i in range(P)]
    refused = run4("group", "setid", "0", "--entries-read", "0", "--yes")
    assert refused.exit_code == 1 and "give one partition" in refused.stderr
    one = as_json(
        run4("group", "setid", "0", "--entries-read", "0", "--partition", "2", "--yes", "--json")
    )
    assert [p["partition"] for p in one["partitions"]] == [2]
    assert one["after"]["lag"] == client.xlen(ps[2].stream)
    ends = as_json(run4("group", "setid", "$", "--yes", "--json"))["partitions"]
    assert [p["after"]["lag"] for p in ends] == [0] * P

    client.xreadgroup(settings4.group, "c", {ps[0].stream: "0"})  # nothing new: no pending
    produce(client, settings4, 24, start=20)
    client.xreadgroup(settings4.group, "c", {ps[1].stream: ">"}, count=1)
    asked = run4("group", "destroy", input="n\n")
    assert asked.exit_code == 1 and f"on {settings4.stream} ({P} partitions)" in asked.stderr
    assert "1 pending" in asked.stderr
    done = as_json(run4("group", "destroy", "--yes", "--json"))
    assert done["destroyed"]["pending"] == 1 and len(done["partitions"]) == P
    assert not any(client.xinfo_groups(p.stream) for p in ps)
    assert run4("group", "destroy", "--yes").exit_code == 3


def test_group_create_without_mkstream_on_the_partitions_that_exist(
    run4: Run, client: redis.Redis, settings4: StreamSettings
) -> None:
    ps = parts(settings4)
    assert run4("group", "create", "--no-mkstream").exit_code == 3  # no partition exists
    send(client, settings4, keys_in(P, {0, 2}, 4))
    doc = as_json(run4("group", "create", "--no-mkstream", "--json"))
    assert [p["created"] for p in doc["partitions"]] == [True, False, True, False]
    assert not client.exists(ps[1].stream) and not client.exists(ps[3].stream)
    text = run4("group", "create", "--no-mkstream").stdout.splitlines()
    assert text[1] == f"partition 1: no stream {ps[1].stream}: group g not created"
