"""The chaos scenario's world: a persistent Redis, a producer, four replicas, faults.

Every part is a real process on loopback: ``redis-server`` with AOF
(``appendfsync always``) in a temp folder, the producer of
``tests/chaos/producer_proc.py``, and ``quotes-consumer`` replicas into one
sink: a SQLite file (``SQLiteStore``) or the scenario's own PostgreSQL
server (``PostgresStore``, which can also be taken down). ``ChaosWorld``
starts them and injects the faults; the test drives it with a schedule drawn
from a seeded RNG (``schedule``).
"""

from __future__ import annotations

import collections
import dataclasses
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import psycopg
import redis

from streamlib.connection import client_from_url
from streamlib.testing import LocalRedis
from tests.support.helpers import wait_for
from tests.support.postgres import LocalPostgres
from tests.support.replicas import (
    Replica,
    consumer_command,
    consumers_joined,
    drained,
    sqlite_rows,
)

ROOT = Path(__file__).resolve().parents[2]
STREAM = "quotes"
GROUP = "quotes-consumers"
REPLICAS = 4
MIN_IDLE_MS = 1000
CONSUMER_ARGS = (
    "--min-idle-ms", str(MIN_IDLE_MS),
    "--block-ms", "200",
    "--batch-size", "200",
    "--progress-interval", "0.25",
)  # fmt: skip
#: The poison the injector writes: a valid envelope but for its data.
POISON_REASON = "field 'data' is not valid JSON"
STATS = re.compile(r"(?:progress|done): (read=.*?)(?: rate=|$)", re.MULTILINE)

#: The fault kinds, and how many of each a schedule holds (kills scale with size).
ONCE = ("stop_consumer", "restart_redis", "redis_outage", "kill_producer")
POISON_ENTRIES = 3
#: Faults that need the producer still running: killing it, and a sink outage
#: (which must meet quotes arriving). They fall in the schedule's first half.
EARLY = ("kill_producer", "postgres_outage")
MAX_DELIVERIES = 5  # quotes-consumer's default
#: A sink outage lasts longer than this: without the hold, every batch in hand
#: would be reclaimed and counted into the dead letters meanwhile.
OUTAGE_FLOOR = MAX_DELIVERIES * MIN_IDLE_MS / 1000


class Store(Protocol):
    """The sink the replicas share, as the world sees it."""

    #: ``sqlite`` or ``postgresql``.
    kind: str
    #: Fault kinds only this sink can suffer.
    faults: tuple[str, ...]

    def start(self) -> None: ...

    def url(self, name: str) -> str:
        """The sink URL of the replica called ``name``."""
        ...

    def in_write_transaction(self, name: str) -> bool:
        """Whether replica ``name`` is inside its sink transaction (for 50 ms or more)."""
        ...

    def keys(self) -> list[str]:
        """Every stored quote's key (a key twice, were it stored twice)."""
        ...

    def close(self) -> None: ...


class SQLiteStore:
    """One SQLite file in the test's folder."""

    kind = "sqlite"
    faults: tuple[str, ...] = ()

    def __init__(self, base: Path) -> None:
        self.db = base / "quotes.db"

    def start(self) -> None:
        pass

    def url(self, name: str) -> str:
        return f"sqlite:///{self.db}"

    def in_write_transaction(self, name: str) -> bool:
        # Only the frozen replica can hold the write lock for 50 ms.
        return _in_write_transaction(self.db)

    def keys(self) -> list[str]:
        return [k for (k,) in sqlite_rows(self.db, "SELECT key FROM quotes")]

    def close(self) -> None:
        pass


class PostgresStore:
    """The scenario's own PostgreSQL server; each replica connects under its name."""

    kind = "postgresql"
    faults = ("postgres_outage",)

    def __init__(self) -> None:
        self.server = LocalPostgres()

    def start(self) -> None:
        self.server.start()

    def url(self, name: str) -> str:
        return f"{self.server.url}?application_name={name}"

    def in_write_transaction(self, name: str) -> bool:
        # backend_xid: the transaction has written (a replica between INSERT and COMMIT).
        with psycopg.connect(self.server.url, connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name = %s AND backend_xid IS NOT NULL",
                (name,),
            ).fetchone()
        return bool(row and row[0])

    def keys(self) -> list[str]:
        with psycopg.connect(self.server.url, connect_timeout=5) as conn:
            return [k for (k,) in conn.execute("SELECT key FROM quotes").fetchall()]

    def close(self) -> None:
        self.server.close()


@dataclasses.dataclass(frozen=True)
class Fault:
    """One fault: wait ``delay`` seconds, then inject ``kind`` with its drawn parameters."""

    delay: float
    kind: str
    victim: int = 0
    same_name: bool = False
    #: SIGSTOP length, or how long Redis stays down.
    duration: float = 0.0


def schedule(rng: random.Random, kills: int, extra: Sequence[str] = ()) -> list[Fault]:
    """A shuffled fault list; the ``EARLY`` faults fall in the first half (the producer runs).

    ``extra``: the sink's own faults, once each (none for SQLite, whose
    schedules are those of a seed before the sink faults existed).
    """
    kinds = ["kill_consumer"] * kills + list(ONCE) + list(extra) + ["poison"] * POISON_ENTRIES
    rng.shuffle(kinds)
    half = len(kinds) // 2
    for kind in EARLY:
        at = kinds.index(kind) if kind in kinds else -1
        if at >= half:
            free = [i for i in range(half) if kinds[i] not in EARLY]
            swap = free[rng.randrange(len(free))]
            kinds[at], kinds[swap] = kinds[swap], kinds[at]
    faults = []
    for kind in kinds:
        duration = 0.0
        if kind == "stop_consumer":  # well past min-idle: its batch gets reclaimed
            duration = rng.uniform(2.5, 4.0)
        elif kind == "redis_outage":
            duration = rng.uniform(3.0, 6.0)
        elif kind == "postgres_outage":
            duration = rng.uniform(1.2 * OUTAGE_FLOOR, 1.8 * OUTAGE_FLOOR)
        faults.append(
            Fault(
                delay=rng.uniform(1.0, 3.0),
                kind=kind,
                victim=rng.randrange(REPLICAS),
                same_name=rng.random() < 0.5,
                duration=duration,
            )
        )
    return faults


class ChaosWorld:
    """Starts the processes, injects faults, and keeps what it needs to report."""

    def __init__(self, base: Path, *, size: int, rate: float, store: Store) -> None:
        self.base = base
        self.size = size
        self.rate = rate
        self.store = store
        self.logs = base / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.state = base / "producer"
        self.state.mkdir(exist_ok=True)
        self.server = LocalRedis(port=None, data_dir=base / "redis", persistent=True)
        self.client: redis.Redis | None = None
        self.slots: list[Replica] = []
        self.killed: list[Replica] = []
        self.every: list[Replica] = []
        self.producers: list[subprocess.Popen[bytes]] = []
        self.poison_ids: list[str] = []
        self.injected: collections.Counter[str] = collections.Counter()
        #: Faults that caught their replica holding unacknowledged entries.
        self.mid_batch: collections.Counter[str] = collections.Counter()
        #: Faults that caught their replica inside its sink transaction.
        self.mid_commit: collections.Counter[str] = collections.Counter()
        self.names: dict[Replica, str] = {}
        self._starts = collections.Counter[int]()

    # -- processes ----------------------------------------------------------

    def start(self) -> None:
        """Redis, four replicas (once they have all joined the group), then the producer.

        The faults start right after: on a busy machine a replica can take
        seconds to start, and the first fault must find the group and the
        replicas at work (XPENDING on a group not created yet is NOGROUP).
        """
        self.server.start()
        self.store.start()
        self.client = client_from_url(self.server.url, socket_connect_timeout=1.0)
        self.slots = [self._replica(i, f"replica-{i}") for i in range(REPLICAS)]
        client = self.client
        try:
            wait_for(
                lambda: consumers_joined(client, STREAM, GROUP) == REPLICAS,
                timeout=90,
                what="the four replicas to join the group",
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.logs_tail()}") from None
        self._start_producer()

    def _replica(self, slot: int, name: str) -> Replica:
        self._starts[slot] += 1
        replica = Replica(
            consumer_command(
                redis_url=self.server.url,
                stream=STREAM,
                group=GROUP,
                sink=self.store.url(name),
                name=name,
                extra=CONSUMER_ARGS,
            ),
            self.logs / f"{name}.{self._starts[slot]}.log",
            None,
        )
        self.every.append(replica)
        self.names[replica] = name
        return replica

    def _start_producer(self) -> None:
        log = (self.logs / f"producer.{len(self.producers)}.log").open("ab")
        command = [sys.executable, "-m", "tests.support.producer_proc", self.server.url, STREAM]
        command += [str(self.size), str(self.rate), str(self.state)]
        with log:
            self.producers.append(
                subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
            )

    @property
    def producer(self) -> subprocess.Popen[bytes]:
        return self.producers[-1]

    def producer_done(self) -> bool:
        return self.producer.poll() == 0 and (self.state / "done").exists()

    def close(self) -> None:
        """Kill whatever still runs (after a failure) and close Redis."""
        for replica in self.every:
            if replica.process.poll() is None:
                replica.process.send_signal(signal.SIGCONT)
            replica.kill()
        for proc in self.producers:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        if self.client is not None:
            self.client.close()
        self.server.close()
        self.store.close()

    # -- faults -------------------------------------------------------------

    def inject(self, fault: Fault) -> None:
        """Inject one fault and undo what must be undone (restart, SIGCONT)."""
        self.injected[fault.kind] += 1
        getattr(self, fault.kind)(fault)

    def _freeze_busy(self, replica: Replica, kind: str, *, want: str, timeout: float = 5.0) -> None:
        """SIGSTOP ``replica`` at the worst moment for it that comes within ``timeout``.

        Handling a batch takes milliseconds: a fault at a uniformly random
        moment would mostly hit a replica blocked on an empty read. This
        watches the process (``/proc/<pid>/stat``) until it is running on a
        CPU, freezes it and looks: ``want="pending"`` waits for a moment it
        holds unacknowledged entries (XPENDING), ``want="commit"`` for one
        inside its sink transaction (``Store.in_write_transaction``: SQLite's
        write lock held, or a PostgreSQL transaction that has written).
        Otherwise it thaws it and watches on;
        after ``timeout`` it stays frozen wherever it is. Targeting only:
        correctness never waits on it.
        """
        deadline = time.monotonic() + timeout
        stat = Path(f"/proc/{replica.process.pid}/stat")
        name = self.names[replica]
        while True:
            while time.monotonic() < deadline and _state(stat) not in ("R", None):
                time.sleep(0.001)
            replica.process.send_signal(signal.SIGSTOP)
            pending = self.retry(lambda c: _pending_with(c, name))
            in_commit = self.store.in_write_transaction(name)
            hit = bool(pending) if want == "pending" else in_commit
            if hit or time.monotonic() >= deadline:
                self.mid_batch[kind] += bool(pending)
                self.mid_commit[kind] += in_commit if hit else 0
                return
            replica.process.send_signal(signal.SIGCONT)

    def kill_consumer(self, fault: Fault) -> None:
        """SIGKILL a replica (busy with a batch, if possible); replace it, same name or new."""
        victim = self.slots[fault.victim]
        self._freeze_busy(victim, fault.kind, want="commit")
        victim.kill()
        self.killed.append(victim)
        name = f"replica-{fault.victim}"
        if not fault.same_name:
            name += f"-r{self._starts[fault.victim]}"
        self.slots[fault.victim] = self._replica(fault.victim, name)

    def stop_consumer(self, fault: Fault) -> None:
        """SIGSTOP a busy replica past min-idle (others reclaim its batch), then SIGCONT."""
        victim = self.slots[fault.victim]
        self._freeze_busy(victim, fault.kind, want="pending")
        time.sleep(fault.duration)  # the experiment, not synchronisation
        victim.process.send_signal(signal.SIGCONT)

    def restart_redis(self, fault: Fault) -> None:
        """SIGKILL Redis and start it again on the same AOF."""
        self.server.kill()
        self.server.start()

    def redis_outage(self, fault: Fault) -> None:
        """Shut Redis down for a few seconds; everyone must wait and resume."""
        self.server.stop()
        time.sleep(fault.duration)  # the experiment, not synchronisation
        self.server.start()

    def postgres_outage(self, fault: Fault) -> None:
        """Crash PostgreSQL (``-m immediate``) for longer than max-deliveries x min-idle.

        Every replica must hold its batch in hand and wait: nothing may be
        counted into the dead letters meanwhile.
        """
        assert isinstance(self.store, PostgresStore)
        self.store.server.stop("immediate")
        time.sleep(fault.duration)  # the experiment, not synchronisation
        self.store.server.start()

    def kill_producer(self, fault: Fault) -> None:
        """SIGKILL the producer (mid-batch, most likely) and restart it from its checkpoint."""
        self.producer.kill()
        self.producer.wait()
        self._start_producer()

    def poison(self, fault: Fault) -> None:
        """XADD one entry that can't be decoded; it must end in the dead letters."""
        fields = {"v": "1", "type": "quote", "key": f"poison-{len(self.poison_ids)}", "ts": "0"}
        fields["data"] = "{not json"
        entry_id = self.retry(lambda c: c.xadd(STREAM, fields))  # type: ignore[arg-type]
        self.poison_ids.append(entry_id.decode())

    # -- observation --------------------------------------------------------

    def retry(self, command, timeout: float = 60.0):  # type: ignore[no-untyped-def]
        """Run ``command(client)``, riding out a connection dropped by a restart."""
        assert self.client is not None
        deadline = time.monotonic() + timeout
        while True:
            try:
                return command(self.client)
            except (redis.ConnectionError, redis.TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def drained(self) -> bool:
        """Producer finished and every entry of the stream read and acknowledged."""
        if not self.producer_done():
            return False
        return bool(self.retry(lambda c: drained(c, STREAM, GROUP, c.xlen(STREAM))))

    def crashed(self) -> list[str]:
        """Logs of replicas that exited although nobody killed or stopped them."""
        return [
            f"{r.log_path.name} exited {r.process.returncode}:\n{r.log()[-3000:]}"
            for r in self.every
            if r not in self.killed and r.process.poll() is not None
        ]

    def replica_stats(self) -> list[dict[str, int]]:
        """Each replica's last counters: its done line, or its last progress line if killed."""
        out = []
        for r in self.every:
            found = STATS.findall(r.log())
            if found:
                out.append({k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", found[-1])})
        return out

    def logs_tail(self) -> str:
        """The end of every log, for assertion messages."""
        logs = sorted(self.logs.iterdir())
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-1500:]}" for p in logs)


def _state(stat: Path) -> str | None:
    """A process's state letter from ``/proc/<pid>/stat`` (``R`` running), or ``None``."""
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _in_write_transaction(db: Path) -> bool:
    """Whether some process holds ``db``'s write lock (for longer than 50 ms)."""
    conn = sqlite3.connect(db, timeout=0.05, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return True
    finally:
        conn.close()  # rolls our probe back
    return False


def _pending_with(client: redis.Redis, name: str) -> list[Any]:
    """One entry pending with consumer ``name``, if any; none before the group exists.

    A fault drawn for the first moments of the run can come before any
    replica has created the group (NOGROUP): nothing is pending then.
    """
    try:
        return client.xpending_range(STREAM, GROUP, "-", "+", 1, consumername=name)  # type: ignore[no-any-return]
    except redis.ResponseError as exc:
        if str(exc).startswith("NOGROUP"):
            return []
        raise
