"""Bad input: every malformed entry is dead-lettered with its own reason.

Each entry of the catalogue is written raw with XADD between good ones, and
consumed by the real ``GroupConsumer`` with the real ``QuoteHandler`` and
SQLite sink (and once by the real ``quotes-consumer`` process): it must end
in the dead-letter stream with a specific reason, acknowledged in the main
group, while the good entries around it are stored and the consumer goes on.
A hypothesis test then writes arbitrary field maps.
"""

from __future__ import annotations

import json
import signal
import uuid
from collections.abc import Mapping
from pathlib import Path

import pytest
import redis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from consumer.handler import QuoteHandler
from consumer.sinks.sqlite import SQLiteSink
from streamlib import (
    DecodeError,
    GroupConsumer,
    StreamSettings,
    decode,
    encode,
    parse_dead_letter,
)
from tests.support.helpers import quote
from tests.support.replicas import Replica, consumer_command, sqlite_count, sqlite_rows

Fields = Mapping[str | bytes, str | bytes]


def envelope(**changes: object) -> dict[str | bytes, str | bytes]:
    """A valid quote envelope's fields with ``changes`` (``None`` removes a field)."""
    fields: dict[str | bytes, str | bytes] = {
        "v": "1",
        "type": "quote",
        "key": "bad-" + uuid.uuid4().hex,
        "ts": "1764270000000",
        "data": json.dumps({"text": "A quote.", "author": "Someone", "tags": ["t"]}),
    }
    for name, value in changes.items():
        if value is None:
            del fields[name]
        else:
            fields[name] = value  # type: ignore[assignment]
    return fields


def data(**record: object) -> str:
    return json.dumps(record)


TEN_MB = 10 * 1024 * 1024
HUGE = data(text="x" * TEN_MB, author="A")

#: id -> (fields, the reason in the dead letter)
CATALOGUE: dict[str, tuple[Fields, str]] = {
    "missing-data": (envelope(data=None), "missing field 'data'"),
    "invalid-json": (envelope(data='{"text": "A quote.",'), "field 'data' is not valid JSON"),
    "json-not-object": (
        envelope(data='["A quote."]'),
        "field 'data' is a JSON list, not an object",
    ),
    "wrong-version": (envelope(v="2"), "unsupported envelope version '2'"),
    "nul-in-another-type": (
        envelope(type="tweet", data=data(text="A\x00tweet.")),
        "invalid tweet: 'data' contains a NUL character",
    ),
    "missing-key": (envelope(key=None), "missing field 'key'"),
    "non-utf8-key": (envelope(key=b"k\xff\xfe"), "field 'key' is not valid UTF-8"),
    "non-utf8-data": (
        envelope(data=b'{"text": "caf\xe9", "author": "A"}'),
        "field 'data' is not valid UTF-8",
    ),
    "empty-entry": ({"unrelated": "x"}, "missing field 'v'"),
    "ts-not-a-number": (envelope(ts="yesterday"), "field 'ts' is not an integer"),
    "ten-mb-field": (
        envelope(data=HUGE),
        f"field 'data' is {len(HUGE)} bytes, over the limit of 1048576",
    ),
    "quote-without-text": (
        envelope(data=data(author="Someone")),
        "invalid quote: 'text' must be a non-empty string",
    ),
    "tags-not-a-list": (
        envelope(data=data(text="A quote.", author="Someone", tags="life")),
        "invalid quote: 'tags' must be a list of strings",
    ),
    "nul-in-text": (
        envelope(data=data(text="A\x00quote.", author="Someone")),
        "invalid quote: 'text' contains a NUL character",
    ),
}


def consume(client: redis.Redis, settings: StreamSettings, sink: SQLiteSink) -> GroupConsumer:
    """Drain the stream with the real handler and sink (burst); the consumer."""
    consumer = GroupConsumer(client, settings, QuoteHandler(sink))
    consumer.run(burst=True)
    return consumer


def dead_letters(client: redis.Redis, settings: StreamSettings) -> dict[str, str]:
    """Dead letters of the stream: original id -> reason."""
    entries = client.xrange(settings.dead_letters)
    return {d.orig_id: d.reason for d in (parse_dead_letter(i, f) for i, f in entries)}


@pytest.mark.parametrize("case", list(CATALOGUE))
def test_each_bad_entry_is_dead_lettered_with_its_reason(
    case: str, client: redis.Redis, settings: StreamSettings, tmp_path: Path
) -> None:
    fields, reason = CATALOGUE[case]
    before = client.xadd(settings.stream, encode(quote(1)))  # type: ignore[arg-type]
    bad = client.xadd(settings.stream, fields)  # type: ignore[arg-type]
    after = client.xadd(settings.stream, encode(quote(2)))  # type: ignore[arg-type]
    sink = SQLiteSink(str(tmp_path / "q.db"))
    try:
        consumer = consume(client, settings, sink)
    finally:
        sink.close()

    assert dead_letters(client, settings) == {bad.decode(): reason}
    assert client.xpending(settings.stream, settings.group)["pending"] == 0  # acked
    rows = sqlite_rows(tmp_path / "q.db", "SELECT key, stream_id FROM quotes")
    assert sorted(rows) == sorted([(quote(1).key, before.decode()), (quote(2).key, after.decode())])
    assert consumer.stats.dead_lettered == 1 and consumer.stats.handler_errors == 0
    # The dead letter keeps the original fields byte for byte (replayable).
    (dead_id, dead_fields), *_ = client.xrange(settings.dead_letters)
    kept = parse_dead_letter(dead_id, dead_fields).fields
    assert kept == {_b(k): _b(v) for k, v in fields.items()}


def _b(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


@pytest.mark.timeout(240)
def test_the_real_consumer_process_dead_letters_the_catalogue_and_keeps_running(
    client: redis.Redis, settings: StreamSettings, tmp_path: Path
) -> None:
    db = tmp_path / "q.db"
    replica = Replica(
        consumer_command(
            redis_url=settings.redis_url,
            stream=settings.stream,
            group="g",
            sink=f"sqlite:///{db}",
            name="steady",
            extra=["--block-ms", "100", "--batch-size", "5", "--progress-interval", "0"],
        ),
        tmp_path / "steady.log",
        None,
    )
    try:
        replica.expect(lambda: "joining group" in replica.log(), timeout=60, what="the replica")
        expected: dict[str, str] = {}
        for n, (fields, reason) in enumerate(CATALOGUE.values()):
            client.xadd(settings.stream, encode(quote(n)))  # type: ignore[arg-type]
            expected[client.xadd(settings.stream, fields).decode()] = reason  # type: ignore[arg-type]
        client.xadd(settings.stream, encode(quote(len(CATALOGUE))))  # type: ignore[arg-type]
        good = len(CATALOGUE) + 1

        def settled() -> bool:
            return (
                client.xlen(settings.dead_letters) == len(CATALOGUE)
                and sqlite_count(db) == good
                and client.xpending(settings.stream, "g")["pending"] == 0
            )

        replica.expect(settled, timeout=120, what="the catalogue dead-lettered, the rest stored")
        assert replica.process.poll() is None  # still running
        assert dead_letters(client, settings) == expected
        replica.process.send_signal(signal.SIGTERM)
        assert replica.wait(60) == 0, replica.log()
    finally:
        replica.kill()
    stats = replica.done_stats()
    assert (stats["dead_lettered"], stats["handled"], stats["handler_errors"]) == (
        len(CATALOGUE),
        good,
        0,
    )


# -- fuzz -------------------------------------------------------------------

NAMES = st.sampled_from([b"v", b"type", b"key", b"ts", b"data"]) | st.binary(max_size=8)
VALUES = (
    st.sampled_from([b"1", b"quote", b"author", b"", b"0", b"{}", b"null"])
    | st.binary(max_size=40)
    | st.builds(
        lambda d: json.dumps(d).encode(),
        st.dictionaries(
            st.sampled_from(["text", "author", "name", "tags", "url", "x"]),
            st.none()
            | st.text(max_size=10)
            | st.lists(st.text(max_size=5), max_size=3)
            | st.integers(),
            max_size=4,
        ),
    )
)
FIELD_MAPS = st.dictionaries(NAMES, VALUES, min_size=1, max_size=7)
#: Arbitrary maps, and envelopes with some fields replaced by arbitrary ones.
ENTRIES = FIELD_MAPS | st.builds(
    lambda over: {**{_b(k): _b(v) for k, v in envelope().items()}, **over},
    st.dictionaries(NAMES, VALUES, max_size=3),
)


@hsettings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(entries=st.lists(ENTRIES, min_size=1, max_size=6))
def test_fuzz_every_entry_is_stored_or_dead_lettered(
    entries: list[dict[bytes, bytes]], client: redis.Redis, settings: StreamSettings
) -> None:
    ours = settings.replace(stream=f"fuzz-{uuid.uuid4().hex[:12]}")
    ids = [client.xadd(ours.stream, e).decode() for e in entries]  # type: ignore[arg-type]
    sink = SQLiteSink(":memory:")
    try:
        consume(client, ours, sink)  # never raises: that is the point
        query = "SELECT key FROM quotes UNION SELECT key FROM authors UNION SELECT key FROM records"
        stored = {k for (k,) in sink._conn.execute(query)}
    finally:
        sink.close()
    dead = dead_letters(client, ours)
    assert client.xpending(ours.stream, ours.group)["pending"] == 0
    for entry_id, fields in zip(ids, entries, strict=True):
        if entry_id in dead:
            continue
        try:
            key = decode(fields).key
        except DecodeError as exc:
            raise AssertionError(f"{fields!r} decodes badly ({exc}), not dead-lettered") from None
        assert key in stored, f"{fields!r} neither stored nor dead-lettered"
    client.delete(ours.stream, ours.dead_letters)
