"""``run_raw``: replies without redis-py's callbacks, and a clean connection after a failure."""

from __future__ import annotations

import pytest
import redis

from streamlib import client_from_url
from streamlib.rawcmd import raw_capable, run_raw


def test_a_reply_comes_back_as_the_parser_built_it(client: redis.Redis) -> None:
    entry_id = client.xadd("raw-s", {"v": "1", "key": "k"})
    client.xgroup_create("raw-s", "g", id="0")
    reply = run_raw(client, "XREADGROUP", "GROUP", "g", "me", "COUNT", 10, "STREAMS", "raw-s", ">")
    assert reply == [[b"raw-s", [[entry_id, [b"v", b"1", b"key", b"k"]]]]]


def test_an_error_reply_raises_and_the_connection_stays_in_step(client: redis.Redis) -> None:
    with pytest.raises(redis.ResponseError, match="NOGROUP"):
        run_raw(client, "XREADGROUP", "GROUP", "nope", "me", "STREAMS", "raw-none", ">")
    assert run_raw(client, "PING") == b"PONG"


def test_a_timed_out_read_never_leaves_its_late_reply_to_the_next_command(
    redis_url: str,
) -> None:
    client = client_from_url(redis_url, socket_timeout=0.2)
    client.xgroup_create("raw-empty", "g", id="0", mkstream=True)
    with pytest.raises(redis.TimeoutError):  # blocks 1 s, the socket gives up after 0.2 s
        run_raw(
            client, "XREADGROUP", "GROUP", "g", "me", "BLOCK", 1000, "STREAMS", "raw-empty", ">"
        )
    # Had that connection gone back to the pool as it was, its late nil reply
    # would be read as the answer to this PING (the pool holds one connection).
    assert run_raw(client, "PING") == b"PONG"
    assert run_raw(client, "ECHO", "after") == b"after"
    client.close()


def test_only_a_pooled_plain_client_reads_raw(redis_url: str) -> None:
    assert raw_capable(client_from_url(redis_url))
    assert not raw_capable(redis.Redis.from_url(redis_url, single_connection_client=True))
    assert not raw_capable(object())
