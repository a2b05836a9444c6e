"""trim --acked: removes what every group read and acknowledged, never more."""

from __future__ import annotations

import redis

from streamlib import StreamSettings
from tests.cli.conftest import Run, as_json, drain, produce
from tests.helpers import read_and_ack, remaining


def test_trim_keeps_what_the_slowest_group_needs(
    run: Run, client: redis.Redis, settings: StreamSettings
) -> None:
    s = settings.stream
    ids = produce(client, settings, 20)
    read_and_ack(client, s, "done", 20, set())  # needs nothing before ids[19]+1
    read_and_ack(client, s, "holey", 12, {4})  # one unacked entry: needs from ids[4]
    read_and_ack(client, s, "behind", 7, set())  # read 7, acked 7: needs from ids[7]
    lags = {g["name"]: g["lag"] for g in as_json(run("info", "--json"))["groups"]}

    dry = as_json(run("trim", "--acked", "--dry-run", "--json"))
    assert dry["dry_run"] is True and dry["removed"] == 4 and dry["threshold"] == ids[4]
    needs = {g["group"]: g["needs_from"] for g in dry["groups"]}
    assert needs["holey"] == ids[4] and needs["behind"] == ids[7]
    assert remaining(client, s) == ids

    table = run("trim", "--acked").stdout
    assert f"removed 4 of 20 entries (ids below {ids[4]})" in table
    assert remaining(client, s) == ids[4:]
    # Lag stays known (nothing a group hadn't read was deleted), and every group can go on.
    after = {g["name"]: g["lag"] for g in as_json(run("info", "--json"))["groups"]}
    assert after == lags
    for name in ("done", "holey", "behind"):
        drain(client, settings, group=name, min_idle_ms=1)
    assert as_json(run("trim", "--acked", "--json"))["removed"] == 16
    assert remaining(client, s) == []


def test_trim_with_a_group_moved_forward(
    run: Run, client: redis.Redis, settings: StreamSettings
) -> None:
    ids = produce(client, settings, 5)
    client.xgroup_create(settings.stream, "late", id="$")  # only wants new entries
    assert as_json(run("trim", "--acked", "--json"))["removed"] == 5
    new = produce(client, settings, 7, start=5)
    assert remaining(client, settings.stream) == new
    assert ids


def test_trim_refuses_without_groups_unless_forced(
    run: Run, client: redis.Redis, settings: StreamSettings
) -> None:
    produce(client, settings, 3)
    refused = run("trim", "--acked")
    assert refused.exit_code == 1 and "no consumer group" in refused.stderr
    assert client.xlen(settings.stream) == 3
    forced = as_json(run("trim", "--acked", "--force", "--json"))
    assert forced["removed"] == 3 and forced["forced"] is True
    assert client.xlen(settings.stream) == 0 and client.exists(settings.stream)


def test_trim_usage_and_missing_stream(run: Run, client: redis.Redis) -> None:
    assert run("trim").exit_code == 1
    assert run("trim", "--acked").exit_code == 3
