"""One consumer replica, wired: sink, Redis, partitioned consumer, metrics, signals.

The same path for every partition count: a ``PartitionedConsumer`` runs one
group-consumer loop per partition (the plain stream is the one-partition
case), and metrics, ``/healthz``, progress lines, burst mode and graceful
shutdown cover every partition.

Start-up never crash-loops: an unreachable Redis (or PostgreSQL) is retried
with capped backoff and a log line until it answers or a signal arrives.
Shutdown runs in a fixed order: stop reading (signal) -> finish and ack the
batch in hand (``run`` returns) -> stop metrics and progress -> close the
sink -> close the Redis client.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
import time
from typing import TYPE_CHECKING

import redis

from streamlib import (
    Backoff,
    ConfigError,
    ConsumerStats,
    OutageError,
    PartitionedConsumer,
    RedisUnavailable,
    StreamSettings,
    client_from_url,
    install_stop_handlers,
    mask_url,
)
from streamlib.connection import ping_until
from streamlib.gcpolicy import tune_gc
from streamlib.partitions import all_partition_settings
from streamlib.settings import setting

from .handler import QuoteHandler
from .progress import ProgressLogger, format_stats
from .sinks import DEFAULT_SINK, Sink, open_sink
from .sinks import describe as describe_sink

if TYPE_CHECKING:
    from streamlib.metrics import ConsumerMetrics, MetricsServer

log = logging.getLogger("consumer")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclasses.dataclass(frozen=True)
class ServiceOptions:
    """What the service needs beyond ``StreamSettings`` (``load(ServiceOptions)`` reads them)."""

    sink: str = setting(
        DEFAULT_SINK, env="SINK", help="sqlite:///PATH, postgresql://USER@HOST/DB or jsonl:PATH."
    )
    metrics_port: int | None = setting(
        None,
        env="METRICS_PORT",
        help="Serve /metrics and /healthz on this port.",
        default_text="off",
    )
    metrics_host: str = setting("0.0.0.0", env="METRICS_HOST", help="Address of the metrics port.")
    health_timeout: float = setting(
        60.0,
        env="HEALTH_TIMEOUT",
        help="/healthz fails after this many seconds without a successful read "
        "(at once during an outage).",
    )
    progress_interval: float = setting(
        30.0, env="PROGRESS_INTERVAL", help="Seconds between progress lines (0: none)."
    )
    log_level: str = setting("INFO", env="LOG_LEVEL", help="DEBUG, INFO, WARNING or ERROR.")
    #: Comma-separated record types to store; entries of others are acknowledged, not stored.
    types: str | None = setting(
        None,
        env="TYPES",
        help="Store only these record types (comma-separated); entries of other types are "
        "acknowledged and skipped: give every replica of a group the same list.",
        default_text="all",
    )
    #: Exit once the stream is drained (``--burst``).
    burst: bool = False

    def __post_init__(self) -> None:
        if self.health_timeout <= 0:
            raise ConfigError(f"health_timeout must be > 0, got {self.health_timeout:g}")
        if self.progress_interval < 0:
            raise ConfigError(f"progress_interval must be >= 0, got {self.progress_interval:g}")
        if self.metrics_port is not None and not 0 <= self.metrics_port <= 65535:
            raise ConfigError(f"metrics_port must be 0..65535, got {self.metrics_port}")
        level = self.log_level.upper()
        if level not in LOG_LEVELS:
            raise ConfigError(
                f"log_level must be one of {', '.join(LOG_LEVELS)}, got {self.log_level!r}"
            )
        object.__setattr__(self, "log_level", level)
        if self.types is not None and not self.accepted_types:
            raise ConfigError("types must name at least one record type")

    @property
    def accepted_types(self) -> frozenset[str] | None:
        """The record types to store (``None``: every type)."""
        if self.types is None:
            return None
        return frozenset(t.strip() for t in self.types.split(",") if t.strip())


class _Shutdown:
    """The signal target from the first moment: stops the consumer once it exists."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.consumer: PartitionedConsumer | None = None

    @property
    def stopping(self) -> bool:
        return self.event.is_set()

    def stop(self) -> None:
        self.event.set()
        if self.consumer is not None:
            self.consumer.stop()

    def wait(self, seconds: float) -> None:
        self.event.wait(seconds)


def run_service(settings: StreamSettings, options: ServiceOptions) -> ConsumerStats | None:
    """Run one replica until drained (burst) or stopped; ``None`` if stopped before starting.

    SIGTERM and SIGINT stop it gracefully while it runs; their previous
    handlers are restored when it returns.
    """
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    shutdown = _Shutdown()
    install_stop_handlers(shutdown, STOP_SIGNALS)
    try:
        return _run(settings, options, shutdown)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(
    settings: StreamSettings, options: ServiceOptions, shutdown: _Shutdown
) -> ConsumerStats | None:
    log.info(
        "quotes-consumer starting: redis=%s stream=%s partitions=%d group=%s consumer=%s sink=%s",
        mask_url(settings.redis_url),
        settings.stream,
        settings.partitions,
        settings.group,
        settings.consumer,
        describe_sink(options.sink),
    )
    log.info(
        "settings: batch_size=%d block_ms=%d min_idle_ms=%d max_deliveries=%d dead_letters=%s",
        settings.batch_size,
        settings.block_ms,
        settings.min_idle_ms,
        settings.max_deliveries,
        _first_to_last([p.dead_letters for p in all_partition_settings(settings)]),
    )
    metrics = _make_metrics(settings, options)
    sink = _open_sink(options.sink, shutdown)
    if sink is None:
        return None
    # One loop per partition; the sink is shared, called by one partition at a time.
    consumer = PartitionedConsumer(settings, QuoteHandler(sink, options.accepted_types))
    shutdown.consumer = consumer
    if shutdown.stopping:
        consumer.stop()
    # The start-up probe and the metrics' group reader: a client of their own.
    client = client_from_url(settings.redis_url, settings.connection)
    progress = ProgressLogger(lambda: consumer.stats, options.progress_interval)
    server: MetricsServer | None = None
    try:
        if metrics is not None:
            server = _serve_metrics(metrics, consumer, client, options)
        if not _wait_for_redis(client, settings.redis_url, shutdown):
            return None
        progress.start()
        tune_gc()  # set up: what start-up made is frozen (see streamlib.gcpolicy)
        stats = consumer.run(burst=options.burst)
    finally:
        # run() has returned: every partition's batch in hand is acknowledged
        # (or left pending).
        progress.stop()
        if server is not None:
            server.stop()
        sink.close()
        consumer.close()
        client.close()
    log.info("quotes-consumer %s done: %s", settings.consumer, format_stats(stats))
    return stats


def _first_to_last(names: list[str]) -> str:
    """``a`` for one name, ``a .. z`` for several (partitions in a log line)."""
    return names[0] if len(names) == 1 else f"{names[0]} .. {names[-1]}"


def _make_metrics(settings: StreamSettings, options: ServiceOptions) -> ConsumerMetrics | None:
    if options.metrics_port is None:
        return None
    try:
        from streamlib.metrics import ConsumerMetrics
    except ImportError:
        raise ConfigError(
            "--metrics-port needs prometheus-client: pip install 'quotestream[metrics]'"
        ) from None
    return ConsumerMetrics(settings, health_timeout=options.health_timeout)


def _serve_metrics(
    metrics: ConsumerMetrics,
    consumer: PartitionedConsumer,
    client: redis.Redis,
    options: ServiceOptions,
) -> MetricsServer:
    from streamlib.metrics import MetricsServer

    metrics.track(consumer)
    try:
        server = MetricsServer(
            metrics, client, port=options.metrics_port or 0, host=options.metrics_host
        )
    except OSError as exc:
        raise ConfigError(
            f"can't serve metrics on {options.metrics_host}:{options.metrics_port}: {exc}"
        ) from None
    log.info("metrics on http://%s:%d/metrics and /healthz", options.metrics_host, server.port)
    return server.start()


def _wait_for_redis(client: redis.Redis, url: str, shutdown: _Shutdown) -> bool:
    """PING until Redis answers (forever, with backoff); ``False`` if stopped first.

    Refused credentials and failed TLS verification are configuration errors
    (``ConfigError``), not weather: waiting would not fix them.
    """
    try:
        return ping_until(client, url, timeout=None, stop=lambda: shutdown.stopping)
    except RedisUnavailable as exc:
        raise ConfigError(str(exc)) from None


def _open_sink(url: str, shutdown: _Shutdown) -> Sink | None:
    """Open the sink, retrying while its server is unreachable (``OutageError``)."""
    backoff = Backoff(base=0.5, cap=30.0)
    started = time.monotonic()
    while not shutdown.stopping:
        try:
            return open_sink(url)
        except OutageError as exc:
            delay = backoff.next_delay()
            log.warning(
                "sink unavailable for %.0fs (%s); retrying in %.1fs",
                time.monotonic() - started,
                exc,
                delay,
            )
            shutdown.wait(delay)
    return None
