"""A PostgreSQL server for the sink cases: found once, a fresh schema per run.

``TEST_POSTGRES_DSN`` if set, else the test suite's candidates on
127.0.0.1:5432 (as ``tests/consumer/conftest.py`` looks for them); ``None``
when no server answers, and the case skips that sink with a note. Each run
gets its own schema (``search_path`` in the sink's URL), dropped afterwards,
so every run inserts the same rows into empty tables. The URL also names the
run (``application_name``), so that the server's processes working for it
can be told apart from other clients' (``ServerCpu``).
"""

from __future__ import annotations

import logging
import os
import uuid
from urllib.parse import quote

import psutil

log = logging.getLogger("bench")

#: Where a PostgreSQL server is looked for (as tests/consumer/conftest.py does).
CANDIDATES = (
    "postgresql://postgres@127.0.0.1:5432/test",
    "postgresql://root@127.0.0.1:5432/test",
)


def postgres_dsn() -> str | None:
    """The DSN of a PostgreSQL server that answers, or ``None``."""
    try:
        import psycopg
    except ImportError:
        return None
    env = os.environ.get("TEST_POSTGRES_DSN")
    for dsn in ([env] if env else []) + list(CANDIDATES):
        try:
            with psycopg.connect(dsn, connect_timeout=3) as conn:
                conn.execute("SELECT 1")
            return dsn
        except psycopg.Error as exc:
            log.info("no PostgreSQL at %s: %s", dsn, str(exc).strip().splitlines()[0])
    return None


def _with_params(dsn: str, **params: str) -> str:
    """``dsn`` with URL query parameters added (values URL-quoted)."""
    query = "&".join(f"{k}={quote(v)}" for k, v in params.items())
    return f"{dsn}{'&' if '?' in dsn else '?'}{query}"


class Schema:
    """A new schema for one run: ``url`` for the sink, its rows, ``drop()``."""

    def __init__(self, dsn: str) -> None:
        import psycopg

        self.dsn = dsn
        self.schema = f"qs_bench_{uuid.uuid4().hex[:12]}"
        #: The sink connections' ``application_name``: the run's own.
        self.application = self.schema
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {self.schema}")
        self.url = _with_params(
            dsn, options=f"-c search_path={self.schema}", application_name=self.application
        )

    def _query(self, sql: str) -> list[tuple[object, ...]]:
        import psycopg

        with psycopg.connect(self.dsn) as conn:
            return conn.execute(sql.format(schema=self.schema)).fetchall()

    def count(self) -> int:
        """Rows in ``quotes``."""
        return int(self._query("SELECT count(*) FROM {schema}.quotes")[0][0])

    def keys(self) -> list[str]:
        """The key of every row in ``quotes``."""
        return [str(row[0]) for row in self._query("SELECT key FROM {schema}.quotes")]

    def batches(self) -> int:
        """Batches that stored rows in ``quotes``: each stamps its rows with one ``stored_at``."""
        return int(self._query("SELECT count(DISTINCT stored_at) FROM {schema}.quotes")[0][0])

    def latencies_ms(self) -> list[float]:
        """Per row: its entry's XADD (the stream id's ms) to its batch's ``stored_at``.

        ``stored_at`` is the batch's one time, taken by the consumer just
        before the batch's transaction: the COMMIT and the XACK come after.
        Both clocks are this machine's wall clock, to the millisecond.
        """
        rows = self._query(
            "SELECT extract(epoch FROM stored_at) * 1000"
            " - split_part(stream_id, '-', 1)::bigint FROM {schema}.quotes"
        )
        return [float(row[0]) for row in rows]

    def drop(self) -> None:
        """Drop the schema and its tables."""
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")


class ServerCpu:
    """CPU seconds of a local server's processes working for one ``application_name``.

    Those are the run's backends (each from its start: they connect once
    the run has begun), plus the server's background processes (WAL writer,
    checkpointer, background writer, autovacuum) from ``start()`` on. A
    server on another machine (its pids not ``postgres`` processes here) is
    not measured: ``used()`` is ``None``.
    """

    def __init__(self, dsn: str, application: str) -> None:
        self.dsn = dsn
        self.application = application
        self.base: dict[int, float] = {}

    def start(self) -> None:
        """Take the background processes' reference reading."""
        readings = {pid: _cpu(pid) for pid in self._pids(background=True)}
        self.base = {pid: cpu for pid, cpu in readings.items() if cpu is not None}

    def _pids(self, *, background: bool) -> list[int]:
        import psycopg

        with psycopg.connect(self.dsn, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE "
                + ("backend_type <> 'client backend'" if background else "application_name = %s"),
                () if background else (self.application,),
            ).fetchall()
        return [int(row[0]) for row in rows]

    def used(self) -> float | None:
        """CPU seconds since ``start()`` (the run's backends: since they started)."""
        if not self.base:
            return None  # none of its processes is here: not a local server
        total = 0.0
        for pid in {*self.base, *self._pids(background=False)}:
            now = _cpu(pid)
            if now is not None:  # else gone: a background process that ended
                total += now - self.base.get(pid, 0.0)
        return total


def _cpu(pid: int) -> float | None:
    """User + system CPU seconds of the local ``postgres`` process ``pid`` (``None``: none)."""
    try:
        proc = psutil.Process(pid)
        if "postgres" not in proc.name():
            return None
        t = proc.cpu_times()
    except psutil.Error:
        return None
    return float(t.user + t.system)
