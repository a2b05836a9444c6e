"""Clients from URLs: TCP, unix socket, ACL users, unreachable servers."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from streamlib import ConfigError, RedisUnavailable, connect
from streamlib.connection import stream_read_keys
from streamlib.testing import LocalRedis, free_port

SECRET = "pa55-w0rd-Secret"


def test_unreachable_redis_fails_within_the_timeout_with_a_masked_url() -> None:
    port = free_port()
    started = time.monotonic()
    with pytest.raises(RedisUnavailable) as info:
        connect(f"redis://app:{SECRET}@127.0.0.1:{port}/0", timeout=0.5)
    assert time.monotonic() - started < 10
    assert SECRET not in str(info.value)
    assert f"redis://app:***@127.0.0.1:{port}/0" in str(info.value)


def test_bad_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        connect("http://127.0.0.1:6379")


def test_unix_socket_url(redis_factory: Callable[..., LocalRedis], tmp_path: Path) -> None:
    sock = tmp_path / "r.sock"
    redis_factory(extra_args=["--unixsocket", str(sock), "--unixsocketperm", "700"])
    client = connect(f"unix://{sock}?db=2")
    assert client.ping()
    assert client.connection_pool.connection_kwargs["db"] == 2


def test_acl_user_and_password(redis_factory: Callable[..., LocalRedis]) -> None:
    server = redis_factory()
    admin = connect(server.url)
    admin.acl_setuser("app", enabled=True, passwords=[f"+{SECRET}"], commands=["+@all"], keys=["*"])
    user_url = f"redis://app:{SECRET}@127.0.0.1:{server.port}/0"
    assert connect(user_url).acl_whoami() in ("app", b"app")
    with pytest.raises(RedisUnavailable, match="refused the credentials") as info:
        connect(f"redis://app:wrong-{SECRET}@127.0.0.1:{server.port}/0", timeout=1)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    ("args", "keys"),
    [
        (
            ("XREADGROUP", b"GROUP", "g", "c", b"COUNT", 50, b"BLOCK", 200, b"STREAMS", "s", ">"),
            ["s"],
        ),
        # Option words as names: GROUP's two arguments are names, whatever they say.
        (
            ("XREADGROUP", b"GROUP", "STREAMS", "COUNT", b"NOACK", b"STREAMS", "a", "b", ">", ">"),
            ["a", "b"],
        ),
        (("xread", "count", 1, "streams", b"a", b"0"), [b"a"]),
        (("XREAD", "STREAMS", "a"), None),  # a stream without its id
        (("XREAD", "COUNT", 1), None),  # no STREAMS
        (("XREAD", "WHATNOT", "STREAMS", "a", "0"), None),  # an option it does not know
        (("XADD", "a", "*", "f", "v"), None),
    ],
)
def test_a_reads_keys_are_the_streams_after_STREAMS(args: tuple[object, ...], keys: object) -> None:
    assert stream_read_keys(args) == keys
