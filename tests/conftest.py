"""Fixtures: real Redis servers (never fakes), fresh streams, poll-with-deadline.

A private ``redis-server`` (or the embedded valkey-server) is started once per
session on a free loopback port; tests that kill or restart Redis start their
own with ``redis_factory``. Locally a missing server binary skips those tests;
under CI (``CI`` set) it fails them, so CI can't pass by skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis

from streamlib import StreamSettings
from streamlib.connection import client_from_url
from streamlib.errors import ConfigError, RedisUnavailable
from streamlib.testing import LocalRedis

IN_CI = bool(os.environ.get("CI"))


def pytest_addoption(parser: pytest.Parser) -> None:
    """Options of the chaos suite (here: only the root conftest may add options)."""
    group = parser.getgroup("chaos", "chaos scenario (tests/chaos)")
    group.addoption(
        "--chaos-seed", type=int, default=None, help="seed of the fault schedule (env CHAOS_SEED)"
    )
    group.addoption(
        "--chaos-size",
        type=int,
        default=None,
        help="distinct keys the producer sends (env CHAOS_SIZE; default 20000)",
    )


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI needs this: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[LocalRedis]:
    """One private server for the session (no persistence)."""
    try:
        server = LocalRedis().start()
    except (ConfigError, RedisUnavailable) as exc:
        _unavailable(f"no Redis server binary could be started: {exc}")
    yield server
    server.close()


@pytest.fixture
def redis_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., LocalRedis]]:
    """Start extra private servers (to kill, restart or misconfigure); all closed after."""
    started: list[LocalRedis] = []

    def make(**kwargs: object) -> LocalRedis:
        kwargs.setdefault("data_dir", tmp_path_factory.mktemp("redis"))
        try:
            server = LocalRedis(**kwargs).start()  # type: ignore[arg-type]
        except (ConfigError, RedisUnavailable) as exc:
            _unavailable(f"could not start a Redis server: {exc}")
        started.append(server)
        return server

    yield make
    for server in started:
        server.close()


@pytest.fixture
def redis_url(redis_server: LocalRedis) -> str:
    return redis_server.url


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    """A streamlib client (RESP2, bytes) on the session server, flushed first."""
    c = client_from_url(redis_url)
    c.flushall()
    yield c
    c.close()


@pytest.fixture
def settings(redis_url: str) -> StreamSettings:
    """Settings for a stream no other test uses, with short timings for tests."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    return StreamSettings(
        redis_url=redis_url,
        stream=name,
        group="g",
        consumer="c1",
        batch_size=50,
        block_ms=100,
        min_idle_ms=200,
        max_deliveries=3,
    )
