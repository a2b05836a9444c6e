"""A replica SIGKILLed after its sink committed but before it acknowledged.

The entries stay pending with the dead replica; another replica reclaims
them after min-idle and stores them again. With the upsert on ``key`` that
adds no row and the entries get acknowledged; with a plain INSERT the
redelivery would hit the primary key, the batch would never be acknowledged
and this test would fail on ``pending == 0`` (and on the row checks).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
import redis

from streamlib import StreamSettings
from tests.support.helpers import quote, wait_for
from tests.support.replicas import Replica, consumer_command, fill, sqlite_rows

ROOT = Path(__file__).resolve().parents[2]
N = 40
MIN_IDLE_MS = 300


def _sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Callable]:
    db = tmp_path / "q.db"
    return f"sqlite:///{db}", lambda sql: sqlite_rows(db, sql)


def _postgres(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Callable]:
    url = request.getfixturevalue("pg_url")

    def query(sql: str) -> list[tuple]:
        with psycopg.connect(url) as conn:
            return conn.execute(sql).fetchall()

    return url, query


@pytest.fixture(
    params=[
        pytest.param(_sqlite, id="sqlite"),
        pytest.param(_postgres, id="postgresql", marks=pytest.mark.postgres),
    ]
)
def sink(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Callable]:
    return request.param(request, tmp_path)


def test_kill_between_commit_and_ack_adds_no_row(
    client: redis.Redis, settings: StreamSettings, sink: tuple[str, Callable], tmp_path: Path
) -> None:
    url, query = sink
    ids = fill(client, settings.stream, N)

    crashed = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.support.crash_after_commit",
            settings.redis_url,
            settings.stream,
            "g",
            "doomed",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,  # so that -m tests.consumer... resolves
    )
    assert crashed.returncode == -9, crashed.stderr
    # The worst moment: every row committed, no entry acknowledged.
    assert query("SELECT count(*) FROM quotes") == [(N,)]
    assert client.xpending(settings.stream, "g")["pending"] == N

    def idle_enough() -> bool:
        rows = client.xpending_range(settings.stream, "g", "-", "+", N)
        return len(rows) == N and min(r["time_since_delivered"] for r in rows) > MIN_IDLE_MS

    wait_for(idle_enough, timeout=30, what="the dead replica's entries to go idle")

    survivor = Replica(
        consumer_command(
            redis_url=settings.redis_url,
            stream=settings.stream,
            group="g",
            sink=url,
            name="survivor",
            extra=["--burst", "--min-idle-ms", str(MIN_IDLE_MS)],
        ),
        tmp_path / "survivor.log",
        None,
    )
    assert survivor.wait(120) == 0, survivor.log()

    stats = survivor.done_stats()
    assert (stats["reclaimed"], stats["handled"], stats["acked"]) == (N, N, N), survivor.log()
    assert stats["handler_errors"] == 0 and stats["dead_lettered"] == 0
    assert client.xpending(settings.stream, "g")["pending"] == 0
    assert client.xlen(settings.dead_letters) == 0
    # One row per key, still carrying the id of the first (committed) delivery.
    rows = query("SELECT key, stream_id FROM quotes")
    assert sorted(rows) == sorted((quote(i).key, ids[i]) for i in range(N))
