"""A batch of XADDs as one packed write on one pooled connection.

``StreamProducer``'s fast path. redis-py's ``Pipeline`` spends most of a
producer's CPU on generic work: a queued command object per XADD, a generic
packer, and per reply a response-callback lookup. A producer batch is the
same command on the same stream every time, so here the batch is packed into
one RESP buffer with one bytes format per entry, written on a connection
borrowed from the client's pool, and its replies are read back with that
connection's own parser (``read_response``: hiredis when installed).

Connection hygiene, on every path:

- the connection goes back to the pool once every reply of the batch has
  been read, and only then;
- on anything else (a socket error, a timeout, an interrupt between two
  replies) it is disconnected before it goes back, so a reply left unread can
  never be taken for the answer to the next command that borrows it;
- an error reply (WRONGTYPE, NOPERM, OOM ...) does not stop the reading: the
  rest of the batch is drained, then the first error is raised, as redis-py's
  pipeline does (same exception class, the command's number in the message).

Only for a plain ``redis.Redis`` that hands out ordinary pooled connections
(``supports``); anything else (Redis Cluster, client-side caching, an encoder
that isn't UTF-8) keeps the pipeline.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping, Sequence
from typing import Any

import redis
from redis.exceptions import ResponseError

from .codec import FIELD_NAMES
from .rawcmd import borrowed

#: Stream fields as ``codec.encode`` returns them: names to str or bytes.
Fields = Mapping[str, str | bytes]

#: The envelope's field names in ``codec.encode``'s order: entries with exactly
#: these take the one-format path; any other mapping is packed generically.
ENVELOPE_FIELDS = FIELD_NAMES


def supports(client: object) -> bool:
    """Whether ``client`` can take the packed path (else: redis-py's pipeline)."""
    if not isinstance(client, redis.Redis):  # e.g. redis.cluster.RedisCluster
        return False
    pool = client.connection_pool
    if getattr(pool, "cache", None) is not None:  # client-side caching wraps connections
        return False
    encoding = pool.get_encoder().encoding
    return codecs.lookup(encoding).name == "utf-8"  # how str fields are packed here


def _bulk(value: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(value), value)


def _as_bytes(value: object) -> bytes:
    """A field value as redis-py's encoder sends it (bytes, str as UTF-8, numbers as text)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return repr(value).encode()
    raise redis.DataError(
        f"Invalid input of type: '{type(value).__name__}'. "
        "Convert to a bytes, string, int or float first."
    )


def _head(stream: str, fields: int) -> bytes:
    """``XADD <stream> *`` as the start of a RESP array with ``fields`` name/value pairs."""
    return b"*%d\r\n$4\r\nXADD\r\n%s$1\r\n*\r\n" % (3 + 2 * fields, _bulk(stream.encode()))


def _envelope_format(stream: str) -> bytes:
    """One entry with the envelope's fields: a bytes format taking (length, value) x 5."""
    names = b"".join(_bulk(name.encode()) + b"$%d\r\n%s\r\n" for name in ENVELOPE_FIELDS)
    return _head(stream, len(ENVELOPE_FIELDS)).replace(b"%", b"%%") + names


def _pack_any(stream: str, fields: Fields) -> bytes:
    """One XADD of any field mapping, field by field."""
    parts = [_head(stream, len(fields))]
    for name, value in fields.items():
        parts.append(_bulk(_as_bytes(name)))
        parts.append(_bulk(_as_bytes(value)))
    return b"".join(parts)


def pack_xadds(stream: str, batch: Sequence[Fields]) -> bytes:
    """``XADD stream * <fields>`` for each mapping of ``batch``, as one RESP buffer.

    Byte for byte what redis-py writes for ``xadd(stream, fields)`` (with its
    Python packer or with hiredis'). Entries
    shaped like ``codec.encode``'s output go through one bytes format each;
    anything else field by field.
    """
    template = _envelope_format(stream)
    out: list[bytes] = []
    append = out.append
    for fields in batch:
        if tuple(fields) == ENVELOPE_FIELDS:
            try:
                v = fields["v"].encode()  # type: ignore[union-attr]
                t = fields["type"].encode()  # type: ignore[union-attr]
                k = fields["key"].encode()  # type: ignore[union-attr]
                ts = fields["ts"].encode()  # type: ignore[union-attr]
                d = fields["data"]
                append(template % (len(v), v, len(t), t, len(k), k, len(ts), ts, len(d), d))
                continue
            except (AttributeError, TypeError):  # not str ... bytes: the general case
                pass
        append(_pack_any(stream, fields))
    return b"".join(out)


def send_xadds(client: redis.Redis, stream: str, payload: bytes, count: int) -> list[Any]:
    """Send ``payload`` (``count`` XADDs to ``stream``, from ``pack_xadds``); the replies.

    Raises the first error reply once every reply is read; connection errors
    and timeouts as redis-py raises them (the connection is dropped). The
    client's own ``Retry`` applies to the whole batch, as with its pipeline.
    """
    replies = exchange(client, payload, count)
    for number, reply in enumerate(replies, 1):
        if isinstance(reply, ResponseError):
            reply.args = (
                f"Command # {number} (XADD {stream} *) of the batch caused error: "
                f"{reply.args[0] if reply.args else ''}",
                *reply.args[1:],
            )
            raise reply
    return replies


def exchange(client: redis.Redis, payload: bytes, count: int) -> list[Any]:
    """Write ``payload`` (``count`` packed commands) and read ``count`` replies.

    Error replies come back in the list as ``ResponseError`` instances; every
    other failure is raised after the connection was disconnected
    (``rawcmd.borrowed``).
    """
    with borrowed(client) as conn:
        replies: list[Any] = conn.retry.call_with_retry(
            lambda: _write_and_read(conn, payload, count),
            lambda _error: conn.disconnect(),
        )
        return replies


def _write_and_read(conn: Any, payload: bytes, count: int) -> list[Any]:
    replies: list[Any] = []
    append = replies.append
    conn.send_packed_command([payload])  # a list of buffers, written in order
    read = conn.read_response
    for _ in range(count):
        try:
            append(read())
        except ResponseError as exc:  # one command's error: its reply was consumed
            append(exc)
    return replies
