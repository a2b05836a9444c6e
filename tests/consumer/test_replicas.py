"""Four ``quotes-consumer`` processes share one stream through the group.

20,000 entries, one SQLite file (or one PostgreSQL schema) for all four:
every key stored exactly once, nothing pending, lag 0, and every replica
exits 0 on SIGTERM.
"""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest
import redis

from streamlib import StreamSettings
from tests.support.helpers import quote, wait_for
from tests.support.replicas import Replicas, consumers_joined, fill, sqlite_rows, wait_drained

TOTAL = 20_000
REPLICAS = 4


def drain_with_replicas(
    client: redis.Redis, settings: StreamSettings, sink: str, log_dir: Path
) -> tuple[float, list[dict[str, int]]]:
    """Start 4 replicas, fill TOTAL entries once all joined, wait until drained, stop.

    Returns the entries per second (fill start -> drained) and each replica's stats.
    """
    with Replicas(
        REPLICAS,
        redis_url=settings.redis_url,
        stream=settings.stream,
        group="g",
        sink=sink,
        log_dir=log_dir,
        extra=["--block-ms", "200", "--progress-interval", "5"],
    ) as replicas:
        wait_for(
            lambda: consumers_joined(client, settings.stream, "g") == REPLICAS,
            timeout=90,
            what="all replicas to join the group",
        )
        start = time.monotonic()
        fill(client, settings.stream, TOTAL)
        try:
            wait_drained(client, settings.stream, "g", TOTAL, timeout=300)
        except AssertionError:
            raise AssertionError(replicas.logs()) from None
        rate = TOTAL / (time.monotonic() - start)
        assert replicas.stop() == [0] * REPLICAS, replicas.logs()
        stats = [r.done_stats() for r in replicas.replicas]
    return rate, stats


def check_shared_exactly_once(stats: list[dict[str, int]], keys: list[str]) -> None:
    assert sum(s["acked"] for s in stats) == TOTAL  # each entry acknowledged once
    assert sum(1 for s in stats if s["acked"] > 0) >= 2, stats  # the work was shared
    assert all(s["handler_errors"] == 0 and s["dead_lettered"] == 0 for s in stats)
    assert len(keys) == TOTAL
    assert set(keys) == {quote(i).key for i in range(TOTAL)}


@pytest.mark.timeout(480)
def test_four_replicas_drain_into_one_sqlite_file(
    client: redis.Redis, settings: StreamSettings, tmp_path: Path
) -> None:
    db = tmp_path / "quotes.db"
    rate, stats = drain_with_replicas(client, settings, f"sqlite:///{db}", tmp_path)
    keys = [k for (k,) in sqlite_rows(db, "SELECT key FROM quotes")]
    check_shared_exactly_once(stats, keys)
    print(f"\nsqlite: {rate:.0f} entries/s, acked per replica {[s['acked'] for s in stats]}")


@pytest.mark.timeout(480)
def test_four_replicas_drain_into_postgresql(
    client: redis.Redis, settings: StreamSettings, pg_url: str, tmp_path: Path
) -> None:
    rate, stats = drain_with_replicas(client, settings, pg_url, tmp_path)
    with psycopg.connect(pg_url) as conn:
        keys = [k for (k,) in conn.execute("SELECT key FROM quotes").fetchall()]
    check_shared_exactly_once(stats, keys)
    print(f"\npostgresql: {rate:.0f} entries/s, acked per replica {[s['acked'] for s in stats]}")
