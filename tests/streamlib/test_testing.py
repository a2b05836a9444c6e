"""``LocalRedis``, ``LocalCluster``'s ports and ``free_port``: what every other test stands on."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from streamlib.errors import ConfigError, RedisUnavailable
from streamlib.testing import LocalCluster, LocalRedis, free_port, ports
from streamlib.testing.cluster import BUS_PORT_OFFSET, free_cluster_port
from tests.conftest import _unavailable

LINUX_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


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


def kernel_range() -> tuple[int, int]:
    """The ephemeral range as Linux says it (the test is skipped elsewhere)."""
    if not LINUX_RANGE.exists():
        pytest.skip("no /proc/sys/net/ipv4/ip_local_port_range (not Linux)")
    low, high = map(int, LINUX_RANGE.read_text().split())
    return low, high


def outside(low: int, high: int, *chosen: int) -> bool:
    return all(1024 <= port <= 65_535 and not low <= port <= high for port in chosen)


def test_free_ports_lie_outside_the_kernels_ephemeral_range() -> None:
    low, high = kernel_range()
    chosen = [free_port() for _ in range(200)]
    assert [port for port in chosen if not outside(low, high, port)] == []


def test_cluster_ports_and_their_bus_ports_lie_outside_the_ephemeral_range() -> None:
    low, high = kernel_range()
    chosen = [free_cluster_port() for _ in range(50)]
    assert [p for p in chosen if not outside(low, high, p, p + BUS_PORT_OFFSET)] == []
    every = chosen + [p + BUS_PORT_OFFSET for p in chosen]
    assert len(set(every)) == len(every)  # no node's port is another's bus port


def test_a_clusters_nodes_get_ports_outside_the_ephemeral_range(tmp_path: Path) -> None:
    low, high = kernel_range()
    try:
        cluster = LocalCluster(tmp_path, replicas=1)  # chosen, not started
    except ConfigError as exc:
        _unavailable(f"no redis-server / redis-cli: {exc}")
    bus = [p + BUS_PORT_OFFSET for p in cluster.ports]
    assert outside(low, high, *cluster.ports, *bus)
    assert len(set(cluster.ports + bus)) == 12


@pytest.mark.parametrize(
    "text",
    ["", "32768", "32768 60999 1", "low high", "60999 32768", "0 60999", "32768 70000"],
)
def test_an_unreadable_ephemeral_range_is_the_fallback(tmp_path: Path, text: str) -> None:
    (tmp_path / "range").write_text(text)
    assert ports.ephemeral_range(tmp_path / "range") == ports.FALLBACK_EPHEMERAL_RANGE
    assert ports.ephemeral_range(tmp_path / "missing") == ports.FALLBACK_EPHEMERAL_RANGE


def test_the_ephemeral_range_is_read_as_the_kernel_writes_it(tmp_path: Path) -> None:
    (tmp_path / "range").write_text("40000\t50000\n")
    assert ports.ephemeral_range(tmp_path / "range") == (40_000, 50_000)


@pytest.fixture
def ephemeral(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Sets the ephemeral range the port choice reads, as the kernel's file would say it."""

    def set_range(text: str) -> None:
        (tmp_path / "ip_local_port_range").write_text(text)
        monkeypatch.setattr(ports, "EPHEMERAL_RANGE_FILE", tmp_path / "ip_local_port_range")

    return set_range


def test_ports_come_from_outside_whatever_range_the_kernel_says(
    ephemeral: Callable[[str], None],
) -> None:
    ephemeral(f"{ports.LOWEST_PORT + 100}\t65535\n")  # leaves the lowest hundred ports
    chosen = [free_port() for _ in range(20)]
    assert all(ports.LOWEST_PORT <= port < ports.LOWEST_PORT + 100 for port in chosen)
    # a bus port 10000 higher can't fit below the range
    pair = r"no free port pair for a cluster node .* range 10100-65535"
    with pytest.raises(RedisUnavailable, match=pair):
        free_cluster_port()


def test_no_port_outside_the_range_is_a_clear_error(ephemeral: Callable[[str], None]) -> None:
    ephemeral("1024 65535")
    one = r"no free port on 127\.0\.0\.1 outside the ephemeral port range 1024-65535"
    with pytest.raises(RedisUnavailable, match=one):
        free_port()
    with pytest.raises(RedisUnavailable, match="no free port pair for a cluster node"):
        free_cluster_port()


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
