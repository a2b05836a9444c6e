"""The demo's processes (one crawl, N consumers) and how far along they are."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

import redis

from streamlib import ConnectionOptions, StreamSettings, groupinfo
from streamlib.ops.groups import create_group
from streamlib.partitions import all_partition_settings
from streamlib.settings import setting_fields

ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass
class Status:
    """A snapshot of one demo run."""

    produced: int = 0
    distinct_keys: int = 0
    quotes: int = 0
    authors: int = 0
    duplicates: int = 0
    pending: int | None = None
    lag: int | None = None
    dead_letters: int = 0
    elapsed: float = 0.0
    consumer_exits: list[int | None] = dataclasses.field(default_factory=list)
    problem: str = ""

    @property
    def stored(self) -> int:
        return self.quotes + self.authors

    @property
    def drained(self) -> bool:
        """Every produced entry read and acknowledged, and stored."""
        return (
            self.produced > 0
            and self.pending == 0
            and self.lag == 0
            and self.stored == self.distinct_keys
        )

    @property
    def complete(self) -> bool:
        return (
            not self.problem
            and self.drained
            and self.consumer_exits == [0] * len(self.consumer_exits)
        )


class Pipeline:
    """Starts the crawl and the consumers, watches them, and stops them."""

    def __init__(
        self,
        *,
        settings: StreamSettings,
        start_url: str,
        polite: bool,
        consumers: int,
        data: Path,
    ) -> None:
        self.settings = settings
        self.start_url = start_url
        self.polite = polite
        self.n_consumers = consumers
        self.sink_path = data / "quotes.db"
        self.logs = data / "logs" / time.strftime("%Y%m%d-%H%M%S")
        self.logs.mkdir(parents=True, exist_ok=True)
        self.producer: subprocess.Popen[bytes] | None = None
        self.consumers: list[subprocess.Popen[bytes]] = []
        self._keys: dict[str, set[str]] = {"quote": set(), "author": set()}
        self._produced = 0
        #: Every partition's stream (one for a plain stream) and the last id counted in it.
        self._cursors = {p.stream: "0-0" for p in all_partition_settings(settings)}

    # -- processes ------------------------------------------------------------

    def _env(self, **extra: str) -> dict[str, str]:
        """The children's environment: exactly this run's Redis, stream and group."""
        s = self.settings
        env = dict(os.environ)
        if s.connection == ConnectionOptions():  # e.g. the embedded server: no credentials
            for row in setting_fields(ConnectionOptions):
                env.pop(row.env, None)
        env.update(REDIS_URL=s.redis_url, STREAM=s.stream, GROUP=s.group)
        env.update(PARTITIONS=str(s.partitions))
        env.setdefault("SCRAPY_SETTINGS_MODULE", "producer.settings")
        env.update(extra)
        return env

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with (self.logs / f"{name}.log").open("wb") as out:
            return subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, env=env)

    def _start(self) -> None:
        sink_env = self._env(SINK=f"sqlite:///{self.sink_path}", BLOCK_MS="500")
        for i in range(1, self.n_consumers + 1):
            argv = [sys.executable, "-m", "consumer", "--consumer", f"demo-{i}"]
            self.consumers.append(self._spawn(f"consumer-{i}", argv, sink_env))
        crawl = [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            "quotes",
            "-a",
            f"start_url={self.start_url}",
        ]
        crawl += ["-s", f"STREAM_NAME={self.settings.stream}"]
        if not self.polite:  # our own loopback site: no need to throttle
            crawl += ["-s", "AUTOTHROTTLE_ENABLED=False"]
        self.producer = self._spawn("producer", crawl, self._env())

    def stop(self) -> list[int | None]:
        """SIGTERM the consumers (they drain and exit 0), kill what won't stop."""
        if self.producer is not None and self.producer.poll() is None:
            self.producer.terminate()
        for proc in self.consumers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in [*self.consumers, *([self.producer] if self.producer else [])]:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return [p.returncode for p in self.consumers]

    # -- watching -------------------------------------------------------------

    def run(self, timeout: float, on_progress: Callable[[Status], None]) -> Status:
        """Run until everything is stored and acknowledged, or a problem, or ``timeout``."""
        client = self.settings.connect()
        self._cursors = {stream: _last_id(client, stream) for stream in self._cursors}
        dead_before = self._dead_letters(client)
        # The consumers' group, where they would create it, before anything
        # starts: the crawl's backpressure follows its lag from the first page.
        create_group(client, self.settings)
        started = time.monotonic()
        self._start()
        assert self.producer is not None
        last_report = 0.0
        while True:
            status = self._status(client, dead_before)
            status.elapsed = time.monotonic() - started
            if time.monotonic() - last_report >= 1.0:
                on_progress(status)
                last_report = time.monotonic()
            status.problem = self._problem(status, timeout)
            if status.problem or (self.producer.poll() == 0 and status.drained):
                break
            time.sleep(0.25)
        on_progress(status)
        status.consumer_exits = self.stop()
        if not status.problem and status.consumer_exits != [0] * self.n_consumers:
            status.problem = f"a consumer did not exit cleanly; see {self.logs}"
        return status

    def _problem(self, status: Status, timeout: float) -> str:
        assert self.producer is not None
        exited = [p.returncode for p in self.consumers if p.poll() is not None]
        if exited:
            return f"a consumer exited early (code {exited[0]}); see {self.logs}"
        code = self.producer.poll()
        if code not in (None, 0):
            return f"the crawl failed (exit {code}); see {self.logs}/producer.log"
        if code == 0 and status.produced == 0:
            return f"the crawl produced nothing; see {self.logs}/producer.log"
        if status.elapsed > timeout:
            return f"not done after {timeout:.0f}s; see {self.logs}"
        return ""

    def _status(self, client: redis.Redis, dead_before: int) -> Status:
        s = self.settings
        for stream, cursor in self._cursors.items():
            for entry_id, fields in _entries(client.xrange(stream, min=f"({cursor}")):
                self._cursors[stream] = entry_id.decode()
                self._produced += 1
                kind = fields.get(b"type", b"").decode(errors="replace")
                key = fields.get(b"key", b"").decode(errors="replace")
                self._keys.setdefault(kind, set()).add(key)
        # With the group missing from a partition (destroyed meanwhile), they are unknown.
        info = groupinfo.across_partitions(client, s.stream, s.group, s.partitions)
        status = Status(
            produced=self._produced,
            distinct_keys=sum(len(keys) for keys in self._keys.values()),
            pending=info.pending if info else None,
            lag=info.lag if info else None,
            dead_letters=self._dead_letters(client) - dead_before,
        )
        status.quotes, status.authors, status.duplicates = self._stored()
        return status

    def _dead_letters(self, client: redis.Redis) -> int:
        """Dead letters in every partition's dead-letter stream."""
        return sum(_length(client, p.dead_letters) for p in all_partition_settings(self.settings))

    def _stored(self) -> tuple[int, int, int]:
        """Rows of this run's keys in the sink, and keys stored more than once."""
        if not self.sink_path.exists():
            return 0, 0, 0
        counts = []
        duplicates = 0
        try:
            with contextlib.closing(
                sqlite3.connect(f"file:{self.sink_path}?mode=ro", uri=True, timeout=10)
            ) as db:
                for table, kind in (("quotes", "quote"), ("authors", "author")):
                    keys = sorted(self._keys.get(kind, ()))
                    if not keys:
                        counts.append(0)
                        continue
                    marks = ",".join("?" * len(keys))
                    sql = f"SELECT key, count(*) FROM {table} WHERE key IN ({marks}) GROUP BY key"
                    rows = db.execute(sql, keys).fetchall()
                    counts.append(len(rows))
                    duplicates += sum(n - 1 for _, n in rows)
        except sqlite3.OperationalError:  # tables not created yet
            return 0, 0, 0
        return counts[0], counts[1], duplicates


def _last_id(client: redis.Redis, stream: str) -> str:
    """The stream's last entry id (``0-0`` if it has none), to count only this run's."""
    newest = _entries(client.xrevrange(stream, count=1))
    return newest[0][0].decode() if newest else "0-0"


def _entries(reply: object) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """XRANGE's reply as streamlib's clients return it (RESP2, bytes)."""
    return cast(list[tuple[bytes, dict[bytes, bytes]]], reply or [])


def _length(client: redis.Redis, stream: str) -> int:
    return int(client.xlen(stream))
