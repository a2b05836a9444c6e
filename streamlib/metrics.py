"""Prometheus metrics and a health endpoint for one consumer replica, every partition.

Needs prometheus-client (the ``metrics`` extra). Wiring, in this order::

    consumer = PartitionedConsumer(settings, handler)
    metrics = ConsumerMetrics(settings)
    metrics.track(consumer)              # counters, progress and handler timing
    server = MetricsServer(metrics, client, port=9100).start()
    consumer.run()
    server.stop()

Exposed on ``/metrics``, one series per partition: labels ``stream`` (the
partition's stream: ``quotes`` for a plain stream, ``{quotes:3}`` for
partition 3 of six), ``group``, ``consumer``:

======================================== =====================================
``streamlib_consumer_read_total``        entries read (new, own pending, claimed)
``streamlib_consumer_handled_total``     entries the handler succeeded on
``streamlib_consumer_acked_total``       entries acknowledged after success
``streamlib_consumer_failed_total``      entries left pending by a failure
``streamlib_consumer_reclaimed_total``   entries taken over with XAUTOCLAIM
``streamlib_consumer_dead_lettered_total`` entries moved to the dead-letter stream
``streamlib_consumer_errors_total``      errors by ``kind``: ``handler``, ``redis``
``streamlib_consumer_handle_seconds``    histogram: handler time per batch
``streamlib_consumer_end_to_end_seconds`` histogram: now - envelope ``ts``, per entry
``streamlib_consumer_progress_age_seconds`` seconds since the last successful read
``streamlib_consumer_healthy``           1 while the partition's loop makes progress, else 0
``streamlib_consumer_sink_up``           1, or 0 while the partition waits out a sink outage
``streamlib_consumer_redis_up``          1, or 0 while the partition waits out a Redis outage
``streamlib_consumer_paused``            1 while an outage holds the partition's batch
``streamlib_consumer_held_entries``      entries held unacknowledged through an outage
``streamlib_consumer_outage_seconds_total`` time spent in outages, by ``component``
``streamlib_group_lag``                  the group's lag (absent when Redis can't tell)
``streamlib_group_pending``              the group's pending entries
``streamlib_group_oldest_pending_age_seconds`` age of the oldest pending entry (0: none)
``streamlib_stream_entries_added_total`` entries ever added to the stream (its XADD rate)
======================================== =====================================

Counters are read from each partition's ``ConsumerStats`` and ``Outages`` at
scrape time; the group gauges (no ``consumer`` label) and the stream's
counter (``stream`` only) are refreshed every ``refresh_interval`` seconds by
the server's own thread from XINFO GROUPS and XPENDING, the commands the
consumer's ACL rule allows (entries added = entries read + lag). Sum over
``stream`` for the whole stream. The oldest pending entry's age is this replica's clock minus
the time in its id (when Redis added it), so a stuck entry and an old backlog
in progress both show; keep clocks in sync (NTP), as for end-to-end latency.

``/healthz`` answers 503 with a JSON body saying why, else 200:

- ``"status": "outage"`` while some partition waits out an outage: what is
  ``down`` (``sink`` or ``redis``), the ``reason``, ``since`` when (UTC) and
  for how many ``seconds`` (the longest outage), and the entries ``held``
  (all partitions);
- ``"status": "stalled"`` while some partition's loop made no progress (a
  successful read, even an empty one) for ``health_timeout`` seconds: stuck
  or cut off. Choose the timeout well above ``block_ms`` plus the slowest
  batch's handling time (times the partitions, whose batches take turns).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import redis
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector

from .consumer import BatchResult, Handler, Message
from .groupinfo import GroupInfo, group
from .outage import COMPONENTS, OutageStatus
from .partitions import all_partition_settings
from .replica import PartitionedConsumer
from .settings import StreamSettings
from .streamids import StreamId

log = logging.getLogger(__name__)

LABELS = ("stream", "group", "consumer")
#: ``ConsumerStats`` field -> counter name and help.
COUNTERS = {
    "read": ("streamlib_consumer_read", "Entries read (new, own pending and reclaimed)."),
    "handled": ("streamlib_consumer_handled", "Entries the handler succeeded on."),
    "acked": ("streamlib_consumer_acked", "Entries acknowledged after success."),
    "failed": ("streamlib_consumer_failed", "Entries left pending after a failure."),
    "reclaimed": ("streamlib_consumer_reclaimed", "Entries taken over with XAUTOCLAIM."),
    "redelivered": (
        "streamlib_consumer_redelivered",
        "Entries read that had been delivered before (reclaimed or own pending).",
    ),
    "dead_lettered": (
        "streamlib_consumer_dead_lettered",
        "Entries moved to the dead-letter stream.",
    ),
}
#: ``ConsumerStats`` field -> ``kind`` label of ``streamlib_consumer_errors_total``.
ERROR_KINDS = {
    "handler_errors": "handler",
    "redis_errors": "redis",
    "groups_recreated": "group_recreated",
}
#: Handler batches take milliseconds to seconds (a database commit).
HANDLE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
#: End-to-end latency spans a live pipeline (ms) to a backlog drained later (minutes).
LATENCY_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


class ConsumerMetrics:
    """The metrics of one replica (every partition) in its own registry, and its health."""

    def __init__(
        self,
        settings: StreamSettings,
        *,
        registry: CollectorRegistry | None = None,
        health_timeout: float = 60.0,
    ) -> None:
        if health_timeout <= 0:
            raise ValueError("health_timeout must be > 0")
        self.settings = settings
        self.health_timeout = health_timeout
        self.registry = registry if registry is not None else CollectorRegistry()
        #: The partitions' streams, in partition order (``[settings.stream]`` for one).
        self.streams = [p.stream for p in all_partition_settings(settings)]
        self.handle_seconds = Histogram(
            "streamlib_consumer_handle_seconds",
            "Time the handler took per batch.",
            LABELS,
            registry=self.registry,
            buckets=HANDLE_BUCKETS,
        )
        self.end_to_end_seconds = Histogram(
            "streamlib_consumer_end_to_end_seconds",
            "Time from production (envelope ts) to successful handling, per entry.",
            LABELS,
            registry=self.registry,
            buckets=LATENCY_BUCKETS,
        )
        self.consumer: PartitionedConsumer | None = None
        #: Last ``XINFO GROUPS`` row of our group per partition stream (``None``: unknown).
        self.group_info: dict[str, GroupInfo | None] = {}
        #: Seconds since each partition's oldest pending entry was produced (0.0: none).
        self.oldest_pending_age: dict[str, float] = {}
        self.registry.register(_StatsCollector(self))

    def labels(self, stream: str) -> tuple[str, str, str]:
        """The label values of partition ``stream``'s series."""
        return (stream, self.settings.group, self.settings.consumer)

    def instrument(self, handler: Handler, stream: str | None = None) -> Handler:
        """``handler`` timed per batch, with end-to-end latency of its successes.

        Observed under partition ``stream``'s labels (default: the settings' stream).
        """
        labels = self.labels(stream or self.settings.stream)
        handle_seconds = self.handle_seconds.labels(*labels)
        end_to_end_seconds = self.end_to_end_seconds.labels(*labels)

        def timed(batch: Sequence[Message]) -> BatchResult | None:
            start = time.perf_counter()
            try:
                result = handler(batch)
            finally:
                handle_seconds.observe(time.perf_counter() - start)
            now_ms = time.time() * 1000
            skip = set(result.failed) | set(result.rejected) if result else set()
            for message in batch:
                if message.id not in skip:
                    end_to_end_seconds.observe(max(0.0, now_ms - message.envelope.ts) / 1000)
            return result

        return timed

    def track(self, consumer: PartitionedConsumer) -> None:
        """Read every partition's counters and progress from ``consumer``, and time its handler.

        Call before ``consumer.run()``.
        """
        consumer.wrap_handler(lambda part, handler: self.instrument(handler, part.stream))
        self.consumer = consumer

    def refresh_group(self, client: redis.Redis) -> None:
        """Read each partition's group (``XINFO GROUPS``), oldest pending entry and adds."""
        failed: list[str] = []
        for stream in self.streams:
            try:
                info = self.group_info[stream] = group(client, stream, self.settings.group)
                self.oldest_pending_age[stream] = (
                    oldest_pending_age(client, stream, info.name) if info and info.pending else 0.0
                )
            except redis.RedisError as exc:
                failed.append(f"{stream}: {exc}")
                self.group_info[stream] = None
        if failed:
            log.warning("could not read group info for metrics: %s", "; ".join(failed))

    def progress_ages(self) -> dict[str, float]:
        """Seconds since each partition's last successful read; empty before ``track``."""
        if self.consumer is None:
            return {}
        now = time.monotonic()
        return {
            c.settings.stream: max(0.0, now - c.stats.last_progress)
            for c in self.consumer.consumers
        }

    def progress_age(self) -> float | None:
        """The oldest partition's progress age; ``None`` before ``track``."""
        return max(self.progress_ages().values(), default=None)

    def stalled(self) -> list[str]:
        """The partitions (streams) without progress for over ``health_timeout`` seconds."""
        return [s for s, age in self.progress_ages().items() if age > self.health_timeout]

    def outages(self) -> dict[str, OutageStatus]:
        """The partitions (streams) waiting out an outage, and what for."""
        if self.consumer is None:
            return {}
        found = {c.settings.stream: c.outages.status() for c in self.consumer.consumers}
        return {stream: status for stream, status in found.items() if status is not None}

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Whether the replica is healthy, and ``/healthz``'s body saying why (not)."""
        outages, stalled = self.outages(), self.stalled()
        body: dict[str, Any] = {
            "status": "ok",
            "progress_age_seconds": self.progress_age(),
            "health_timeout_seconds": self.health_timeout,
            "stalled_partitions": stalled,
        }
        if outages:
            longest = max(outages.values(), key=lambda o: o.seconds)
            body |= {
                "status": "outage",
                "down": longest.component,
                "reason": longest.reason,
                "since": datetime.fromtimestamp(longest.since, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "seconds": round(longest.seconds, 1),
                "held": sum(o.held for o in outages.values()),
                "outage_partitions": sorted(outages),
            }
        elif stalled or self.consumer is None:
            body["status"] = "stalled"
        return body["status"] == "ok", body

    def healthy(self) -> bool:
        """Whether no partition waits out an outage and every one made progress lately."""
        return self.health()[0]

    def exposition(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)


def oldest_pending_age(client: redis.Redis, stream: str, group: str) -> float:
    """Seconds from the oldest pending entry's id time to now (0.0: none pending)."""
    rows = client.xpending_range(stream, group, "-", "+", 1)
    if not rows:
        return 0.0
    now_ms = int(time.time() * 1000)
    oldest = rows[0]["message_id"]
    oldest_ms = StreamId.parse(oldest if isinstance(oldest, bytes | str) else str(oldest)).ms
    return max(0, now_ms - oldest_ms) / 1000


class _StatsCollector(Collector):
    """Counters and gauges read at scrape time, one series per partition."""

    def __init__(self, metrics: ConsumerMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m = self.metrics
        if m.consumer is not None:
            parts = [(m.labels(c.settings.stream), c.stats) for c in m.consumer.consumers]
            for field, (name, doc) in COUNTERS.items():
                counter = CounterMetricFamily(name, doc, labels=LABELS)
                for labels, stats in parts:
                    counter.add_metric(labels, getattr(stats, field))
                yield counter
            errors = CounterMetricFamily(
                "streamlib_consumer_errors", "Errors by kind.", labels=(*LABELS, "kind")
            )
            for labels, stats in parts:
                for field, kind in ERROR_KINDS.items():
                    errors.add_metric((*labels, kind), getattr(stats, field))
            yield errors
            ages = m.progress_ages()
            yield _gauge(
                "streamlib_consumer_progress_age_seconds",
                "Seconds since the last successful read (even an empty one).",
                {m.labels(stream): seconds for stream, seconds in ages.items()},
            )
            yield _gauge(
                "streamlib_consumer_healthy",
                "1 while the partition's loop made progress within the health timeout, else 0 "
                "(/healthz answers 200 while every partition's does).",
                {m.labels(s): float(age <= m.health_timeout) for s, age in ages.items()},
            )
            yield from _outage_metrics(m)
        rows: list[tuple[tuple[str, ...], GroupInfo]] = [
            ((s, m.settings.group), info) for s, info in m.group_info.items() if info
        ]
        if rows:
            yield _gauge(
                "streamlib_group_pending",
                "Pending entries of the group.",
                {labels: info.pending for labels, info in rows},
            )
            yield _gauge(
                "streamlib_group_oldest_pending_age_seconds",
                "Seconds since the oldest pending entry was produced (its id's time); 0 if none.",
                {labels: m.oldest_pending_age.get(labels[0], 0.0) for labels, _ in rows},
            )
            lags = {labels: info.lag for labels, info in rows if info.lag is not None}
            if lags:
                yield _gauge("streamlib_group_lag", "Entries not yet delivered to the group.", lags)
        added = CounterMetricFamily(
            "streamlib_stream_entries_added",
            "Entries ever added to the stream (the group's entries read plus its lag).",
            labels=LABELS[:1],
        )
        for (stream, _), info in rows:
            if info.entries_read is not None and info.lag is not None:
                added.add_metric((stream,), info.entries_read + info.lag)
        if added.samples:
            yield added


def _gauge(name: str, doc: str, values: Mapping[tuple[str, ...], float]) -> GaugeMetricFamily:
    """A gauge with one sample per label tuple, labelled with the first ``LABELS``."""
    width = len(next(iter(values), LABELS))
    gauge = GaugeMetricFamily(name, doc, labels=LABELS[:width])
    for labels, value in values.items():
        gauge.add_metric(labels, value)
    return gauge


def _outage_metrics(m: ConsumerMetrics) -> Iterator[Metric]:
    """Each partition's outage state: up gauges, paused, held, seconds by component."""
    assert m.consumer is not None
    up = {
        component: GaugeMetricFamily(
            f"streamlib_consumer_{component}_up",
            f"1 while the {component} answers; 0 while the partition waits out its outage.",
            labels=LABELS,
        )
        for component in COMPONENTS
    }
    paused = GaugeMetricFamily(
        "streamlib_consumer_paused",
        "1 while an outage holds the partition's batch and nothing new is read.",
        labels=LABELS,
    )
    held = GaugeMetricFamily(
        "streamlib_consumer_held_entries",
        "Entries held unacknowledged through an outage.",
        labels=LABELS,
    )
    seconds = CounterMetricFamily(
        "streamlib_consumer_outage_seconds",
        "Seconds spent waiting out outages, by component (sink, redis).",
        labels=(*LABELS, "component"),
    )
    for consumer in m.consumer.consumers:
        labels = m.labels(consumer.settings.stream)
        status = consumer.outages.status()
        for component, gauge in up.items():
            gauge.add_metric(labels, 0 if status and status.component == component else 1)
            seconds.add_metric((*labels, component), consumer.outages.seconds_total(component))
        paused.add_metric(labels, 1 if status else 0)
        held.add_metric(labels, status.held if status else 0)
    yield from up.values()
    yield from (paused, held, seconds)


class MetricsServer:
    """HTTP ``/metrics`` and ``/healthz`` on a thread, plus the gauge refresher."""

    def __init__(
        self,
        metrics: ConsumerMetrics,
        client: redis.Redis,
        *,
        port: int,
        host: str = "0.0.0.0",
        refresh_interval: float = 5.0,
    ) -> None:
        self.metrics = metrics
        self.client = client
        self.refresh_interval = refresh_interval
        self._httpd = ThreadingHTTPServer((host, port), _make_handler(metrics))
        self._httpd.daemon_threads = True
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def port(self) -> int:
        """The port actually bound (useful with ``port=0``)."""
        return int(self._httpd.server_address[1])

    def start(self) -> MetricsServer:
        """Serve and refresh in daemon threads; returns ``self``."""
        for target, name in (
            (self._httpd.serve_forever, "metrics-http"),
            (self._refresh_loop, "metrics-refresh"),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _refresh_loop(self) -> None:
        while not self._stop.is_set():
            self.metrics.refresh_group(self.client)
            self._stop.wait(self.refresh_interval)

    def stop(self) -> None:
        """Stop serving and refreshing, and release the port."""
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        for thread in self._threads:
            thread.join(timeout=5)


def _make_handler(metrics: ConsumerMetrics) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._reply(200, CONTENT_TYPE_LATEST, metrics.exposition())
            elif path == "/healthz":
                healthy, body = metrics.health()
                self._reply(200 if healthy else 503, "application/json", json.dumps(body).encode())
            else:
                self._reply(
                    404, "text/plain; charset=utf-8", b"not found: try /metrics or /healthz\n"
                )

        def _reply(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("metrics http: " + format, *args)

    return Handler
