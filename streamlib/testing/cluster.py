"""A private Redis Cluster on loopback: three masters by default (tests, benchmarks).

Each node is a ``LocalRedis`` with ``--cluster-enabled yes``, its own folder
(``nodes.conf`` and an AOF with ``appendfsync always``, so a killed and
restarted master keeps every acknowledged write) and a free port; the slots
are spread with ``redis-cli --cluster create``. ``cluster-require-full-coverage
no`` keeps the other masters serving their slots while one is down, and a short
``cluster-node-timeout`` makes a restarted master rejoin quickly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import redis

from ..errors import ConfigError, RedisUnavailable
from .ports import free_port
from .server import LocalRedis, find_server_binary

#: Milliseconds before the cluster considers an unreachable node failing.
NODE_TIMEOUT_MS = 2_000
#: A node's cluster bus listens on its port plus this (Redis's own rule).
BUS_PORT_OFFSET = 10_000


def free_cluster_port() -> int:
    """A port free on 127.0.0.1 together with its cluster bus port (port + ``BUS_PORT_OFFSET``).

    Both lie outside the ephemeral port range, and neither was handed out
    before in this process (nodes chosen but not started yet).
    """
    return free_port((0, BUS_PORT_OFFSET), what="port pair for a cluster node")


def find_cli_binary() -> str:
    """Path of ``redis-cli`` (needed for ``--cluster create``)."""
    explicit = os.environ.get("QUOTESTREAM_REDIS_CLI")
    found = explicit or shutil.which("redis-cli")
    if not found:
        raise ConfigError("no redis-cli on PATH (needed to create a local cluster)")
    return found


class LocalCluster:
    """``masters`` cluster-enabled servers on 127.0.0.1, joined into one cluster.

    With ``replicas=1`` every master gets a replica (``--cluster-replicas 1``),
    for failover tests.
    """

    def __init__(
        self, base_dir: str | os.PathLike[str], *, masters: int = 3, replicas: int = 0
    ) -> None:
        if masters < 3:
            raise ConfigError("Redis Cluster needs at least three masters")
        self.replicas = replicas
        self.base_dir = Path(base_dir)
        self.binary = find_server_binary()
        self.cli = find_cli_binary()
        self.nodes: list[LocalRedis] = []
        for n in range(masters * (1 + replicas)):
            port = free_cluster_port()
            folder = self.base_dir / f"node{n}"
            args = ["--cluster-enabled", "yes", "--cluster-config-file", str(folder / "nodes.conf")]
            args += ["--cluster-node-timeout", str(NODE_TIMEOUT_MS)]
            args += ["--cluster-require-full-coverage", "no"]
            self.nodes.append(
                LocalRedis(
                    port=port,
                    data_dir=folder,
                    persistent=True,
                    binary=self.binary,
                    extra_args=args,
                )
            )

    @property
    def url(self) -> str:
        """``redis+cluster://127.0.0.1:<port of the first node>``."""
        return f"redis+cluster://127.0.0.1:{self.nodes[0].port}"

    @property
    def ports(self) -> list[int]:
        """The nodes' ports."""
        return [n.port for n in self.nodes]

    def start(self, timeout: float = 60.0) -> LocalCluster:
        """Start every node, create the cluster, wait for ``cluster_state:ok``."""
        try:
            for node in self.nodes:
                node.start()
            create = [self.cli, "--cluster", "create"]
            create += [f"127.0.0.1:{p}" for p in self.ports]
            create += ["--cluster-replicas", str(self.replicas), "--cluster-yes"]
            done = subprocess.run(create, capture_output=True, timeout=timeout, check=False)
            if done.returncode != 0:
                raise RedisUnavailable(
                    f"redis-cli --cluster create failed: {done.stdout.decode()[-500:]}"
                    f"{done.stderr.decode()[-500:]}"
                )
            self.wait_ok(timeout)
        except BaseException:
            self.close()
            raise
        return self

    def wait_ok(self, timeout: float = 60.0) -> None:
        """Wait until every running node reports ``cluster_state:ok`` and full slot coverage."""
        deadline = time.monotonic() + timeout
        while True:
            if all(self._ok(node) for node in self.nodes if node.running) and self._replicated():
                return
            if time.monotonic() > deadline:
                raise RedisUnavailable(f"cluster not ok within {timeout}s")
            time.sleep(0.1)

    def _ok(self, node: LocalRedis) -> bool:
        client = redis.Redis(port=node.port, socket_timeout=2, socket_connect_timeout=2)
        try:
            info = client.execute_command("CLUSTER", "INFO")  # type: ignore[no-untyped-call]
        except redis.RedisError:
            return False
        finally:
            client.close()
        if isinstance(info, bytes | str):
            text = info.decode() if isinstance(info, bytes) else info
            info = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        fields = {str(k): str(v) for k, v in dict(info).items()}
        return (
            fields.get("cluster_state") == "ok"
            and fields.get("cluster_slots_ok") == "16384"
            and fields.get("cluster_known_nodes") == str(len(self.nodes))
        )

    def _replicated(self) -> bool:
        """Whether every master has its replicas connected (always, without replicas)."""
        if not self.replicas:
            return True
        masters = 0
        for node in self.nodes:
            client = redis.Redis(port=node.port, socket_timeout=2, socket_connect_timeout=2)
            try:
                info = client.info("replication")
            except redis.RedisError:
                return False
            finally:
                client.close()
            if info.get("role") == "master":
                online = [
                    v for k, v in info.items() if k.startswith("slave") and isinstance(v, dict)
                ]
                if sum(1 for v in online if v.get("state") == "online") < self.replicas:
                    return False
                masters += 1
        return masters * (1 + self.replicas) == len(self.nodes)

    def replica_of(self, master: LocalRedis) -> LocalRedis:
        """A replica of ``master`` (asked from ``master`` with ROLE)."""
        client = redis.Redis(port=master.port, socket_timeout=2)
        try:
            role = client.execute_command("ROLE")  # type: ignore[no-untyped-call]
        finally:
            client.close()
        for _host, port, *_ in role[2]:
            return next(n for n in self.nodes if n.port == int(port))
        raise RedisUnavailable(f"master on port {master.port} has no replica")

    def node_for_slot(self, slot: int) -> LocalRedis:
        """The running node that serves ``slot`` (asks the first node that answers)."""
        for node in self.nodes:
            if not node.running:
                continue
            client = redis.Redis(port=node.port, socket_timeout=2)
            try:
                rows = client.execute_command("CLUSTER", "SLOTS")  # type: ignore[no-untyped-call]
            except redis.RedisError:
                continue
            finally:
                client.close()
            for start, end, master, *_ in rows:
                if int(start) <= slot <= int(end):
                    port = int(master[1])
                    return next(n for n in self.nodes if n.port == port)
        raise RedisUnavailable(f"no node answers for slot {slot}")

    def close(self) -> None:
        """Stop every node (their folders belong to the caller)."""
        for node in self.nodes:
            node.close()

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
