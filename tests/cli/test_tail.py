"""tail: the newest entries decoded, never joining a group."""

from __future__ import annotations

import redis

from streamlib import StreamSettings
from tests.cli.conftest import POISON, Run, as_json, produce


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
