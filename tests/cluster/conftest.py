"""A real three-master Redis Cluster on loopback, started per test.

``redis-server --cluster-enabled yes`` three times (free ports, own folders,
AOF with ``appendfsync always`` so a restarted master keeps its writes) and
``redis-cli --cluster create``; ready once every node says ``cluster_state:ok``.
Locally a missing ``redis-server`` / ``redis-cli`` skips these tests; under CI
(``CI`` set) it fails them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from streamlib import StreamSettings
from streamlib.connection import client_from_url
from streamlib.errors import ConfigError, RedisUnavailable
from streamlib.testing import LocalCluster
from tests.conftest import _unavailable


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    """Three masters, slots spread, cluster_state:ok; stopped afterwards."""
    try:
        started = LocalCluster(tmp_path / "cluster").start()
    except (ConfigError, RedisUnavailable) as exc:
        _unavailable(f"no local Redis Cluster: {exc}")
    yield started
    started.close()


@pytest.fixture
def cluster_with_replicas(tmp_path: Path) -> Iterator[LocalCluster]:
    """Three masters with one replica each (six servers), cluster_state:ok."""
    try:
        started = LocalCluster(tmp_path / "cluster", replicas=1).start()
    except (ConfigError, RedisUnavailable) as exc:
        _unavailable(f"no local Redis Cluster: {exc}")
    yield started
    started.close()


@pytest.fixture
def cluster_client(cluster: LocalCluster) -> Iterator[redis.Redis]:
    """A streamlib cluster client (RESP2, bytes) on the test's cluster."""
    c = client_from_url(cluster.url)
    yield c
    c.close()


@pytest.fixture
def cluster_settings(cluster: LocalCluster) -> StreamSettings:
    """Six partitions of a fresh stream on the cluster, short timings for tests."""
    return StreamSettings(
        redis_url=cluster.url,
        stream=f"quotes-{uuid.uuid4().hex[:6]}",
        group="g",
        consumer="c1",
        batch_size=50,
        block_ms=200,
        min_idle_ms=2_000,
        max_deliveries=5,
        partitions=6,
    )
