"""``quotes-consumer`` / ``python -m consumer``: run one consumer replica.

Every option also reads an environment variable (DESIGN.md); flags win.
Invalid configuration exits with status 1 and a one-line message.
"""

from __future__ import annotations

import logging
import sys

import click

from streamlib import ConfigError, StreamSettings

from .service import ServiceOptions, run_service
from .sinks import DEFAULT_SINK

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--redis-url",
    envvar="REDIS_URL",
    help="Redis URL; redis+cluster://HOST:PORT for Redis Cluster  [default: redis://localhost:6379/0]",
)
@click.option("--stream", envvar="STREAM", help="Stream to consume  [default: quotes]")
@click.option("--group", envvar="GROUP", help="Consumer group  [default: quotes-consumers]")
@click.option(
    "--consumer", envvar="CONSUMER", help="This replica's name  [default: <hostname>-<pid>]"
)
@click.option("--dead-letter-stream", envvar="DEAD_LETTER_STREAM", help="[default: <stream>:dead]")
@click.option(
    "--sink",
    envvar="SINK",
    default=DEFAULT_SINK,
    show_default=True,
    help="sqlite:///PATH, postgresql://USER@HOST/DB or jsonl:PATH",
)
@click.option(
    "--batch-size", envvar="BATCH_SIZE", type=int, help="Entries per read  [default: 500]"
)
@click.option("--block-ms", envvar="BLOCK_MS", type=int, help="Block per read, ms  [default: 2000]")
@click.option(
    "--min-idle-ms",
    envvar="MIN_IDLE_MS",
    type=int,
    help="Reclaim entries idle this long, ms  [default: 30000]",
)
@click.option(
    "--max-deliveries",
    envvar="MAX_DELIVERIES",
    type=int,
    help="Deliveries before dead-lettering  [default: 5]",
)
@click.option(
    "--partitions",
    envvar="PARTITIONS",
    type=int,
    help="Partitions of the stream (one reader thread each)  [default: 1]",
)
@click.option("--metrics-port", envvar="METRICS_PORT", type=int, help="Serve /metrics and /healthz")
@click.option("--metrics-host", envvar="METRICS_HOST", default="0.0.0.0", show_default=True)
@click.option(
    "--health-timeout",
    envvar="HEALTH_TIMEOUT",
    type=float,
    default=60.0,
    show_default=True,
    help="/healthz fails after this many seconds without a successful read",
)
@click.option(
    "--progress-interval",
    envvar="PROGRESS_INTERVAL",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds between progress lines (0: none)",
)
@click.option("--burst", is_flag=True, help="Exit once the stream is drained")
@click.option(
    "--log-level",
    envvar="LOG_LEVEL",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
)
def main(
    redis_url: str | None,
    stream: str | None,
    group: str | None,
    consumer: str | None,
    dead_letter_stream: str | None,
    sink: str,
    batch_size: int | None,
    block_ms: int | None,
    min_idle_ms: int | None,
    max_deliveries: int | None,
    partitions: int | None,
    metrics_port: int | None,
    metrics_host: str,
    health_timeout: float,
    progress_interval: float,
    burst: bool,
    log_level: str,
) -> None:
    """Store quotes and authors from a Redis Stream, as one consumer-group replica."""
    logging.basicConfig(level=log_level.upper(), format=LOG_FORMAT, stream=sys.stderr)
    try:
        if health_timeout <= 0:
            raise ConfigError("--health-timeout must be > 0")
        if metrics_port is not None and not 0 <= metrics_port <= 65535:
            raise ConfigError(f"--metrics-port must be 0..65535, got {metrics_port}")
        settings = StreamSettings.from_env(
            redis_url=redis_url,
            stream=stream,
            group=group,
            consumer=consumer,
            dead_letter_stream=dead_letter_stream,
            batch_size=batch_size,
            block_ms=block_ms,
            min_idle_ms=min_idle_ms,
            max_deliveries=max_deliveries,
            partitions=partitions,
        )
        options = ServiceOptions(
            sink=sink,
            burst=burst,
            metrics_port=metrics_port,
            metrics_host=metrics_host,
            health_timeout=health_timeout,
            progress_interval=progress_interval,
        )
        run_service(settings, options)
    except ConfigError as exc:
        raise click.ClickException(f"invalid configuration: {exc}") from None


if __name__ == "__main__":
    main()
