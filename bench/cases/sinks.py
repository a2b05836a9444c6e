"""streamlib's ``GroupConsumer`` with the real ``QuoteHandler`` and each sink.

One consumer process drains a pre-filled stream of distinct quote envelopes
(``workload.quote_envelopes``: text, author, tags, author_url, page url) into
SQLite (the default sink), PostgreSQL and JSON lines, through the consumer
service's own handler and ``open_sink``: validation, one upsert transaction
(or one fsynced append) per batch, then the batch's XACK, with the GC policy
the service applies (``streamlib.gcpolicy``). Each run writes to
a new database file, schema or file, so every run inserts the same rows into
empty tables; afterwards the rows are counted (all there, nothing rejected).

PostgreSQL: the server ``bench.postgres`` finds, a schema of its own per
run, dropped afterwards. No server answering: that sink is skipped with a
note.

Each run's ``vs_loop`` is the sink's rate over the hand-tuned loop's,
measured just before it (``rawloop.loop_rate``): the sinks' absolute targets
are judged at a reference speed by it (``bench.report``).
"""

from __future__ import annotations

import logging
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from consumer.handler import QuoteHandler
from consumer.sinks import open_sink
from streamlib import GroupConsumer
from streamlib.connection import client_from_url
from streamlib.gcpolicy import tune_gc

from .. import workload
from ..postgres import Schema, postgres_dsn
from ..procs import Gate, Stopwatch, run_together, window
from ..registry import CaseResult, Run, case
from ..runner import Context, measure, repeat
from .rawloop import loop_rate
from .streamlib_consumer import settings_for

log = logging.getLogger("bench")


def sink_worker(
    url: str, stream: str, group: str, me: str, sink_url: str, *, gate: Gate
) -> dict[str, Any]:
    """Drain ``stream`` with a ``GroupConsumer`` and ``QuoteHandler(open_sink(sink_url))``."""
    sink = open_sink(sink_url)
    consumer = GroupConsumer(
        client_from_url(url), settings_for(url, stream, group, me), QuoteHandler(sink)
    )
    tune_gc()  # as quotes-consumer does once set up
    gate()
    sw = Stopwatch()
    stats = consumer.run(burst=True)
    report = sw.report(
        stats.acked, dead_lettered=stats.dead_lettered, handler_errors=stats.handler_errors
    )
    sink.close()
    return report


class _Target(Protocol):
    """A fresh place for one run's rows: ``url`` for the sink, ``count()`` and ``drop()``."""

    url: str

    def count(self) -> int: ...

    def drop(self) -> None: ...


class _SQLite(_Target):
    def __init__(self, scratch: Path) -> None:
        self.path = scratch / f"sink-{uuid.uuid4().hex[:8]}.db"
        self.url = f"sqlite:///{self.path}"

    def count(self) -> int:
        with sqlite3.connect(self.path) as conn:
            return int(conn.execute("SELECT count(*) FROM quotes").fetchone()[0])

    def drop(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)


class _JsonLines(_Target):
    def __init__(self, scratch: Path) -> None:
        self.path = scratch / f"sink-{uuid.uuid4().hex[:8]}.jsonl"
        self.url = f"jsonl:{self.path}"

    def count(self) -> int:
        with self.path.open("rb") as f:
            return sum(1 for _ in f)

    def drop(self) -> None:
        self.path.unlink(missing_ok=True)


def _sink_runs(
    ctx: Context, stream: str, count: int, repeats: int, label: str, target: Callable[[], _Target]
) -> list[Run]:
    def once() -> Run:
        reference = loop_rate(ctx)
        group = ctx.name("group")
        workload.fresh_group(ctx.client, stream, group)
        place = target()
        try:
            reports, redis_cpu = run_together(
                [(sink_worker, (ctx.url, stream, group, "c0", place.url))],
                timeout=max(120.0, count / 1_000),
                redis_pids=ctx.redis_pids,
            )
            stored = place.count()
        finally:
            workload.drop_group(ctx.client, stream, group)
            place.drop()
        done = sum(r["count"] for r in reports)
        bad = sum(r["dead_lettered"] + r["handler_errors"] for r in reports)
        if done != count or stored != count or bad:
            raise RuntimeError(
                f"{label}: {done} of {count} acked, {stored} rows stored, "
                f"{bad} dead-lettered or failed"
            )
        run = Run(
            messages=done,
            seconds=window(reports),
            cpu_s=sum(r["cpu_s"] for r in reports),
            redis_cpu_s=redis_cpu,
        )
        run.extra["vs_loop"] = run.rate / reference
        return run

    return repeat(repeats, once, label)


@case("sink", "streamlib GroupConsumer + QuoteHandler into each sink", order=35)
def sinks(ctx: Context) -> list[CaseResult]:
    """SQLite, PostgreSQL and JSON lines, one consumer process each."""
    p = ctx.profile
    count = p.messages
    repeats = min(p.repeats, 3)
    stream = ctx.name("quotes")
    t0 = time.monotonic()
    workload.prefill_quotes(ctx.client, stream, count)
    log.info("pre-filled %s with %d quotes in %.1fs", stream, count, time.monotonic() - t0)
    dsn = postgres_dsn()
    upsert = "quotes/s: distinct quotes upserted, one transaction per batch of 500"
    plan: list[tuple[str, str, Callable[[], _Target] | None, str]] = [
        ("sqlite", "SQLite (default)", lambda: _SQLite(ctx.scratch), upsert),
        ("postgresql", "PostgreSQL", (lambda: Schema(dsn)) if dsn else None, upsert),
        (
            "jsonl",
            "JSON lines",
            lambda: _JsonLines(ctx.scratch),
            "quotes/s: one write + fsync per batch of 500",
        ),
    ]
    out = []
    try:
        for key, title, target, note in plan:
            if target is None:
                log.warning("sink %s skipped: no PostgreSQL server answered", key)
                continue
            runs = _sink_runs(ctx, stream, count, repeats, f"sink {key}", target)
            out.append(
                measure(
                    runs,
                    name=f"streamlib GroupConsumer + QuoteHandler, {title} sink, 1 process",
                    case="sink",
                    kind="consumer",
                    params={"processes": 1, "sink": key},
                    note=note,
                )
            )
    finally:
        ctx.drop(stream)
    if dsn is None and out:
        out[0].note += "; the PostgreSQL sink was not run: no PostgreSQL server answered"
    return out
