"""``quotes-consumer`` / ``python -m consumer``: run one consumer replica.

Every option also reads an environment variable (DESIGN.md); flags win. The
options, their variables, defaults and help come from the settings tables
(``StreamSettings``, ``ServiceOptions``); the environment is read once, by
``streamlib.settings``. Invalid configuration exits with status 1 and a
one-line message; giving up on an outage (``--max-outage``) with status 3.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from streamlib import ConfigError, OutageError, StreamSettings
from streamlib.cli.base import settings_options
from streamlib.settings import load

from .service import ServiceOptions, run_service

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: Exit status after an outage outlasted ``--max-outage`` (the batch in hand left pending).
EXIT_OUTAGE = 3

STREAM_SETTINGS = (
    "redis_url",
    "stream",
    "group",
    "consumer",
    "dead_letter_stream",
    "batch_size",
    "block_ms",
    "min_idle_ms",
    "max_deliveries",
    "read_ahead",
    "partitions",
    "max_outage",
)
SERVICE_OPTIONS = (
    "sink",
    "metrics_port",
    "metrics_host",
    "health_timeout",
    "progress_interval",
    "log_level",
    "types",
)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@settings_options(StreamSettings, *STREAM_SETTINGS)
@settings_options(ServiceOptions, *SERVICE_OPTIONS)
@click.option("--burst", is_flag=True, default=None, help="Exit once the stream is drained.")
def main(**given: Any) -> None:
    """Store quotes, authors and other records from a Redis Stream, as one group replica."""
    try:
        options = load(ServiceOptions, **{k: given.pop(k) for k in (*SERVICE_OPTIONS, "burst")})
        logging.basicConfig(level=options.log_level, format=LOG_FORMAT, stream=sys.stderr)
        settings = StreamSettings.from_env(**given)
        run_service(settings, options)
    except ConfigError as exc:
        raise click.ClickException(f"invalid configuration: {exc}") from None
    except OutageError as exc:
        logging.getLogger("consumer").error("giving up: %s", exc)
        sys.exit(EXIT_OUTAGE)


if __name__ == "__main__":
    main()
