"""Scaling out: the same consumers on one Redis node and on a three-master Redis Cluster.

Three set-ups, each fed the same distinct quote envelopes and drained by the
same number of consumer replicas:

    one node, P = 1    the plain stream, on the run's private Redis
    one node, P = 6    six partitions on that node: the partition layer's own cost
    3 masters, P = 6   a private ``LocalCluster``, two partitions on each master

The producer is one process (``PartitionedProducer.send_many`` with 500
envelopes a call, as the Scrapy pipeline sends its batches), measured on its
own. Then ``CONSUMERS`` processes each run the consumer service
(``consumer.service.run_service``: what ``quotes-consumer --burst`` runs) into a
JSON-lines file of its own, so that the replicas do not queue for one write
lock as they would on one SQLite file (the sinks have their own case). The
files are in memory (``/dev/shm`` where it exists): each batch's fsync costs
the same in every set-up, and on this disk the fsyncs of four replicas,
not the clients' CPU or Redis, would set the pace.
Redis CPU is measured for each redis-server: the one node, or each master.

After every run: every entry acknowledged once and none pending, and every
quote stored exactly once (JSON lines are appended, never upserted, so a
duplicate would show: lines over all files and distinct keys both equal the
entries sent).

``LocalCluster`` turns on AOF with ``appendfsync always`` for its failover
tests; here it is switched off (``CONFIG SET appendonly no``) so that the
cluster persists nothing, like the single node.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import redis
from redis.crc import key_slot

from consumer.service import ServiceOptions, run_service
from streamlib import PartitionedProducer, StreamSettings
from streamlib.connection import client_from_url
from streamlib.errors import ConfigError
from streamlib.partitions import partition_stream
from streamlib.testing import LocalCluster

from .. import workload
from ..procs import Gate, Stopwatch, run_together, window
from ..registry import CaseResult, Run, Skip, case
from ..runner import Context, measure

log = logging.getLogger("bench")

#: Consumer replicas in every set-up.
CONSUMERS = 4
#: Partitions of the partitioned set-ups: two per master of a three-master cluster.
PARTITIONS = 6
#: Envelopes per ``send_many`` call (the Scrapy pipeline's batch size).
CHUNK = 500


def producer_worker(
    url: str, stream: str, partitions: int, count: int, group: str | None, *, gate: Gate
) -> dict[str, Any]:
    """Send ``count`` distinct quote envelopes, ``CHUNK`` per ``send_many`` call.

    ``group``: flow control on that group's lag (the producer's default
    ``max_lag``); ``None``: unthrottled.
    """
    client = client_from_url(url)
    producer = PartitionedProducer(client, stream, partitions, group=group)
    envelopes = list(workload.quote_envelopes(count))
    gate()
    sw = Stopwatch()
    for start in range(0, count, CHUNK):
        producer.send_many(envelopes[start : start + CHUNK])
    report = sw.report(producer.sent)
    client.close()
    return report


def consumer_worker(
    url: str,
    stream: str,
    group: str,
    partitions: int,
    me: str,
    sink: str,
    burst: bool,
    *,
    gate: Gate,
) -> dict[str, Any]:
    """One replica of the consumer service into ``sink``: until drained (``burst``) or stopped.

    Without ``burst`` it runs as the service does, until SIGTERM stops it;
    stopped before it started (the others left it nothing), it acked none.
    """
    settings = StreamSettings(
        redis_url=url, stream=stream, group=group, consumer=me, partitions=partitions
    )
    options = ServiceOptions(sink=sink, progress_interval=0, log_level="WARNING", burst=burst)
    gate()
    sw = Stopwatch()
    stats = run_service(settings, options)
    if stats is None:
        return sw.report(0, rejected=0)
    return sw.report(stats.acked, rejected=stats.dead_lettered + stats.handler_errors)


@dataclasses.dataclass
class Setup:
    """Where the stream lives: a URL, the redis-server pids to measure, the partitions."""

    key: str
    title: str
    url: str
    pids: list[int]
    partitions: int
    cluster: LocalCluster | None = None

    def streams(self, stream: str) -> list[str]:
        """The Redis streams of ``stream``'s partitions."""
        return [partition_stream(stream, i, self.partitions) for i in range(self.partitions)]

    def spread(self, stream: str) -> list[int]:
        """Partitions on each master (one number for one node)."""
        if self.cluster is None:
            return [self.partitions]
        ports = Counter(
            self.cluster.node_for_slot(key_slot(s.encode())).port for s in self.streams(stream)
        )
        return [ports[node.port] for node in self.cluster.nodes]


def _stream_name(ctx: Context, setup: Setup) -> tuple[str, list[int]]:
    """A new stream name whose partitions spread evenly over the masters, and the spread."""
    for _ in range(200):
        stream = ctx.name("scale-out")
        spread = setup.spread(stream)
        if max(spread) - min(spread) <= 1:
            return stream, spread
    raise RuntimeError(f"no stream name spreads {setup.partitions} partitions evenly")


def _stored(paths: list[Path]) -> tuple[int, int]:
    """Lines and distinct keys over the consumers' JSON-lines files."""
    keys: list[str] = []
    for path in paths:
        if path.exists():
            with path.open("rb") as f:
                keys.extend(json.loads(line)["key"] for line in f)
    return len(keys), len(set(keys))


def _once(ctx: Context, setup: Setup, stream: str, count: int, folder: Path) -> tuple[Run, Run]:
    """Produce ``count`` envelopes into ``stream``, then drain it into ``folder``: two ``Run``s."""
    group = ctx.name("group")
    paths = [folder / f"{stream.replace(':', '-')}-c{i}.jsonl" for i in range(CONSUMERS)]
    client = client_from_url(setup.url)
    timeout = max(120.0, count / 500)
    try:
        produced, redis_cpu = run_together(
            [(producer_worker, (setup.url, stream, setup.partitions, count, None))],
            timeout=timeout,
            redis_pids=setup.pids,
        )
        if produced[0]["count"] != count:
            raise RuntimeError(f"{setup.key}: {produced[0]['count']} of {count} sent")
        producer = Run(count, window(produced), produced[0]["cpu_s"], redis_cpu)
        workers = [
            (
                consumer_worker,
                (setup.url, stream, group, setup.partitions, f"c{i}", f"jsonl:{path}", True),
            )
            for i, path in enumerate(paths)
        ]
        reports, redis_cpu = run_together(workers, timeout=timeout, redis_pids=setup.pids)
        acked = sum(r["count"] for r in reports)
        rejected = sum(r["rejected"] for r in reports)
        pending = sum(int(client.xpending(s, group)["pending"]) for s in setup.streams(stream))
        lines, distinct = _stored(paths)
        if (acked, rejected, pending, lines, distinct) != (count, 0, 0, count, count):
            raise RuntimeError(
                f"{setup.key}: {count} sent, {acked} acked, {rejected} rejected, "
                f"{pending} pending, {lines} stored ({distinct} distinct keys)"
            )
        consumers = Run(count, window(reports), sum(r["cpu_s"] for r in reports), redis_cpu)
    finally:
        for key in setup.streams(stream):
            client.delete(key)  # one key at a time: partitions live in different slots
        client.close()
        for path in paths:
            path.unlink(missing_ok=True)
    return producer, consumers


def _measure(ctx: Context, setup: Setup) -> list[CaseResult]:
    """``slow_repeats`` rounds on ``setup``: a producer row and a consumers row."""
    p = ctx.profile
    producer: list[Run] = []
    consumers: list[Run] = []
    spread: list[int] = []
    memory = Path("/dev/shm")
    for i in range(p.slow_repeats):
        stream, spread = _stream_name(ctx, setup)
        with tempfile.TemporaryDirectory(
            prefix="qs-bench-", dir=memory if memory.is_dir() else ctx.scratch
        ) as folder:
            made, drained = _once(ctx, setup, stream, p.cluster_messages, Path(folder))
        log.info(
            "  scale-out %s run %d/%d: producer %.0f msgs/s, %d consumers %.0f msgs/s",
            setup.key,
            i + 1,
            p.slow_repeats,
            made.rate,
            CONSUMERS,
            drained.rate,
        )
        producer.append(made)
        consumers.append(drained)
    params = {
        "setup": setup.key,
        "nodes": len(setup.pids),
        "partitions": setup.partitions,
        "partitions_per_node": spread,
    }
    return [
        measure(
            producer,
            name=f"scale-out, {setup.title}: 1 producer (send_many of 500)",
            case="cluster",
            kind="producer",
            params={**params, "role": "producer"},
        ),
        measure(
            consumers,
            name=f"scale-out, {setup.title}: {CONSUMERS} consumer services (JSON lines)",
            case="cluster",
            kind="consumer",
            params={**params, "role": "consumers", "consumers": CONSUMERS},
            note="every quote stored exactly once, nothing pending (checked each run)",
        ),
    ]


def _without_aof(cluster: LocalCluster) -> None:
    """Switch AOF off on every node: the single node persists nothing either."""
    for node in cluster.nodes:
        client = redis.Redis(port=node.port)
        try:
            client.config_set("appendonly", "no")
        finally:
            client.close()


@case("cluster", "one Redis node (P = 1, P = 6) against a 3-master cluster (P = 6)", order=70)
def cluster(ctx: Context) -> list[CaseResult]:
    """The same producer and consumers on one node and on three masters."""
    try:
        local = LocalCluster(ctx.scratch / "cluster")
    except ConfigError as exc:
        raise Skip(f"no local Redis Cluster: {exc}") from None
    out = []
    for partitions in (1, PARTITIONS):
        title = f"one node, P={partitions}"
        out += _measure(
            ctx, Setup(f"node-p{partitions}", title, ctx.url, ctx.redis_pids, partitions)
        )
    with local:
        _without_aof(local)
        pids = [n.process.pid for n in local.nodes if n.process is not None]
        title = f"{len(pids)} masters, P={PARTITIONS}"
        out += _measure(
            ctx, Setup(f"cluster-p{PARTITIONS}", title, local.url, pids, PARTITIONS, local)
        )
    return out
