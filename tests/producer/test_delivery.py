"""The delivery guarantee: nothing dropped silently, and no blocked reactor."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import redis

from producer.outcome import EXIT_UNDELIVERED
from producer.sample_site import SiteServer, generate_site
from streamlib import client_from_url
from streamlib.testing import LocalRedis
from tests.support.helpers import wait_for

from .conftest import CRAWL_TIMEOUT, ROOT, Site, crawl_env, read_stream, run_crawl, scrapy_command

SECRET = "hunter2-Pa55"


def test_redis_down_fails_the_crawl_with_the_undelivered_count(
    site: SiteServer, redis_factory: Callable[..., LocalRedis]
) -> None:
    server = redis_factory()
    server.kill()
    url = f"redis://quoter:{SECRET}@127.0.0.1:{server.port}/0"
    crawl = run_crawl(
        site.url, STREAM_REDIS_URL=url, STREAM_BATCH_SIZE="5", STREAM_RETRY_TIMEOUT="1"
    )
    assert crawl.returncode == EXIT_UNDELIVERED, crawl.output[-3000:]
    found = re.search(r"(\d+) item\(s\) NOT delivered to stream 'quotes'", crawl.output)
    assert found, crawl.output[-3000:]
    summary = crawl.summary()
    assert summary["sent"] == 0
    assert summary["undelivered"] == int(found.group(1)) > 0
    assert summary["retries"] > 0
    assert "finish_reason': 'stream_unavailable'" in crawl.output
    assert SECRET not in crawl.output
    assert "quoter:***@127.0.0.1" in crawl.output
    # The crawl (3 pages) ended before the retry deadline: every item was
    # accepted, and every one of them is counted as not delivered.
    assert summary["undelivered"] == stat(crawl.output, "item_scraped_count") + stat(
        crawl.output, "item_dropped_count"
    )


def test_a_failure_during_the_crawl_stops_it_and_accounts_for_every_item(
    tmp_path: Path, redis_factory: Callable[..., LocalRedis]
) -> None:
    """Redis down, a crawl longer than the retry deadline: it stops early, and
    every item yielded is either in the undelivered count or was never made."""
    expected = generate_site(tmp_path, pages=20)
    server = redis_factory()
    server.kill()
    with SiteServer(tmp_path) as site:
        crawl = run_crawl(
            site.url,
            "DOWNLOAD_DELAY=0.2",  # 20 pages take >= 4 s: far past the 0.5 s deadline
            STREAM_REDIS_URL=server.url,
            STREAM_BATCH_SIZE="5",
            STREAM_RETRY_TIMEOUT="0.5",
        )
        fetched = site.paths()
    assert crawl.returncode == EXIT_UNDELIVERED, crawl.output[-3000:]
    assert "Redis stream unavailable: stopping the crawl" in crawl.output
    assert "finish_reason': 'stream_unavailable'" in crawl.output
    assert not fetched >= expected.paths, "the crawl went on to the end"
    summary = crawl.summary()
    accepted = stat(crawl.output, "item_scraped_count")
    refused = stat(crawl.output, "item_dropped_count")
    assert summary["sent"] == 0
    assert summary["undelivered"] == accepted + refused > 0


def stat(output: str, name: str) -> int:
    """A counter of the crawl's closing stats dump (0 when absent)."""
    found = re.search(rf"'{name}': (\d+)", output)
    return int(found.group(1)) if found else 0


def test_crawling_goes_on_while_a_batch_waits_for_redis(
    generated: Site, site: SiteServer, redis_factory: Callable[..., LocalRedis], tmp_path: Path
) -> None:
    """Redis frozen (SIGSTOP): the first batch hangs in the worker thread, and yet
    every page is fetched; the crawl only finishes once Redis answers again."""
    server = redis_factory()
    assert server.process is not None
    stream = f"quotes-{uuid.uuid4().hex[:8]}"
    log_path = tmp_path / "crawl.log"
    os.kill(server.process.pid, signal.SIGSTOP)
    try:
        with log_path.open("w") as log:
            proc = subprocess.Popen(
                scrapy_command(site.url),
                cwd=ROOT,
                env=crawl_env(
                    REDIS_URL=server.url,
                    STREAM_NAME=stream,
                    STREAM_BATCH_SIZE="4",
                    STREAM_MAX_DELAY="0.1",
                    STREAM_RETRY_TIMEOUT="300",
                ),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for(
                lambda: site.paths() >= generated.expected.paths,
                timeout=90,
                what="every page fetched while Redis is frozen",
            )
            assert proc.poll() is None, "the crawl ended before its items were in Redis"
            os.kill(server.process.pid, signal.SIGCONT)
            returncode = proc.wait(timeout=CRAWL_TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
    output = log_path.read_text()
    assert returncode == 0, output[-3000:]
    client: redis.Redis = client_from_url(server.url)
    try:
        entries = read_stream(client, stream)
    finally:
        client.close()
    expected = generated.expected
    assert len(entries) == len(expected.quotes) + len(expected.authors)
