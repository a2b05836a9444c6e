"""tail: the newest entries decoded, never joining a group."""

from __future__ import annotations

import redis

from streamlib import StreamSettings
from tests.streamlib.cli.conftest import POISON, Run, as_json, parts, produce
from tests.support.helpers import remaining


def test_tail_prints_the_newest_entries_decoded(
    run: Run, client: redis.Redis, settings: StreamSettings
) -> None:
    ids = produce(client, settings, 5)
    bad = client.xadd(settings.stream, POISON).decode()
    doc = as_json(run("tail", "--count", "3", "--json"))
    assert [e["id"] for e in doc["entries"]] == [ids[3], ids[4], bad]
    assert doc["entries"][0]["type"] == "quote"
    assert doc["entries"][0]["data"]["n"] == 3
    assert doc["entries"][2]["fields"] == POISON and "error" in doc["entries"][2]

    lines = run("tail", "--count", "2").stdout.splitlines()
    assert lines[0].startswith(f"{ids[4]}  quote  ")
    assert '"n": 4' in lines[0]
    assert lines[1].startswith(f"{bad}  !poison (")
    assert client.exists(settings.stream) and not client.xinfo_groups(settings.stream)


def test_tail_never_joins_the_group(
    run: Run, client: redis.Redis, settings: StreamSettings
) -> None:
    produce(client, settings, 2)
    client.xgroup_create(settings.stream, settings.group, id="0")
    assert len(as_json(run("tail", "--json"))["entries"]) == 2
    [g] = client.xinfo_groups(settings.stream)
    assert (g["consumers"], g["pending"], g["entries-read"]) == (0, 0, None)


def test_tail_of_a_missing_stream(run: Run, client: redis.Redis) -> None:
    result = run("tail")
    assert result.exit_code == 3 and "not found" in result.stderr


def test_tail_across_partitions(run4: Run, client: redis.Redis, settings4: StreamSettings) -> None:
    """The newest entries over all partitions, merged by id, each naming its partition."""
    ps = parts(settings4)
    produce(client, settings4, 12)
    client.xgroup_create(ps[1].stream, settings4.group, id="0")
    newest = max(int(client.xinfo_stream(p.stream)["last-generated-id"].split(b"-")[0]) for p in ps)
    bad = client.xadd(ps[3].stream, POISON, id=f"{newest + 1}-0").decode()  # after every other
    every = sorted(
        ((e.decode(), i) for i, p in enumerate(ps) for e, _ in client.xrange(p.stream)),
        key=lambda pair: tuple(map(int, pair[0].split("-"))),
    )
    doc = as_json(run4("tail", "--count", "4", "--json"))
    assert [(e["id"], e["partition"]) for e in doc["entries"]] == every[-4:]
    assert doc["entries"][-1]["id"] == bad and "error" in doc["entries"][-1]

    lines = run4("tail", "--count", "2").stdout.splitlines()
    assert lines[1].startswith(f"3/{bad}  !poison (")
    entry_id, partition = every[-2]
    assert lines[0].startswith(f"{partition}/{entry_id}  quote  ")
    [g] = client.xinfo_groups(ps[1].stream)
    assert (g["consumers"], g["pending"]) == (0, 0)  # never joined the group

    one = as_json(run4("tail", "--partition", "3", "--json"))
    assert [e["id"] for e in one["entries"]] == remaining(client, ps[3].stream)[-10:]
