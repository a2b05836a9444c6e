"""Outages of a running ``quotes-consumer``: the database or Redis down for longer than the cap.

Each test stops a real server for longer than ``MAX_DELIVERIES x
MIN_IDLE_MS`` while quotes arrive, with two replicas serving ``/healthz``
and ``/metrics``, and checks what an operator would: every quote stored
once, nothing dead-lettered, no delivery counted, ``/healthz`` 503 (saying
what is down, since when, how much is held) during the outage and 200
after, and the replicas alive throughout. Then SIGTERM and ``--max-outage``
during an outage.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from streamlib import StreamProducer, client_from_url
from streamlib.testing import LocalRedis, free_port
from tests.support.helpers import quote, wait_for
from tests.support.postgres import LocalPostgres
from tests.support.replicas import Replica, consumer_command, drained, fill, healthz, samples

MIN_IDLE_MS = 500
MAX_DELIVERIES = 3
#: The hold must outlast this several times: without it, a failed batch would
#: be reclaimed and counted every min-idle, and dead-lettered after the cap.
CAP_SECONDS = MAX_DELIVERIES * MIN_IDLE_MS / 1000
OUTAGE_SECONDS = 4 * CAP_SECONDS
STREAM, GROUP = "quotes", "quotes-consumers"
ARGS = (
    "--min-idle-ms", str(MIN_IDLE_MS),
    "--max-deliveries", str(MAX_DELIVERIES),
    "--block-ms", "100",
    "--batch-size", "50",
    "--health-timeout", "60",
    "--progress-interval", "0",
    "--metrics-host", "127.0.0.1",
)  # fmt: skip


def metric(base: str, name: str) -> float:
    """A metric of a replica (summed over labels other than the stream's)."""
    return samples(base, GROUP, [STREAM])[name]


class Fleet:
    """Replicas ``<prefix>0``, ``<prefix>1``, ... with their metrics ports; killed at the end."""

    def __init__(
        self,
        n: int,
        *,
        redis_url: str,
        sink: str,
        log_dir: Path,
        extra: Sequence[str] = (),
        prefix: str = "r",
    ) -> None:
        self.bases: list[str] = []
        self.replicas: list[Replica] = []
        for i in range(n):
            port = free_port()
            self.bases.append(f"http://127.0.0.1:{port}")
            command = consumer_command(
                redis_url=redis_url,
                stream=STREAM,
                group=GROUP,
                sink=sink,
                name=f"{prefix}{i}",
                extra=[*ARGS, "--metrics-port", str(port), *extra],
            )
            self.replicas.append(Replica(command, log_dir / f"{prefix}{i}.log", None))

    def healthz(self) -> list[tuple[int, dict[str, Any]]]:
        return [healthz(base) for base in self.bases]

    def expect_health(self, status: int, what: str, timeout: float = 60) -> None:
        self.expect(lambda: all(s == status for s, _ in self.healthz()), what, timeout)

    def expect(self, predicate: Callable[[], object], what: str, timeout: float = 60) -> None:
        try:
            wait_for(predicate, timeout=timeout, interval=0.05, what=what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.logs()}") from None

    def alive(self) -> bool:
        return all(r.process.poll() is None for r in self.replicas)

    def logs(self) -> str:
        return "\n".join(f"--- {r.log_path.name}\n{r.log()[-3000:]}" for r in self.replicas)

    def kill(self) -> None:
        for r in self.replicas:
            r.kill()


@contextlib.contextmanager
def arriving(client: redis.Redis, start: int, n: int, chunk: int = 50) -> Iterator[threading.Event]:
    """Send quotes ``start`` .. ``start + n - 1`` from a thread, a chunk every 0.2 s.

    The pace is the experiment's (quotes keep arriving during the outage),
    not synchronisation. The event is set once everything was sent.
    """
    done = threading.Event()
    stop = threading.Event()

    def send() -> None:
        producer = StreamProducer(client, STREAM, retry_timeout=120)
        for first in range(start, start + n, chunk):
            producer.send_many(quote(i) for i in range(first, min(first + chunk, start + n)))
            if stop.wait(0.2):
                return
        done.set()

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    try:
        yield done
    finally:
        stop.set()
        thread.join(150)


def pending_deliveries(client: redis.Redis) -> list[int]:
    """The delivery count of every pending entry."""
    return [n for _, n in pending(client)]


def pending(client: redis.Redis) -> list[tuple[str, int]]:
    """(id, delivery count) of every pending entry."""
    rows = client.xpending_range(STREAM, GROUP, "-", "+", 10_000)
    return [(r["message_id"].decode(), r["times_delivered"]) for r in rows]


def stored_keys(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [k for (k,) in conn.execute("SELECT key FROM quotes").fetchall()]


def during_outage(fleet: Fleet, component: str, done: threading.Event | None = None) -> None:
    """Hold the outage until it lasted ``OUTAGE_SECONDS`` (and ``done`` is set, if given).

    Meanwhile every replica answers 503, naming ``component``, and stays alive.
    """

    def long_enough() -> bool:
        assert fleet.alive(), fleet.logs()
        answers = fleet.healthz()
        for status, body in answers:
            assert status == 503, (status, body)
            assert body["status"] == "outage" and body["down"] == component, body
        arrived = done is None or done.is_set()
        return arrived and all(b["seconds"] >= OUTAGE_SECONDS for _, b in answers)

    fleet.expect(long_enough, f"{component} down for {OUTAGE_SECONDS}s", timeout=120)


class World:
    """The test's own PostgreSQL and persistent Redis, and the replicas started on them."""

    def __init__(self, pg: LocalPostgres, server: LocalRedis, log_dir: Path) -> None:
        self.pg = pg
        self.server = server
        self.client = client_from_url(server.url, socket_connect_timeout=1.0)
        self.log_dir = log_dir
        self.fleets: list[Fleet] = []

    def fleet(self, n: int, *, prefix: str = "r", extra: Sequence[str] = ()) -> Fleet:
        fleet = Fleet(
            n,
            redis_url=self.server.url,
            sink=self.pg.url,
            log_dir=self.log_dir,
            extra=extra,
            prefix=prefix,
        )
        self.fleets.append(fleet)
        return fleet


@pytest.fixture
def world(
    postgres_factory: Callable[[], LocalPostgres],
    redis_factory: Callable[..., LocalRedis],
    tmp_path: Path,
) -> Iterator[World]:
    world = World(postgres_factory(), redis_factory(persistent=True), tmp_path)
    yield world
    for fleet in world.fleets:
        fleet.kill()
    world.client.close()


@pytest.mark.timeout(300)
def test_postgresql_stopped_while_quotes_arrive_dead_letters_nothing(world: World) -> None:
    pg, client = world.pg, world.client
    fleet = world.fleet(2)
    fleet.expect_health(200, "both replicas healthy")
    fill(client, STREAM, 200)
    fleet.expect(lambda: drained(client, STREAM, GROUP, 200), "the first 200")

    pg.stop("immediate")
    with arriving(client, 200, 1000) as done:
        fleet.expect(
            lambda: all(b.get("status") == "outage" for _, b in fleet.healthz()),
            "both replicas to report the outage",
        )
        during_outage(fleet, "sink", done)
    for (_, body), base in zip(fleet.healthz(), fleet.bases, strict=True):
        assert "PostgreSQL" in body["reason"] and body["since"].endswith("Z"), body
        assert body["held"] > 0, body
        assert metric(base, "streamlib_consumer_sink_up") == 0
        assert metric(base, "streamlib_consumer_paused") == 1
        assert metric(base, "streamlib_consumer_held_entries") == body["held"]
        # /healthz rounds to 0.1 s; the counter, read later, can't be behind it by more.
        assert metric(base, "streamlib_consumer_outage_seconds_total") >= body["seconds"] - 0.05
    held = pending_deliveries(client)
    assert held and set(held) == {1}, held  # held, not redelivered
    assert sum(b["held"] for _, b in fleet.healthz()) == len(held)
    assert client.xlen(f"{STREAM}:dead") == 0

    pg.start()
    fleet.expect(lambda: drained(client, STREAM, GROUP, 1200), "the drain", timeout=120)
    fleet.expect_health(200, "healthy again")
    assert sorted(stored_keys(pg.url)) == sorted(quote(n).key for n in range(1200))
    assert client.xlen(f"{STREAM}:dead") == 0
    for base in fleet.bases:
        assert metric(base, "streamlib_consumer_sink_up") == 1
        assert metric(base, "streamlib_consumer_paused") == 0
    assert fleet.alive(), fleet.logs()
    for r in fleet.replicas:
        r.terminate()
    assert [r.wait(60) for r in fleet.replicas] == [0, 0], fleet.logs()
    stats = [r.done_stats() for r in fleet.replicas]
    assert sum(s["redelivered"] + s["reclaimed"] + s["dead_lettered"] for s in stats) == 0
    for r in fleet.replicas:  # one line down, one line back: not one per retry
        assert r.log().count("sink down") <= 1 and r.log().count("sink back") <= 1


@pytest.mark.timeout(300)
def test_redis_stopped_while_quotes_arrive_dead_letters_nothing(world: World) -> None:
    pg, server, client = world.pg, world.server, world.client
    fleet = world.fleet(2)
    fleet.expect_health(200, "both replicas healthy")
    fill(client, STREAM, 200)
    fleet.expect(lambda: drained(client, STREAM, GROUP, 200), "the first 200")

    with arriving(client_from_url(server.url), 200, 1000) as done:
        fleet.expect(lambda: client.xlen(STREAM) >= 400, "quotes flowing")
        server.stop()  # the producer's chunks wait; the replicas' reads and acks fail
        during_outage(fleet, "redis")
        assert not done.is_set()
        server.start()
        fleet.expect(done.is_set, "the producer to finish", timeout=120)
    fleet.expect(lambda: drained(client, STREAM, GROUP, 1200), "the drain", timeout=120)
    fleet.expect_health(200, "healthy again")
    assert sorted(stored_keys(pg.url)) == sorted(quote(n).key for n in range(1200))
    assert client.xlen(f"{STREAM}:dead") == 0
    assert fleet.alive(), fleet.logs()
    for r in fleet.replicas:
        r.terminate()
    assert [r.wait(60) for r in fleet.replicas] == [0, 0], fleet.logs()
    stats = [r.done_stats() for r in fleet.replicas]
    assert sum(s["dead_lettered"] for s in stats) == 0


def outage_with_a_batch_in_hand(pg: LocalPostgres, client: redis.Redis, fleet: Fleet) -> list[str]:
    """100 quotes stored, then PostgreSQL crashed and 50 more sent; the ids held.

    (A blocked read is served after the first XADD of a pipeline: the batch
    in hand may be smaller than 50.)
    """
    fill(client, STREAM, 100)
    fleet.expect(lambda: drained(client, STREAM, GROUP, 100), "the first 100")
    pg.stop("immediate")
    fill(client, STREAM, 50, start=100)

    def holding() -> bool:
        held = [b.get("held", 0) for _, b in fleet.healthz()]
        return all(held) and sum(held) == len(pending(client))

    fleet.expect(holding, "a batch held")
    return [i for i, _ in pending(client)]


@pytest.mark.timeout(300)
def test_sigterm_during_an_outage_exits_promptly_leaving_the_batch_pending(world: World) -> None:
    pg, client = world.pg, world.client
    fleet = world.fleet(1)
    fleet.expect_health(200, "healthy")
    ids = outage_with_a_batch_in_hand(pg, client, fleet)
    replica = fleet.replicas[0]
    replica.terminate()
    assert replica.wait(20) == 0, replica.log()  # no waiting for the database
    assert f"{len(ids)} entries stay pending" in replica.log()
    assert pending(client) == [(i, 1) for i in ids]  # left as they were, not counted
    assert client.xlen(f"{STREAM}:dead") == 0


@pytest.mark.timeout(300)
def test_max_outage_exits_3_and_another_replica_takes_the_batch_over(world: World) -> None:
    pg, client = world.pg, world.client
    quitter = world.fleet(1, extra=["--max-outage", "2"])
    quitter.expect_health(200, "healthy")
    ids = outage_with_a_batch_in_hand(pg, client, quitter)
    replica = quitter.replicas[0]
    assert replica.wait(60) == 3, replica.log()  # gave up on its own
    assert "giving up: sink: down for" in replica.log()
    assert pending(client) == [(i, 1) for i in ids]  # nothing acknowledged, nor counted
    assert client.xlen(f"{STREAM}:dead") == 0

    pg.start()
    heir = world.fleet(1, prefix="heir")
    heir.expect(lambda: drained(client, STREAM, GROUP, 150), "the heir to take over")
    assert sorted(stored_keys(pg.url)) == sorted(quote(n).key for n in range(150))
    assert client.xlen(f"{STREAM}:dead") == 0
