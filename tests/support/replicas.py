"""Run ``quotes-consumer`` replicas as real subprocesses, and read their results
(logs, stores, groups, ``/metrics`` and ``/healthz``).

Made for reuse by end-to-end tests (spider -> stream -> N consumers)::

    with Replicas(4, redis_url=..., stream=..., sink=..., log_dir=tmp_path) as reps:
        ...fill the stream...
        wait_drained(client, stream, group, total)
        assert reps.stop() == [0, 0, 0, 0]
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import redis

from streamlib import PartitionedProducer, StreamSettings
from streamlib.groupinfo import GroupInfo, combined
from streamlib.groupinfo import group as group_info
from streamlib.partitions import all_partition_settings
from tests.support.helpers import quote, wait_for

T = TypeVar("T")

#: The console script next to this interpreter (installed by ``pip install -e``).
CONSUMER_SCRIPT = str(Path(sys.executable).with_name("quotes-consumer"))
DONE = re.compile(r"quotes-consumer (\S+) done: (.*)$", re.MULTILINE)


def consumer_command(
    *, redis_url: str, stream: str, group: str, sink: str, name: str, extra: Sequence[str] = ()
) -> list[str]:
    """The command line of one replica."""
    return [
        CONSUMER_SCRIPT,
        "--redis-url", redis_url,
        "--stream", stream,
        "--group", group,
        "--consumer", name,
        "--sink", sink,
        *extra,
    ]  # fmt: skip


class Replica:
    """One ``quotes-consumer`` process; its log (stderr) goes to a file."""

    def __init__(self, command: list[str], log_path: Path, env: dict[str, str] | None) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, env=env or dict(os.environ)
        )

    def log(self) -> str:
        """Everything the replica logged so far."""
        return self.log_path.read_text(errors="replace")

    def wait(self, timeout: float) -> int:
        """Wait for the exit; returns the status (negative: killed by a signal)."""
        try:
            return self.process.wait(timeout=timeout)
        finally:
            if self.process.poll() is not None:
                self._log.close()

    def terminate(self) -> None:
        """SIGTERM: drain and exit 0."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL, and reap."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self._log.close()

    def expect(
        self,
        probe: Callable[[], T],
        *,
        until: Callable[[T], object] = bool,
        changes: Callable[[T], object] | None = None,
        timeout: float,
        what: str,
    ) -> T:
        """``wait_for(probe, until=until, changes=changes)``, failing with the replica's log."""
        try:
            return wait_for(probe, until=until, changes=changes, timeout=timeout, what=what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nreplica log:\n{self.log()[-4000:]}") from None

    def done_stats(self) -> dict[str, int]:
        """The counters of the replica's last log line (``done: read=.. acked=..``)."""
        found = DONE.findall(self.log())
        assert found, f"no 'done' line in the log of a replica:\n{self.log()[-3000:]}"
        return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", found[-1][1])}


class Replicas:
    """``n`` replicas named ``<prefix>-0`` .. ``<prefix>-<n-1>``; all killed on exit."""

    def __init__(
        self,
        n: int,
        *,
        redis_url: str,
        stream: str,
        sink: str,
        log_dir: Path,
        group: str = "quotes-consumers",
        prefix: str = "replica",
        extra: Sequence[str] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.replicas = [
            Replica(
                consumer_command(
                    redis_url=redis_url,
                    stream=stream,
                    group=group,
                    sink=sink,
                    name=f"{prefix}-{i}",
                    extra=extra,
                ),
                log_dir / f"{prefix}-{i}.log",
                env,
            )
            for i in range(n)
        ]

    def __enter__(self) -> Replicas:
        return self

    def __exit__(self, *exc: object) -> None:
        for r in self.replicas:
            r.kill()

    def wait(self, timeout: float = 120.0) -> list[int]:
        """Wait for every replica to exit (e.g. ``--burst``); their statuses."""
        return [r.wait(timeout) for r in self.replicas]

    def stop(self, timeout: float = 60.0) -> list[int]:
        """SIGTERM every replica and wait; their statuses (0 = drained and clean)."""
        for r in self.replicas:
            r.terminate()
        return self.wait(timeout)

    def logs(self) -> str:
        """All logs, for assertion messages."""
        return "\n".join(f"--- {r.log_path.name}\n{r.log()[-2000:]}" for r in self.replicas)


def fill(
    client: redis.Redis, stream: str, n: int, *, start: int = 0, partitions: int = 1
) -> list[str]:
    """XADD ``n`` distinct quote envelopes over ``partitions``; their ids."""
    producer = PartitionedProducer(client, stream, partitions)
    return producer.send_many(quote(i) for i in range(start, start + n))


def consumers_joined(client: redis.Redis, stream: str, group: str) -> int:
    """How many consumers the group has seen (they join on their first read)."""
    try:
        return len(client.xinfo_consumers(stream, group))
    except redis.ResponseError:
        return 0


def group_totals(client: redis.Redis, settings: StreamSettings) -> GroupInfo | None:
    """``settings.group`` over every partition (``groupinfo.combined``); ``None`` while
    some partition has no group yet."""
    parts = [group_info(client, p.stream, p.group) for p in all_partition_settings(settings)]
    return None if None in parts else combined([p for p in parts if p is not None])


def drained(client: redis.Redis, stream: str, group: str, total: int) -> bool:
    """Whether the group read all ``total`` entries and acknowledged them (lag 0).

    After Redis reloads its AOF, XINFO GROUPS may report ``entries-read`` as
    unknown (nil) with lag 0: then the stream's length stands in for it.
    """
    info = group_info(client, stream, group)
    if info is None or info.pending != 0 or info.lag != 0:
        return False
    read = info.entries_read if info.entries_read is not None else client.xlen(stream)
    return read >= total


def wait_drained(
    client: redis.Redis, stream: str, group: str, total: int, timeout: float = 240.0
) -> None:
    """Poll until ``drained``; fail after ``timeout`` seconds."""
    wait_for(
        lambda: drained(client, stream, group, total),
        timeout=timeout,
        interval=0.2,
        what=f"group {group} to drain {total} entries of {stream}",
    )


def sqlite_rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` on a SQLite file (a fresh, short-lived connection)."""
    conn = sqlite3.connect(path, timeout=60)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def sqlite_count(path: Path, table: str = "quotes") -> int:
    """Rows in ``table``; 0 while the file or the table does not exist yet."""
    if not path.exists():
        return 0
    try:
        return int(sqlite_rows(path, f"SELECT count(*) FROM {table}")[0][0])
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return 0
        raise


# -- a replica's /metrics and /healthz -------------------------------------------------


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def samples(base: str, group: str, streams: list[str]) -> dict[str, float]:
    """name -> value of every sample of ``group`` on ``streams``, summed over the streams.

    A name that some of the streams lack is left out: every partition must
    have its series.
    """
    from prometheus_client.parser import text_string_to_metric_families

    _, text = get(base + "/metrics")
    out: dict[str, float] = {}
    seen: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.labels.get("group") != group or s.labels.get("stream") not in streams:
                continue
            if "le" in s.labels:
                continue
            key = s.name + (f"{{kind={s.labels['kind']}}}" if "kind" in s.labels else "")
            out[key] = out.get(key, 0.0) + s.value
            seen.setdefault(key, set()).add(s.labels["stream"])
    return {k: v for k, v in out.items() if seen[k] == set(streams)}


def healthz(base: str) -> tuple[int, dict[str, Any]]:
    """Status and JSON body of a replica's ``/healthz`` (0 and {} while nothing listens)."""
    status, text = get(base + "/healthz")
    return status, json.loads(text) if text else {}


def stalled(answer: tuple[int, dict[str, Any]]) -> list[str] | None:
    """The stalled partitions a ``healthz`` answer names; ``None`` unless it is a 503.

    Poll ``healthz`` and test the answer with this, following its changes with
    ``health_state``, so that a timeout shows the last whole body and when
    the state changed::

        wait_for(lambda: healthz(base), until=lambda a: stalled(a) == [...],
                 changes=health_state)
    """
    status, body = answer
    return body.get("stalled_partitions") if status == 503 else None


def health_state(answer: tuple[int, dict[str, Any]]) -> tuple[Any, ...]:
    """A ``healthz`` answer without its clocks: status, state, stalled and outage partitions."""
    status, body = answer
    parts = (body.get(k) for k in ("status", "stalled_partitions", "outage_partitions", "down"))
    return (status, *parts)
