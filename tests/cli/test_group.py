"""group create / destroy / setid, on one stream and on every partition."""

from __future__ import annotations

import redis

from streamlib import StreamSettings
from tests.cli.conftest import Run, as_json, produce


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
