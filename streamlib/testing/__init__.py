"""Private Redis servers for tests, demos and benchmarks.

``LocalRedis`` runs one ``redis-server`` (or the embedded ``valkey-server``)
on a free loopback port (outside the kernel's ephemeral range) in a folder
of its own; ``LocalCluster`` runs a Redis Cluster of such servers. Use them
in your own handler tests the way the project's tests do::

    import redis
    from streamlib.testing import LocalRedis

    with LocalRedis() as server:
        client = redis.Redis.from_url(server.url)
        ...

Nothing in the engine imports this package.
"""

from __future__ import annotations

from .cluster import LocalCluster
from .ports import free_port
from .server import LocalRedis, find_server_binary

__all__ = ["LocalCluster", "LocalRedis", "find_server_binary", "free_port"]
