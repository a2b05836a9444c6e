"""trim --acked: removes what every group read and acknowledged, never more."""

from __future__ import annotations

import redis

from streamlib import StreamSettings
from tests.streamlib.cli.conftest import P, Run, as_json, drain, keys_in, parts, produce, send
from tests.support.helpers import read_and_ack, remaining


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


def test_trim_across_partitions(run4: Run, client: redis.Redis, settings4: StreamSettings) -> None:
    """Each partition keeps what its own groups still need; a missing one is a row of zeros."""
    ps = parts(settings4)
    send(client, settings4, keys_in(P, {0, 1, 2}, 30))  # nothing routed to partition 3
    ids = {i: remaining(client, ps[i].stream) for i in range(3)}
    read_and_ack(client, ps[0].stream, settings4.group, len(ids[0]), set())  # all acked
    read_and_ack(client, ps[1].stream, settings4.group, 4, {2})  # needs from its 3rd entry
    read_and_ack(client, ps[2].stream, settings4.group, 0, set())  # read nothing yet

    dry = as_json(run4("trim", "--acked", "--dry-run", "--json"))
    assert [p["removed"] for p in dry["partitions"]] == [len(ids[0]), 2, 0, 0]
    assert dry["removed"] == len(ids[0]) + 2 and dry["length_before"] == 30
    assert dry["partitions"][1]["threshold"] == ids[1][2]
    assert dry["partitions"][3] == {
        "partition": 3, "stream": ps[3].stream, "length_before": 0, "threshold": None,
        "removed": 0,
    }  # fmt: skip
    assert {g["partition"] for g in dry["groups"]} == {0, 1, 2}
    assert all(remaining(client, ps[i].stream) == ids[i] for i in range(3))

    table = run4("trim", "--acked").stdout
    assert table.splitlines()[0].split()[:2] == ["PARTITION", "GROUP"]
    assert table.rstrip().endswith(f"removed {len(ids[0]) + 2} of 30 entries")
    assert remaining(client, ps[0].stream) == []
    assert remaining(client, ps[1].stream) == ids[1][2:]
    assert remaining(client, ps[2].stream) == ids[2]

    client.xgroup_destroy(ps[2].stream, settings4.group)  # partition 2: entries, no group
    refused = run4("trim", "--acked")
    assert refused.exit_code == 1 and f"stream {ps[2].stream!r} has no consumer group" in (
        refused.stderr
    )
    assert remaining(client, ps[1].stream) == ids[1][2:]  # refused before trimming anything
    one = as_json(run4("trim", "--acked", "--partition", "1", "--json"))
    assert [p["partition"] for p in one["partitions"]] == [1] and one["removed"] == 0
    forced = as_json(run4("trim", "--acked", "--force", "--partition", "2", "--json"))
    assert forced["removed"] == len(ids[2]) and client.xlen(ps[2].stream) == 0
