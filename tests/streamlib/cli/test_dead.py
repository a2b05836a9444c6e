"""dead list / show / replay / purge, with dead letters made by the real consumer.

On a partitioned stream too, where ids alone can repeat across partitions."""

from __future__ import annotations

from collections.abc import Sequence

import redis

from streamlib import BatchResult, GroupConsumer, Message, StreamSettings
from streamlib.deadletter import dead_letter_fields
from tests.streamlib.cli.conftest import POISON, Run, as_json, drain, parts, produce


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


def test_dead_letters_across_partitions(
    run4: Run, client: redis.Redis, settings4: StreamSettings
) -> None:
    """Listed with their partition, shown by ID or N/ID, replayed onto their own partition."""
    ps = parts(settings4)
    produce(client, settings4, 20)
    bad = {i: client.xadd(ps[i].stream, POISON).decode() for i in (0, 2)}
    drain(client, settings4)  # the real consumer dead-letters both

    listed = as_json(run4("dead", "list", "--json"))
    assert listed["length"] == 2
    assert [p["length"] for p in listed["partitions"]] == [1, 0, 1, 0]
    by_partition = {d["partition"]: d for d in listed["dead_letters"]}
    assert {i: d["orig_id"] for i, d in by_partition.items()} == bad
    assert by_partition[2]["orig_stream"] == ps[2].stream
    table = run4("dead", "list").stdout
    assert table.splitlines()[0].startswith(f"2 dead letters in {ps[0].dead_letters} .. ")
    assert table.splitlines()[2].split()[:2] == ["PARTITION", "ID"]

    letter = by_partition[2]
    shown = as_json(run4("dead", "show", letter["id"], "--json"))  # unique: found by its id
    assert (shown["partition"], shown["stream"]) == (2, ps[2].dead_letters)
    assert shown["fields"] == POISON
    assert as_json(run4("dead", "show", f"2/{letter['id']}", "--json"))["id"] == letter["id"]
    in_two = run4("dead", "show", letter["id"], "--partition", "2", "--json")
    assert as_json(in_two)["partition"] == 2
    assert f"id           2/{letter['id']}" in run4("dead", "show", f"2/{letter['id']}").stdout
    assert run4("dead", "show", f"1/{letter['id']}").exit_code == 3
    assert run4("dead", "show", f"2/{letter['id']}", "--partition", "1").exit_code == 1
    assert run4("dead", "show", f"9/{letter['id']}").exit_code == 1  # no partition 9
    assert run4("dead", "show", "x/1-1").exit_code == 1

    done = as_json(run4("dead", "replay", f"2/{letter['id']}", "--json"))["replayed"]
    assert [(r["partition"], r["orig_id"]) for r in done] == [(2, bad[2])]
    assert client.xrange(ps[2].stream, done[0]["new_id"], done[0]["new_id"])  # its own partition
    assert [d["partition"] for d in as_json(run4("dead", "list", "--json"))["dead_letters"]] == [0]

    everything = as_json(run4("dead", "replay", "--all", "--json"))["replayed"]
    assert [(r["partition"], r["orig_id"]) for r in everything] == [(0, bad[0])]
    drain(client, settings4)  # still poison: dead again, each on its own partition
    again = as_json(run4("dead", "list", "--json"))["dead_letters"]
    assert sorted(d["partition"] for d in again) == [0, 2]

    assert run4("dead", "purge", input="n\n").exit_code == 1
    purged = run4("dead", "purge", input="y\n")
    assert purged.exit_code == 0 and "deleted 2 dead letters" in purged.stdout
    assert "Delete 2 dead letters" in purged.stderr
    assert all(client.xlen(p.dead_letters) == 0 for p in ps)


def test_an_id_on_two_partitions_is_refused_without_its_partition(
    run4: Run, client: redis.Redis, settings4: StreamSettings
) -> None:
    ps = parts(settings4)
    for i in (1, 3):  # dead-letter streams are separate: the same id can be on both
        fields = dead_letter_fields(
            orig_id="5-0", orig_stream=ps[i].stream, group=settings4.group, consumer="c",
            deliveries=4, reason=f"on {i}", fields={b"key": f"k{i}".encode()},
        )  # fmt: skip
        client.xadd(ps[i].dead_letters, fields, id="7-0")  # type: ignore[arg-type]

    ambiguous = run4("dead", "show", "7-0")
    assert ambiguous.exit_code == 1
    assert "on 2 partitions (1/7-0, 3/7-0)" in ambiguous.stderr
    assert run4("dead", "replay", "7-0").exit_code == 1
    assert client.xlen(ps[1].dead_letters) == client.xlen(ps[3].dead_letters) == 1  # untouched
    assert as_json(run4("dead", "show", "3/7-0", "--json"))["reason"] == "on 3"
    assert as_json(run4("dead", "show", "7-0", "--partition", "1", "--json"))["reason"] == "on 1"

    partial = run4("dead", "replay", "3/7-0", "1/7-1")
    assert partial.exit_code == 3 and "not found: 1/7-1" in partial.stdout
    replayed = client.xrange(ps[3].stream)
    assert [fields for _, fields in replayed] == [{b"key": b"k3"}]
    assert client.xlen(ps[3].dead_letters) == 0 and client.xlen(ps[1].dead_letters) == 1
