"""Replicas into PostgreSQL, end to end: one producer, 1 and 4 consumer services, one schema.

One producer process sends distinct quote envelopes, the envelopes the
Scrapy pipeline makes of a crawl's items (``workload.quote_envelopes``),
with ``PartitionedProducer.send_many`` 500 at a time and flow control on the
group's lag (the producer's default ``max_lag``). At the same time ``N``
processes each run the consumer service (``consumer.service.run_service``:
what ``quotes-consumer --sink postgresql://...`` runs) as replicas of one
group, all upserting into the same PostgreSQL schema, whose tables exist
before the run starts (as a running service's do). The replicas run as the
service does, not in burst mode: a burst replica quits as soon as it finds
nothing to read, which here happens at the start and whenever the others
have taken the last batch while the producer waits for room.

The run is from the first send to the moment every quote is stored and
acknowledged: the parent polls the group (XINFO GROUPS) every 5 ms until it
has read every entry and none is pending, then stops the replicas with
SIGTERM, as an orchestrator does. The CPU of Redis, of PostgreSQL and of the
whole machine (every process, others' work included: on a shared machine it
tells whether the run had the cores to itself) is read at that moment.
PostgreSQL's is the run's backends plus the server's background processes
(WAL writer, checkpointer, ...), when the server is on this machine.
Latency is per row, from its entry's XADD (the entry id's ms) to its
batch's ``stored_at`` (taken just before the batch's transaction).

After every run: every quote acknowledged once, none rejected, none pending,
and the rows are exactly the keys sent, each once. The schema is dropped.
Runs of 1 and 4 replicas alternate. No PostgreSQL answering: the case is
skipped with a note.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import statistics
import threading
import time
from collections.abc import Sequence
from multiprocessing.process import BaseProcess

from consumer.sinks import open_sink
from streamlib import groupinfo
from streamlib.connection import client_from_url

from .. import workload
from ..postgres import Schema, ServerCpu, postgres_dsn
from ..procs import CpuMeter, machine_cpu_s, run_together
from ..registry import CaseResult, Run, Skip, case
from ..runner import Context, measure
from .cluster import consumer_worker, producer_worker

log = logging.getLogger("bench")

#: Replicas of the consumer service, one run of each per round.
REPLICAS = (1, 4)
#: Seconds between two readings of the group while the run goes on.
POLL_S = 0.005


class Finish:
    """A ``run_together`` monitor: the moment the group has stored and acknowledged everything.

    Polls the group until it has read all ``count`` entries and none is
    pending; then records the time and the CPU that Redis, PostgreSQL and
    the whole machine used since the start, and stops the replicas (every
    worker but the first, the producer, which has sent everything by then)
    with SIGTERM.
    """

    def __init__(
        self,
        url: str,
        stream: str,
        group: str,
        count: int,
        redis_pids: Sequence[int],
        server: ServerCpu,
    ) -> None:
        self.url, self.stream, self.group, self.count = url, stream, group, count
        self.redis = CpuMeter(redis_pids)
        self.server = server
        self.at: float | None = None
        self.redis_cpu_s: list[float] = []
        self.pg_cpu_s: float | None = None
        self.machine_cpu_s = 0.0

    def __call__(self, procs: Sequence[BaseProcess], stop: threading.Event) -> None:
        client = client_from_url(self.url)
        self.redis.start()
        self.server.start()
        machine = machine_cpu_s()
        try:
            while not stop.is_set():
                info = groupinfo.group(client, self.stream, self.group)
                if info is not None and info.entries_read == self.count and info.pending == 0:
                    self.at = time.monotonic()
                    self.machine_cpu_s = machine_cpu_s() - machine
                    self.redis_cpu_s = self.redis.used()
                    self.pg_cpu_s = self.server.used()
                    for proc in procs[1:]:
                        if proc.pid is not None:
                            with contextlib.suppress(ProcessLookupError):  # it failed: reported
                                os.kill(proc.pid, signal.SIGTERM)
                    return
                stop.wait(POLL_S)
        finally:
            client.close()


@functools.cache
def _sent_keys(count: int) -> frozenset[str]:
    """The keys of the ``count`` envelopes the producer sends."""
    return frozenset(e.key for e in workload.quote_envelopes(count))


def _once(ctx: Context, dsn: str, replicas: int, count: int) -> Run:
    """One run: the producer and ``replicas`` services into a new schema."""
    stream, group = ctx.name("replicas"), ctx.name("group")
    label = f"pg-replicas x{replicas}"
    schema = Schema(dsn)
    try:
        workload.fresh_group(ctx.client, stream, group)
        open_sink(schema.url).close()  # the tables, there before the replicas start
        server = ServerCpu(dsn, schema.application)
        finish = Finish(ctx.url, stream, group, count, ctx.redis_pids, server)
        reports, _ = run_together(
            [
                (producer_worker, (ctx.url, stream, 1, count, group)),
                *(
                    (consumer_worker, (ctx.url, stream, group, 1, f"c{i}", schema.url, False))
                    for i in range(replicas)
                ),
            ],
            timeout=max(120.0, count / 500),
            monitor=finish,
        )
        info = groupinfo.group(ctx.client, stream, group)
        keys = schema.keys()
        batches = schema.batches()
        latencies = schema.latencies_ms()
    finally:
        ctx.drop(stream)
        schema.drop()
    produced, consumed = reports[0], reports[1:]
    acked = sum(r["count"] for r in consumed)
    rejected = sum(r["rejected"] for r in consumed)
    pending = info.pending if info is not None else -1
    if (produced["count"], acked, rejected, pending) != (count, count, 0, 0) or (
        len(keys) != count or set(keys) != _sent_keys(count)
    ):
        raise RuntimeError(
            f"{label}: {produced['count']} of {count} sent, {acked} acked, {rejected} rejected, "
            f"{pending} pending, {len(keys)} rows ({len(set(keys) & _sent_keys(count))} "
            "of the keys sent)"
        )
    if finish.at is None:
        raise RuntimeError(f"{label}: the end was not seen")
    seconds = finish.at - min(r["start"] for r in reports)
    consumers_cpu = sum(r["cpu_s"] for r in consumed)
    extra = {
        "producer_cpu_pct": 100 * produced["cpu_s"] / seconds,
        "consumers_cpu_pct": 100 * consumers_cpu / seconds,
        "machine_cpu_pct": 100 * finish.machine_cpu_s / seconds,
        "quotes_per_batch": count / batches,
    }
    if finish.pg_cpu_s is not None:
        extra["postgres_cpu_pct"] = 100 * finish.pg_cpu_s / seconds
    return Run(
        count,
        seconds,
        produced["cpu_s"] + consumers_cpu,
        finish.redis_cpu_s,
        latencies_ms=latencies,
        extra=extra,
    )


def _note(result: CaseResult) -> str:
    """The CPU split of a result: producer, replicas, PostgreSQL (medians of the runs)."""
    parts = [
        f"{what} {statistics.median(result.extra[key]):.0f} %"
        for key, what in (
            ("producer_cpu_pct", "CPU: producer"),
            ("consumers_cpu_pct", "replicas"),
            ("postgres_cpu_pct", "PostgreSQL server"),
            ("machine_cpu_pct", f"the whole machine (all processes, {os.cpu_count()} cores)"),
        )
        if key in result.extra
    ]
    batch = statistics.median(result.extra["quotes_per_batch"])
    return (
        f"{', '.join(parts)}; {batch:.0f} quotes a batch on average; latency from XADD to the "
        "batch's stored_at; every quote stored exactly once, nothing pending (checked each run)"
    )


@case("pg-replicas", "1 and 4 consumer services into one PostgreSQL schema, end to end", order=75)
def pg_replicas(ctx: Context) -> list[CaseResult]:
    """One producer and 1 or 4 replicas at the same time, the runs alternating."""
    dsn = postgres_dsn()
    if dsn is None:
        raise Skip("no PostgreSQL server answered")
    p = ctx.profile
    count = p.replicas_messages
    runs: dict[int, list[Run]] = {n: [] for n in REPLICAS}
    for i in range(p.slow_repeats):
        for n in REPLICAS:
            run = _once(ctx, dsn, n, count)
            log.info(
                "  pg-replicas x%d run %d/%d: %.0f quotes/s", n, i + 1, p.slow_repeats, run.rate
            )
            runs[n].append(run)
    out = []
    for n in REPLICAS:
        result = measure(
            runs[n],
            name=f"PostgreSQL end to end: 1 producer + {n} consumer service(s), one schema",
            case="pg-replicas",
            kind="e2e",
            params={"replicas": n, "sink": "postgresql"},
        )
        result.note = _note(result)
        out.append(result)
    return out
