"""dead list / show / replay / purge, with dead letters made by the real consumer."""

from __future__ import annotations

from collections.abc import Sequence

import redis

from streamlib import BatchResult, GroupConsumer, Message, StreamSettings
from tests.cli.conftest import POISON, Run, as_json, drain, produce


def poison(client: redis.Redis, settings: StreamSettings) -> str:
    entry_id = client.xadd(settings.stream, POISON)
    return entry_id.decode()


def test_list_and_show(run: Run, client: redis.Redis, settings: StreamSettings) -> None:
    produce(client, settings, 3)
    bad = poison(client, settings)
    drain(client, settings)

    doc = as_json(run("dead", "list", "--json"))
    assert doc["stream"] == settings.dead_letters and doc["length"] == 1
    [letter] = doc["dead_letters"]
    assert letter["orig_id"] == bad
    assert letter["orig_stream"] == settings.stream
    assert letter["group"] == settings.group and letter["consumer"] == settings.consumer
    assert letter["deliveries"] == 1
    assert "data" in letter["reason"]

    table = run("dead", "list").stdout
    assert "1 dead letters" in table
    assert letter["id"] in table and bad in table

    shown = as_json(run("dead", "show", letter["id"], "--json"))
    assert shown["fields"] == POISON
    text = run("dead", "show", letter["id"]).stdout
    assert "{not json" in text and letter["reason"] in text

    assert run("dead", "show", "1-1").exit_code == 3
    assert run("dead", "show", "not-an-id").exit_code == 1


def test_replay_round_trips_a_poison_entry(
    run: Run, client: redis.Redis, settings: StreamSettings
) -> None:
    poison(client, settings)
    drain(client, settings)
    [letter] = as_json(run("dead", "list", "--json"))["dead_letters"]

    doc = as_json(run("dead", "replay", letter["id"], "--json"))
    [replayed] = doc["replayed"]
    assert replayed["key"] == "poison-key" and replayed["orig_id"] == letter["orig_id"]
    assert replayed["new_id"] != letter["orig_id"]
    assert as_json(run("dead", "list", "--json"))["length"] == 0
    [(_new_id, fields)] = client.xrange(settings.stream, replayed["new_id"], replayed["new_id"])
    assert {k.decode(): v.decode() for k, v in fields.items()} == POISON  # byte for byte

    drain(client, settings)  # still broken: dead-lettered again, never lost
    [again] = as_json(run("dead", "list", "--json"))["dead_letters"]
    assert again["orig_id"] == replayed["new_id"]


def test_replay_after_the_consumer_is_fixed(
    run: Run, client: redis.Redis, settings: StreamSettings
) -> None:
    """A handler bug rejects an entry; after the fix, replay stores it under its key."""
    ids = produce(client, settings, 4)
    victim = ids[2]

    def buggy(messages: Sequence[Message]) -> BatchResult:
        return BatchResult(rejected={m.id: "bug #42" for m in messages if m.id == victim})

    GroupConsumer(client, settings, buggy).run(burst=True)
    [letter] = as_json(run("dead", "list", "--json"))["dead_letters"]
    assert letter["reason"] == "bug #42"

    done = as_json(run("dead", "replay", "--all", "--json"))["replayed"]
    assert [r["orig_id"] for r in done] == [victim]
    stored: dict[str, Message] = {}
    drain(client, settings, store=stored)  # the fixed consumer
    [message] = stored.values()
    assert message.envelope.key == done[0]["key"]
    assert message.id == done[0]["new_id"]
    assert as_json(run("dead", "list", "--json"))["length"] == 0
    assert as_json(run("pending", "--json"))["pending"] == 0


def test_replay_arguments(run: Run, client: redis.Redis, settings: StreamSettings) -> None:
    poison(client, settings)
    drain(client, settings)
    [letter] = as_json(run("dead", "list", "--json"))["dead_letters"]
    assert run("dead", "replay").exit_code == 1
    assert run("dead", "replay", letter["id"], "--all").exit_code == 1
    partial = run("dead", "replay", letter["id"], "1-1")
    assert partial.exit_code == 3
    assert "not found: 1-1" in partial.stdout
    assert "replayed 1 dead letters" in partial.stdout


def test_purge_asks_unless_yes(run: Run, client: redis.Redis, settings: StreamSettings) -> None:
    for _ in range(3):
        poison(client, settings)
    drain(client, settings)
    refused = run("dead", "purge", input="n\n")
    assert refused.exit_code == 1
    assert as_json(run("dead", "list", "--json"))["length"] == 3
    confirmed = run("dead", "purge", input="y\n")
    assert confirmed.exit_code == 0 and "deleted 3 dead letters" in confirmed.stdout
    assert as_json(run("dead", "purge", "--yes", "--json")) == {
        "stream": settings.dead_letters,
        "removed": 0,
    }


def test_replay_keeps_the_dead_letter_when_the_xadd_fails(
    run: Run, client: redis.Redis, settings: StreamSettings
) -> None:
    poison(client, settings)
    drain(client, settings)
    [letter] = as_json(run("dead", "list", "--json"))["dead_letters"]
    client.delete(settings.stream)
    client.set(settings.stream, "not a stream")  # XADD now fails with WRONGTYPE
    failed = run("dead", "replay", letter["id"])
    assert failed.exit_code == 1 and "WRONGTYPE" in failed.stderr
    assert as_json(run("dead", "list", "--json"))["dead_letters"] == [letter]
