"""GroupConsumer against a real Redis: ack, retry, reclaim, dead letters, recovery."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Sequence

import pytest
import redis

from streamlib import (
    BatchResult,
    GroupConsumer,
    Message,
    OutageError,
    StreamProducer,
    StreamSettings,
    decode,
    encode,
    parse_dead_letter,
)
from streamlib import consumer as consumer_module
from streamlib.consumer import read_ahead_taker
from streamlib.testing import LocalRedis
from tests.support.helpers import quote, wait_for


def fill(client: redis.Redis, settings: StreamSettings, n: int, start: int = 0) -> list[str]:
    envelopes = [quote(i) for i in range(start, start + n)]
    StreamProducer(client, settings.stream).send_many(envelopes)
    return [e.key for e in envelopes]


def pending(client: redis.Redis, settings: StreamSettings) -> int:
    return int(client.xpending(settings.stream, settings.group)["pending"])


def drain(consumer: GroupConsumer, done: Callable[[], bool], timeout: float = 30) -> None:
    """Run bursts until ``done()`` (reclaims need min-idle to pass between bursts)."""
    wait_for(lambda: consumer.run(burst=True) and done(), timeout=timeout, what="drain")


def pending_ids(client: redis.Redis, settings: StreamSettings) -> set[str]:
    rows = client.xpending_range(settings.stream, settings.group, "-", "+", 10_000)
    return {row["message_id"].decode() for row in rows}


def test_acks_only_after_the_handler_returned(client: redis.Redis, settings) -> None:  # type: ignore[no-untyped-def]
    keys = fill(client, settings, 120)
    unacked_during: list[bool] = []
    seen: list[str] = []

    def handler(batch: Sequence[Message]) -> None:
        unacked_during.append({m.id for m in batch} <= pending_ids(client, settings))
        seen.extend(m.envelope.key for m in batch)

    consumer = GroupConsumer(client, settings, handler)
    consumer.run(burst=True)
    assert seen == keys  # every entry, in stream order
    # While each batch (50, 50, 20) was in the handler, it was still pending.
    assert unacked_during == [True, True, True]
    assert pending(client, settings) == 0
    assert consumer.stats.acked == consumer.stats.read == 120


#: How long a "slow sink" takes a batch: far longer than reading one, on any machine.
SLOW_BATCH_S = 0.5


@pytest.mark.parametrize("taker", ["thread", "loop"])
def test_the_next_batch_is_read_while_a_batch_is_handled(
    client: redis.Redis, settings: StreamSettings, taker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whoever takes the reply (the read-ahead thread, or the loop once the
    # batch in hand is done), the read is sent before that batch is handled.
    monkeypatch.setattr(consumer_module, "read_ahead_taker", lambda *timings: taker)
    keys = fill(client, settings, 150)
    batches: list[list[str]] = []

    def handler(batch: Sequence[Message]) -> None:
        batches.append([m.envelope.key for m in batch])
        if len(batches) == 2:  # the third batch is read meanwhile
            wait_for(lambda: pending(client, settings) == 100, what="the batch read ahead")

    consumer = GroupConsumer(client, settings, handler)
    consumer.run(burst=True)
    # The handler still sees one batch at a time, in stream order.
    assert [len(b) for b in batches] == [50, 50, 50]
    assert [k for b in batches for k in b] == keys
    assert pending(client, settings) == 0
    assert consumer.stats.read == consumer.stats.acked == 150
    assert consumer.stats.redelivered == 0


def test_a_slow_handler_gets_the_next_batch_read_ahead_by_the_thread(
    client: redis.Redis, settings: StreamSettings
) -> None:
    fill(client, settings, 150)
    batches: list[int] = []
    threads: list[str] = []

    def handler(batch: Sequence[Message]) -> None:
        batches.append(len(batch))
        threads.extend(t.name for t in threading.enumerate() if t.name.startswith("read-ahead"))
        if len(batches) == 1:  # a slow sink: handling outlasts decoding from now on,
            threading.Event().wait(SLOW_BATCH_S)
        elif len(batches) == 2:  # so the third batch comes in while this one is here
            wait_for(lambda: pending(client, settings) == 100, what="the batch read ahead")

    consumer = GroupConsumer(client, settings, handler)
    consumer.run(burst=True)
    assert batches == [50, 50, 50]
    assert threads  # the read-ahead thread took it, leasing it as it came in
    assert (consumer.stats.acked, consumer.stats.reclaimed, consumer.stats.redelivered) == (
        150,
        0,
        0,
    )


def test_who_takes_a_read_sent_ahead() -> None:
    # A handler that waits (on a database) well beyond decoding: the thread,
    # decoding during the wait.
    assert read_ahead_taker(handled_s=0.010, waited_s=0.009, decode_s=0.001, lease_s=10) == "thread"
    # A handler as slow that keeps the CPU busy instead, or waits not much
    # longer than decoding takes: the loop, once the batch is done (a thread
    # would compete with it for the interpreter).
    assert read_ahead_taker(handled_s=0.010, waited_s=0.0005, decode_s=0.001, lease_s=10) == "loop"
    assert read_ahead_taker(handled_s=0.010, waited_s=0.0015, decode_s=0.001, lease_s=10) == "loop"
    # A quicker one: the loop, within a lease interval.
    assert read_ahead_taker(handled_s=0.001, waited_s=0.0, decode_s=0.002, lease_s=10) == "loop"
    # Not past a lease interval: behind so slow a handler a second batch gains little.
    assert read_ahead_taker(handled_s=0.2, waited_s=0.0, decode_s=0.3, lease_s=0.1) is None


def recording_taker(
    told: list[tuple[float, float]], answer: str | None = None
) -> Callable[..., str | None]:
    """``read_ahead_taker`` (or always ``answer``), noting the handled and waited seconds."""

    def taker(handled_s: float, waited_s: float, decode_s: float, lease_s: float) -> str | None:
        told.append((handled_s, waited_s))
        return answer or read_ahead_taker(handled_s, waited_s, decode_s, lease_s)

    return taker


def test_the_taker_is_told_how_long_the_handler_waited_and_how_long_it_computed(
    client: redis.Redis, settings: StreamSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Handling that keeps this thread on the CPU (SQLite working in the
    # loop's thread, say) is not waiting, however long it takes; handling
    # that waits (on a database) is. (The loop takes each read ahead: no
    # decoding in a thread beside the handler.)
    told: list[tuple[float, float]] = []
    monkeypatch.setattr(consumer_module, "read_ahead_taker", recording_taker(told, "loop"))
    fill(client, settings, 150)
    busy_s = 0.3

    def handler(batch: Sequence[Message]) -> None:
        if not told:  # the first batch computes
            until = time.thread_time() + busy_s
            while time.thread_time() < until:
                pass
        elif len(told) == 1:  # the second waits
            threading.Event().wait(SLOW_BATCH_S)

    GroupConsumer(client, settings, handler).run(burst=True)
    (busy_handled, busy_waited), (_, waits_median) = told
    assert busy_handled - busy_waited >= busy_s  # the CPU time is not waiting
    # The median of the two batches' waits: about none, and SLOW_BATCH_S.
    assert waits_median >= SLOW_BATCH_S * 0.9 / 2


def test_a_wait_beside_the_thread_decoding_is_not_taken_for_the_handlers_own(
    client: redis.Redis, settings: StreamSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A handler that keeps the CPU busy, beside a thread decoding slowly:
    # they take turns on the interpreter, so the handler seems to wait. That
    # is not its own wait, and is not told as one.
    told: list[tuple[float, float]] = []
    monkeypatch.setattr(consumer_module, "read_ahead_taker", recording_taker(told, "thread"))
    real_decode = consumer_module.decode_fields

    def slow_decode(fields: object) -> object:  # 200 ms of CPU a batch of 50
        until = time.thread_time() + 0.004
        while time.thread_time() < until:
            pass
        return real_decode(fields)  # type: ignore[arg-type]

    monkeypatch.setattr(consumer_module, "decode_fields", slow_decode)
    fill(client, settings, 5 * settings.batch_size)
    busy_s = 0.2

    def handler(batch: Sequence[Message]) -> None:
        until = time.thread_time() + busy_s
        while time.thread_time() < until:
            pass

    GroupConsumer(client, settings, handler).run(burst=True)
    assert len(told) == 4
    assert all(waited < busy_s / 4 for _, waited in told)


def test_one_long_wait_does_not_decide_for_the_batches_after_it(
    client: redis.Redis, settings: StreamSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A batch that waits long once (SQLite's checkpoint, a slow fsync) among
    # quick ones: the taker goes by the median of the last waits.
    told: list[tuple[float, float]] = []
    monkeypatch.setattr(consumer_module, "read_ahead_taker", recording_taker(told, "loop"))
    fill(client, settings, 6 * settings.batch_size)
    handled = 0

    def handler(batch: Sequence[Message]) -> None:
        nonlocal handled
        handled += 1
        if handled == 3:
            threading.Event().wait(SLOW_BATCH_S)

    GroupConsumer(client, settings, handler).run(burst=True)
    assert told[2][0] >= SLOW_BATCH_S  # the third batch's handling, told after it
    assert all(waited < SLOW_BATCH_S / 2 for _, waited in told)


def test_the_wait_is_measured_again_without_the_thread_every_so_often(
    client: redis.Redis, settings: StreamSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Behind a waiting handler the thread decodes the next batch; a wait
    # measured beside it would be longer than the handler's own, so it is
    # not used, and every RECHECK_EVERY-th read ahead the loop takes the
    # reply to measure it again.
    told: list[tuple[float, float]] = []
    monkeypatch.setattr(consumer_module, "read_ahead_taker", recording_taker(told))
    batches = consumer_module.RECHECK_EVERY + 3
    fill(client, settings, batches * settings.batch_size)
    wait_s = 0.02
    threads: list[str] = []

    def handler(batch: Sequence[Message]) -> None:
        threads.append(
            ",".join(t.name for t in threading.enumerate() if t.name.startswith("read-ahead"))
        )
        threading.Event().wait(wait_s)

    GroupConsumer(client, settings, handler).run(burst=True)
    waited = [w for _, w in told]
    recheck = consumer_module.RECHECK_EVERY - 1
    assert waited[recheck] == 0.0  # the loop takes this one: no wait to go by
    assert all(w >= wait_s * 0.9 for i, w in enumerate(waited) if i != recheck)
    assert threads[-1]  # the thread took the others


def test_a_stall_keeps_the_batch_the_loop_read_ahead_leased(
    client: redis.Redis, settings: StreamSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The loop reads ahead for a quick handler; the handler then stalls, past
    # min-idle, without raising. Both the batch in hand and the one read
    # ahead stay leased: another replica's XAUTOCLAIM finds nothing idle.
    monkeypatch.setattr(consumer_module, "read_ahead_taker", lambda *timings: "loop")
    fill(client, settings, 3 * settings.batch_size)
    stolen: list[int] = []
    handled: list[int] = []

    def handler(batch: Sequence[Message]) -> None:
        handled.append(len(batch))
        if len(handled) == 2:  # the third batch was read ahead meanwhile
            wait_for(lambda: pending(client, settings) == 100, what="the batch read ahead")
            threading.Event().wait(4 * settings.min_idle_ms / 1000)
            claimed = client.xautoclaim(
                settings.stream, settings.group, "thief", settings.min_idle_ms, "0", justid=True
            )
            stolen.append(len(claimed))

    consumer = GroupConsumer(client, settings, handler)
    consumer.run(burst=True)
    assert stolen == [0]
    assert handled == [50, 50, 50]
    assert consumer.stats.acked == 150
    assert pending(client, settings) == 0


def test_stop_finishes_the_batch_read_ahead_too(
    client: redis.Redis, settings: StreamSettings
) -> None:
    fill(client, settings, 200)
    batches: list[int] = []
    consumer = GroupConsumer(client, settings, lambda batch: None)

    def handler(batch: Sequence[Message]) -> None:
        batches.append(len(batch))
        if len(batches) == 1:
            threading.Event().wait(SLOW_BATCH_S)  # a slow sink
        elif len(batches) == 2:
            wait_for(lambda: pending(client, settings) == 100, what="the batch read ahead")
            consumer.stop()

    consumer.handler = handler
    consumer.run()
    assert batches == [50, 50, 50]  # the batch in hand, then the one read ahead
    assert pending(client, settings) == 0  # both acknowledged
    assert client.xinfo_groups(settings.stream)[0]["lag"] == 50  # nothing more was read


def test_an_outage_leases_the_batch_read_ahead_as_well(
    client: redis.Redis, settings: StreamSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The loop takes the reply read ahead (a quick handler). The sink goes
    # away while the second batch is in hand, for longer than min-idle; the
    # third was read ahead. Both are held: nobody reclaims them (the
    # consumer's own sweep included), no delivery is counted.
    monkeypatch.setattr(consumer_module, "read_ahead_taker", lambda *timings: "loop")
    fill(client, settings, 150)
    deliveries: list[int] = []
    down_until: list[float] = []

    def handler(batch: Sequence[Message]) -> None:
        if len(deliveries) == 50 and not down_until:
            wait_for(lambda: pending(client, settings) == 100, what="the batch read ahead")
            down_until.append(time.monotonic() + 3 * settings.min_idle_ms / 1000)
        if down_until and time.monotonic() < down_until[0]:
            raise OutageError("the sink is away (test)")
        deliveries.extend(m.deliveries for m in batch)

    consumer = GroupConsumer(client, settings.replace(max_outage=None), handler)
    consumer.run(burst=True)
    assert deliveries == [1] * 150
    assert (consumer.stats.acked, consumer.stats.reclaimed) == (150, 0)


def test_without_read_ahead_one_batch_is_in_hand(
    client: redis.Redis, settings: StreamSettings
) -> None:
    fill(client, settings, 120)
    pending_during: list[int] = []

    def handler(batch: Sequence[Message]) -> None:
        threading.Event().wait(SLOW_BATCH_S)  # slow enough to read ahead, were it on
        pending_during.append(pending(client, settings))

    consumer = GroupConsumer(client, settings.replace(read_ahead=False), handler)
    consumer.run(burst=True)
    assert pending_during == [50, 50, 20]  # each batch alone, nothing read meanwhile
    assert consumer.stats.acked == 120


def test_a_failing_handler_leaves_entries_pending_and_they_are_retried(
    client: redis.Redis, settings: StreamSettings
) -> None:
    keys = fill(client, settings, 10)
    calls: list[list[Message]] = []

    def flaky(batch: Sequence[Message]) -> None:
        calls.append(list(batch))
        if len(calls) == 1:
            raise RuntimeError("sink down")

    # No sweep may reclaim the failed batch within the first run (with the fixture's
    # 200 ms min-idle, a run slowed down past it would retry it before the check).
    consumer = GroupConsumer(client, settings.replace(min_idle_ms=3_600_000), flaky)
    consumer.run(burst=True)
    assert pending(client, settings) == 10  # nothing acked after the failure
    assert consumer.stats.handler_errors == 1

    drain(consumer, lambda: pending(client, settings) == 0)  # re-reads its own pending first
    assert [m.envelope.key for m in calls[1]] == keys
    assert {m.deliveries for m in calls[1]} == {2}  # delivered again


def test_batch_result_acks_the_rest_retries_failed_and_dead_letters_rejected(
    client: redis.Redis, settings: StreamSettings
) -> None:
    fill(client, settings, 5)
    first: list[Message] = []

    def partial(batch: Sequence[Message]) -> BatchResult | None:
        if first:
            return None
        first.extend(batch)
        return BatchResult(failed={batch[0].id: "try later"}, rejected={batch[1].id: "bad quote"})

    # As above: no reclaim of the failed entry within the first run, however slow.
    consumer = GroupConsumer(client, settings.replace(min_idle_ms=3_600_000), partial)
    consumer.run(burst=True)
    rows = client.xpending_range(settings.stream, settings.group, "-", "+", 10)
    assert [r["message_id"].decode() for r in rows] == [first[0].id]
    dead = client.xrange(settings.dead_letters)
    assert len(dead) == 1
    letter = parse_dead_letter(*dead[0])
    assert (letter.orig_id, letter.reason) == (first[1].id, "bad quote")

    drain(consumer, lambda: pending(client, settings) == 0)
    assert consumer.stats.acked == 3 + 1  # the rejected one was acked with its dead letter


def test_a_rejected_entry_is_dead_lettered_with_its_fields_as_written(
    client: redis.Redis, settings: StreamSettings
) -> None:
    # An extra field no decoder reads, and JSON that decoding would not give
    # back byte for byte: the dead letter holds the entry as it was written.
    fields = {**encode(quote(0)), "data": '{ "text" : "caf\\u00e9" }', "trace": "abc"}
    entry_id = client.xadd(settings.stream, fields)  # type: ignore[arg-type]

    def reject(batch: Sequence[Message]) -> BatchResult:
        return BatchResult(rejected={m.id: "no" for m in batch})

    GroupConsumer(client, settings, reject).run(burst=True)
    letter = parse_dead_letter(*client.xrange(settings.dead_letters)[0])
    assert letter.orig_id == entry_id.decode()
    assert letter.fields == client.xrange(settings.stream)[0][1]
    assert letter.fields[b"trace"] == b"abc"
    assert pending(client, settings) == 0


def test_a_rejected_entry_trimmed_meanwhile_is_dead_lettered_as_decoded(
    client: redis.Redis, settings: StreamSettings
) -> None:
    envelope = quote(0)
    client.xadd(settings.stream, encode(envelope))  # type: ignore[arg-type]

    def trim_and_reject(batch: Sequence[Message]) -> BatchResult:
        client.xdel(settings.stream, *(m.id for m in batch))
        return BatchResult(rejected={m.id: "no" for m in batch})

    GroupConsumer(client, settings, trim_and_reject).run(burst=True)
    letter = parse_dead_letter(*client.xrange(settings.dead_letters)[0])
    assert letter.reason == "no"
    assert decode(letter.fields) == envelope
    assert pending(client, settings) == 0


def test_a_batch_in_the_handler_no_longer_holds_the_reply_it_came_in(
    client: redis.Redis, settings: StreamSettings
) -> None:
    # The reply's lists (an entry's [id, fields] and its fields) are let go
    # as each entry is decoded: alive, they would give the cyclic garbage
    # collector two more objects per entry to count and scan.
    # Keys no other test uses: a reply list another test left alive (in a
    # traceback pytest keeps, say) is not counted.
    keys = {k.encode() for k in fill(client, settings, 40, start=7_340_000)}
    alive: list[int] = []

    def ours(o: object) -> bool:  # an entry's [id, fields] or its fields, of this test
        if type(o) is list and len(o) == 2 and type(o[1]) is list:
            o = o[1]
        return type(o) is list and o[4:5] == [b"key"] and o[5] in keys

    def count_reply_lists(batch: Sequence[Message]) -> None:
        gc.collect()
        alive.append(sum(1 for o in gc.get_objects() if ours(o)))

    consumer = GroupConsumer(client, settings, count_reply_lists)
    consumer.run(burst=True)
    assert consumer.stats.acked == 40
    assert alive == [0]


def test_max_deliveries_moves_the_entry_to_dead_letters_with_provenance(
    client: redis.Redis, settings: StreamSettings
) -> None:
    keys = fill(client, settings, 1)
    attempts: list[int] = []

    def always_fails(batch: Sequence[Message]) -> None:
        attempts.extend(m.deliveries for m in batch)
        raise RuntimeError("poison")

    consumer = GroupConsumer(client, settings, always_fails)
    drain(consumer, lambda: client.xlen(settings.dead_letters) == 1)
    assert attempts == [1, 2, 3]  # max_deliveries=3: the 4th delivery is not handled
    assert pending(client, settings) == 0

    entry_id, fields = client.xrange(settings.dead_letters)[0]
    letter = parse_dead_letter(entry_id, fields)
    original = client.xrange(settings.stream)[0]
    assert letter.orig_id == original[0].decode()
    assert letter.orig_stream == settings.stream
    assert (letter.group, letter.consumer) == (settings.group, settings.consumer)
    assert letter.deliveries == 4
    assert letter.reason == "delivered 4 times (max_deliveries=3)"
    assert letter.fields == original[1]
    assert letter.fields[b"key"].decode() == keys[0]
    assert consumer.stats.dead_lettered == 1


def test_undecodable_entries_are_dead_lettered_and_the_rest_is_handled(
    client: redis.Redis, settings: StreamSettings
) -> None:
    keys = fill(client, settings, 3)
    client.xadd(settings.stream, {"junk": "1"})
    client.xadd(settings.stream, {"v": "1", "type": "quote", "key": "k", "ts": "1", "data": "[]"})
    keys += fill(client, settings, 3, start=3)
    seen: list[str] = []
    consumer = GroupConsumer(client, settings, lambda b: seen.extend(m.envelope.key for m in b))
    consumer.run(burst=True)
    assert seen == keys
    reasons = [parse_dead_letter(*e).reason for e in client.xrange(settings.dead_letters)]
    assert reasons == ["missing field 'v'", "field 'data' is a JSON list, not an object"]
    assert pending(client, settings) == 0


def test_pending_ids_of_deleted_entries_are_acknowledged(
    client: redis.Redis, settings: StreamSettings
) -> None:
    fill(client, settings, 6)
    client.xgroup_create(settings.stream, settings.group, id="0")
    reply = client.xreadgroup(settings.group, "gone", {settings.stream: ">"}, count=6)
    ids = [entry_id for entry_id, _ in reply[0][1]]
    client.xdel(settings.stream, *ids[:4])  # trimmed while pending with a dead consumer

    seen: list[str] = []
    consumer = GroupConsumer(client, settings, lambda b: seen.extend(m.id for m in b))
    drain(consumer, lambda: pending(client, settings) == 0)
    assert seen == [i.decode() for i in ids[4:]]
    assert consumer.stats.deleted_acked == 4


def test_own_pending_entries_are_read_again_first_on_start(
    client: redis.Redis, settings: StreamSettings
) -> None:
    keys = fill(client, settings, 8)
    client.xgroup_create(settings.stream, settings.group, id="0")
    client.xreadgroup(settings.group, settings.consumer, {settings.stream: ">"}, count=5)
    slow = settings.replace(min_idle_ms=3_600_000)  # no reclaim can explain what follows
    seen: list[Message] = []
    GroupConsumer(client, slow, seen.extend).run(burst=True)
    assert [m.envelope.key for m in seen] == keys
    assert [m.deliveries for m in seen] == [2] * 5 + [1] * 3
    assert pending(client, settings) == 0


def test_group_is_recreated_after_flushall(
    client: redis.Redis, settings: StreamSettings, in_thread
) -> None:  # type: ignore[no-untyped-def]
    seen: set[str] = set()
    consumer = GroupConsumer(client, settings, lambda b: seen.update(m.envelope.key for m in b))
    in_thread(consumer)
    first = fill(client, settings, 10)
    wait_for(lambda: seen >= set(first), what="first entries")
    client.flushall()
    second = fill(client, settings, 10, start=10)
    wait_for(lambda: seen >= set(second), what="entries after FLUSHALL")
    assert consumer.stats.groups_recreated >= 1
    wait_for(lambda: pending(client, settings) == 0, what="acks after recreation")


def test_survives_a_redis_restart_without_persistence(
    redis_factory: Callable[..., LocalRedis], settings: StreamSettings, in_thread
) -> None:  # type: ignore[no-untyped-def]
    server = redis_factory()
    settings = settings.replace(redis_url=server.url)
    from streamlib import connect

    client = connect(server.url)
    seen: set[str] = set()
    consumer = GroupConsumer(client, settings, lambda b: seen.update(m.envelope.key for m in b))
    in_thread(consumer)
    first = fill(client, settings, 10)
    wait_for(lambda: seen >= set(first), what="entries before the restart")

    server.restart()  # SIGKILL, then a new empty server on the same port
    wait_for(lambda: consumer.stats.redis_errors >= 1, what="the consumer to notice")
    second = fill(client, settings, 10, start=10)
    wait_for(lambda: seen >= set(second), timeout=60, what="entries after the restart")
    wait_for(lambda: pending(client, settings) == 0, what="acks after the restart")
    assert consumer.stats.groups_recreated + consumer.stats.redis_errors >= 1


def test_stop_finishes_and_acks_the_batch_in_hand(
    client: redis.Redis, settings: StreamSettings
) -> None:
    fill(client, settings, 120)
    in_handler = threading.Event()
    release = threading.Event()
    batches: list[int] = []

    def slow(batch: Sequence[Message]) -> None:
        batches.append(len(batch))
        in_handler.set()
        assert release.wait(30)

    consumer = GroupConsumer(client, settings, slow)
    runner = threading.Thread(target=consumer.run)
    runner.start()
    assert in_handler.wait(30)
    consumer.stop()
    release.set()
    runner.join(30)
    assert not runner.is_alive()
    assert batches == [50]  # stopped reading after the batch in hand...
    assert pending(client, settings) == 0  # ...which was acknowledged
    assert consumer.stats.acked == 50


def test_a_clean_end_leaves_the_group_unless_entries_are_still_pending(
    client: redis.Redis, settings: StreamSettings, in_thread
) -> None:  # type: ignore[no-untyped-def]
    fill(client, settings, 10)
    slow = settings.replace(min_idle_ms=3_600_000)  # nobody reclaims what "keeper" holds

    def names() -> set[str]:
        return {c["name"].decode() for c in client.xinfo_consumers(settings.stream, settings.group)}

    def keep_and_stop(batch: Sequence[Message]) -> BatchResult:
        keeper.stop()
        return BatchResult(failed={m.id: "kept pending" for m in batch})

    keeper = GroupConsumer(client, slow.replace(consumer="keeper", batch_size=4), keep_and_stop)
    keeper.run()  # stops cleanly after its first batch, which stays pending with it
    drainer = GroupConsumer(client, slow.replace(consumer="drainer"), lambda batch: None)
    drainer.run(burst=True)  # drained the other 6, holds nothing
    assert names() == {"keeper"}
    assert drainer.stats.acked == 6

    idle = GroupConsumer(client, slow.replace(consumer="idle"), lambda batch: None)
    thread = in_thread(idle)
    wait_for(lambda: "idle" in names(), what="the idle consumer to join")
    idle.stop()
    thread.join(30)
    assert names() == {"keeper"}  # a stopped replica with nothing pending left too
    held = client.xpending_range(settings.stream, settings.group, "-", "+", 10, "keeper")
    assert len(held) == 4  # the keeper's entries are still there to reclaim


def test_waits_out_a_failover_instead_of_crashing(
    redis_factory: Callable[..., LocalRedis], settings: StreamSettings, in_thread
) -> None:  # type: ignore[no-untyped-def]
    primary, other = redis_factory(), redis_factory()
    settings = settings.replace(redis_url=primary.url)
    from streamlib import connect

    client = connect(primary.url)
    seen: set[str] = set()
    consumer = GroupConsumer(client, settings, lambda b: seen.update(m.envelope.key for m in b))
    runner = in_thread(consumer)
    first = fill(client, settings, 5)
    wait_for(lambda: seen >= set(first), what="entries before the failover")

    # Demoted to a replica: a blocked read is UNBLOCKED ("instance state
    # changed"), the next ones are refused with READONLY. Both are weather.
    client.execute_command("REPLICAOF", "127.0.0.1", str(other.port))
    wait_for(lambda: consumer.stats.redis_errors >= 2, what="READONLY to be waited out")
    assert runner.is_alive()
    assert consumer.stats.groups_recreated == 0

    client.execute_command("REPLICAOF", "NO", "ONE")  # promoted again (its data is the other's)
    second = fill(client, settings, 5, start=5)
    wait_for(lambda: seen >= set(second), timeout=60, what="entries after the promotion")
    assert runner.is_alive()
