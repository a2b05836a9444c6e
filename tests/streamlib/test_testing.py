"""``LocalRedis`` and ``free_port``: the private servers every other test stands on."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from streamlib.errors import ConfigError, RedisUnavailable
from streamlib.testing import LocalRedis, free_port
from tests.conftest import _unavailable


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port some other process is listening on."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def local_redis(**kwargs: object) -> LocalRedis:
    try:
        return LocalRedis(**kwargs)  # type: ignore[arg-type]
    except ConfigError as exc:
        _unavailable(f"no Redis server binary: {exc}")
        raise


def test_free_port_never_hands_out_the_same_port_twice() -> None:
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)


def test_a_chosen_port_taken_before_the_start_moves_to_a_free_one(
    taken_port: int, tmp_path: Path
) -> None:
    server = local_redis(data_dir=tmp_path)
    server.port = taken_port  # as if another process bound it after free_port()
    try:
        server.start()
        assert server.port != taken_port
        assert redis.Redis(port=server.port).ping()
        server.restart()  # a restart keeps its port, whatever happened at the start
        assert redis.Redis(port=server.port).ping()
    finally:
        server.close()


def test_a_given_port_is_never_changed(taken_port: int, tmp_path: Path) -> None:
    server = local_redis(port=taken_port, data_dir=tmp_path)
    try:
        with pytest.raises(RedisUnavailable, match="exited"):
            server.start()
        assert server.port == taken_port
    finally:
        server.close()
