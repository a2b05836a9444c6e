"""Fixtures: real Redis servers (never fakes), fresh streams, poll-with-deadline.

A private ``redis-server`` (or the embedded valkey-server) is started once per
session on a free loopback port; tests that kill or restart Redis start their
own with ``redis_factory``, tests that stop PostgreSQL their own with
``postgres_factory``, and tests that fill a disk get a small tmpfs from
``small_filesystem``. Locally a missing server binary (or a mount that is
not permitted) skips those tests; under CI (``CI`` set) it fails them, so CI
can't pass by skipping.
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn

import pytest
import redis

from streamlib import GroupConsumer, StreamSettings
from streamlib.connection import client_from_url
from streamlib.errors import ConfigError, RedisUnavailable
from streamlib.testing import LocalRedis
from tests.support.mounts import MountUnavailable, small_filesystem
from tests.support.postgres import LocalPostgres, PostgresUnavailable

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


def _unavailable(reason: str) -> NoReturn:
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
def postgres_factory() -> Iterator[Callable[[], LocalPostgres]]:
    """Start private PostgreSQL servers (to stop and crash); all closed and deleted after."""
    started: list[LocalPostgres] = []

    def make() -> LocalPostgres:
        try:
            server = LocalPostgres()
            started.append(server)
            return server.start()
        except PostgresUnavailable as exc:
            _unavailable(f"could not start a PostgreSQL server: {exc}")

    yield make
    for server in started:
        server.close()


@pytest.fixture
def small_fs() -> Iterator[Callable[[int], Path]]:
    """``small_fs(kib)``: a fresh tmpfs of that size to fill up; unmounted after."""
    with contextlib.ExitStack() as stack:

        def make(size_kib: int) -> Path:
            try:
                return stack.enter_context(small_filesystem(size_kib))
            except MountUnavailable as exc:
                _unavailable(str(exc))

        yield make


@pytest.fixture
def in_thread() -> Iterator[Callable[[GroupConsumer], threading.Thread]]:
    """Run consumers in threads (``in_thread(consumer)``); stopped and joined after."""
    started: list[tuple[GroupConsumer, threading.Thread]] = []

    def start(consumer: GroupConsumer) -> threading.Thread:
        thread = threading.Thread(target=consumer.run, daemon=True)
        thread.start()
        started.append((consumer, thread))
        return thread

    yield start
    for consumer, thread in started:
        consumer.stop()
        thread.join(timeout=30)


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
