"""The producer's packed XADD batches (``streamlib.xadd_batch``) against a real Redis.

Packing byte for byte as redis-py's own packer, error replies raised like the
pipeline's after the batch is drained, and a connection never reused with
replies left unread on it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
import redis
from redis.connection import Connection, Encoder, PythonRespSerializer

from streamlib import StreamProducer, acl, client_from_url, connect, encode
from streamlib.connection import cluster_client_from_url
from streamlib.testing import LocalRedis
from streamlib.xadd_batch import ENVELOPE_FIELDS, exchange, pack_xadds, supports
from tests.support.helpers import quote


def redis_py_packing(stream: str, batch: list[Mapping[str, object]]) -> bytes:
    """What redis-py writes for ``xadd(stream, fields)`` of each (both its packers agree)."""
    commands = [("XADD", stream, "*", *(x for kv in f.items() for x in kv)) for f in batch]
    python = PythonRespSerializer(10**9, Encoder("utf-8", "strict", False).encode)
    by_python = b"".join(chunk for cmd in commands for chunk in python.pack(*cmd))
    by_default = b"".join(Connection().pack_commands(commands))  # hiredis when installed
    assert by_python == by_default
    return by_python


@pytest.mark.parametrize("stream", ["quotes", "{quotes:3}", "100%-ünïcode %d %s"])
def test_envelopes_pack_exactly_as_redis_py_packs_them(stream: str) -> None:
    batch = [encode(quote(n)) for n in range(20)]
    assert all(tuple(f) == ENVELOPE_FIELDS for f in batch)  # the one-format path is taken
    assert pack_xadds(stream, batch) == redis_py_packing(stream, batch)  # type: ignore[arg-type]


def test_other_field_mappings_pack_exactly_as_redis_py_packs_them() -> None:
    batch: list[Mapping[str, object]] = [
        {"a": "1"},
        {"v": "1", "type": "t", "key": "k", "data": b"{}", "ts": "5"},  # envelope names, reordered
        {"v": b"1", "type": "t", "key": "k", "ts": "5", "data": b"{}"},  # bytes where str is usual
        {"v": "1", "type": "t", "key": "k", "ts": 5, "data": "{}"},  # an int and a str
        {"n": 2.5, "ü": "ä", "empty": ""},
    ]
    assert pack_xadds("s", batch) == redis_py_packing("s", batch)  # type: ignore[arg-type]


def test_a_value_redis_py_refuses_is_refused_here_too() -> None:
    with pytest.raises(redis.DataError):
        pack_xadds("s", [{"a": None}])  # type: ignore[dict-item]


def test_packed_and_pipelined_batches_store_the_same_entries(client: redis.Redis) -> None:
    envelopes = [quote(n) for n in range(120)]
    packed = StreamProducer(client, "packed", batch_size=50)
    piped = StreamProducer(client, "piped", batch_size=50)
    piped.packed = False
    assert packed.packed
    ids = packed.send_many(envelopes)
    piped.send_many(envelopes)
    got, want = client.xrange("packed"), client.xrange("piped")
    assert [i.decode() for i, _ in got] == ids
    assert [list(f.items()) for _, f in got] == [list(f.items()) for _, f in want]


def test_the_cluster_client_keeps_the_pipeline() -> None:
    assert not supports(cluster_client_from_url("redis+cluster://127.0.0.1:1"))
    assert not supports(object())
    assert not supports(redis.Redis(encoding="latin-1"))
    assert supports(redis.Redis())


def one_connection_client(url: str, **kwargs: object) -> redis.Redis:
    """A client whose pool holds one connection: a leaked one fails the next command."""
    return client_from_url(url, max_connections=1, **kwargs)


def test_an_error_reply_is_raised_after_the_batch_and_the_connection_stays_in_step(
    redis_url: str,
) -> None:
    client = one_connection_client(redis_url)
    stream = f"wrongtype-{uuid.uuid4().hex[:8]}"
    client.set(stream, b"not a stream")
    producer = StreamProducer(client, stream, batch_size=10)
    with pytest.raises(redis.ResponseError, match=r"Command # 1 \(XADD .*WRONGTYPE"):
        producer.send_many([quote(n) for n in range(25)])
    assert (producer.sent, producer.batches, producer.retries) == (0, 0, 0)
    assert client.get(stream) == b"not a stream"  # its own reply, not a stale error
    client.delete(stream)
    ids = producer.send_many([quote(n) for n in range(25)])
    assert [i.decode() for i, _ in client.xrange(stream)] == ids


def test_error_replies_in_the_middle_are_drained_in_order(client: redis.Redis) -> None:
    key = f"k-{uuid.uuid4().hex[:8]}"
    payload = b"".join(
        b"*%d\r\n" % len(cmd) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in cmd)
        for cmd in [(b"SET", key.encode(), b"x"), (b"INCR", key.encode()), (b"GET", key.encode())]
    )
    ok, error, value = exchange(client, payload, 3)
    assert ok == b"OK" and value == b"x"
    assert isinstance(error, redis.ResponseError) and "not an integer" in str(error)
    assert client.echo("next") == b"next"


def test_a_timeout_mid_batch_drops_the_connection_with_its_unread_replies(
    redis_url: str,
) -> None:
    client = one_connection_client(redis_url, socket_timeout=0.3)
    key = f"k-{uuid.uuid4().hex[:8]}"
    client.set(key, b"mine")
    empty = f"empty-{uuid.uuid4().hex[:8]}".encode()
    # PING answers at once; BLPOP answers (nil) after 1 s, past the socket timeout;
    # the last PING's reply would follow it on the same socket.
    payload = b"*1\r\n$4\r\nPING\r\n" + b"*3\r\n$5\r\nBLPOP\r\n$%d\r\n%s\r\n$1\r\n1\r\n" % (
        len(empty),
        empty,
    )
    payload += b"*1\r\n$4\r\nPING\r\n"
    with pytest.raises(redis.TimeoutError):
        exchange(client, payload, 3)
    # Same (only) pooled connection, reconnected: no nil or PONG left over from the batch.
    assert client.get(key) == b"mine"
    assert client.echo("after") == b"after"


def test_a_missing_acl_right_fails_the_batch_with_noperm(
    redis_factory: Callable[..., LocalRedis],
) -> None:
    server = redis_factory()
    rule = acl.rules("producer", "quotes", "quotes:dead")
    connect(server.url).execute_command("ACL", "SETUSER", "p", "reset", "on", ">pw-1", *rule)
    client = connect(f"redis://p:pw-1@127.0.0.1:{server.port}/0", max_connections=1)
    with pytest.raises(redis.exceptions.NoPermissionError):
        StreamProducer(client, "elsewhere").send_many([quote(n) for n in range(5)])
    assert len(StreamProducer(client, "quotes").send_many([quote(n) for n in range(5)])) == 5
    assert connect(server.url).xlen("quotes") == 5


def test_batches_over_a_unix_socket(
    redis_factory: Callable[..., LocalRedis], tmp_path: Path
) -> None:
    sock = tmp_path / "r.sock"
    redis_factory(extra_args=["--unixsocket", str(sock), "--unixsocketperm", "700"])
    client = connect(f"unix://{sock}?db=1")
    producer = StreamProducer(client, "s", batch_size=7)
    assert producer.packed
    ids = producer.send_many([quote(n) for n in range(30)])
    assert [i.decode() for i, _ in client.xrange("s")] == ids
