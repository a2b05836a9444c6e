"""Backpressure: a lagging consumer group pauses the crawl, and catching up resumes it."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import redis

from producer.sample_site import SiteServer, generate_site
from tests.helpers import wait_for

from .conftest import CRAWL_TIMEOUT, ROOT, Crawl, crawl_env, read_stream, scrapy_command


def test_a_lagging_group_pauses_the_crawl_until_it_catches_up(
    tmp_path: Path, client: redis.Redis, redis_url: str
) -> None:
    expected = generate_site(tmp_path / "site", pages=5)
    total = len(expected.quotes) + len(expected.authors)
    stream = f"bp-{uuid.uuid4().hex[:8]}"
    client.xgroup_create(stream, "slow", id="0", mkstream=True)
    log_path = tmp_path / "crawl.log"
    with SiteServer(tmp_path / "site") as site, log_path.open("w") as log:
        proc = subprocess.Popen(
            # A download delay keeps the crawl longer than a few lag checks.
            scrapy_command(site.url, "DOWNLOAD_DELAY=0.2"),
            cwd=ROOT,
            env=crawl_env(
                REDIS_URL=redis_url,
                STREAM_NAME=stream,
                STREAM_BATCH_SIZE="4",
                STREAM_MAX_DELAY="0.05",
                STREAM_BACKPRESSURE_GROUP="slow",
                STREAM_BACKPRESSURE_HIGH="12",
                STREAM_BACKPRESSURE_LOW="4",
                STREAM_BACKPRESSURE_INTERVAL="0.05",
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(
                lambda: "pausing the crawl" in log_path.read_text(),
                timeout=90,
                what="the crawl to pause",
            )
            # Paused: the group has read nothing, so the crawl can't finish.
            assert proc.poll() is None
            assert 12 <= client.xlen(stream) < total

            # The group catches up: read everything there is (lag counts unread entries).
            def catch_up() -> bool:
                client.xreadgroup("slow", "c1", {stream: ">"}, count=1000)
                return proc.poll() is not None

            wait_for(catch_up, timeout=CRAWL_TIMEOUT, what="the crawl to resume and finish")
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    crawl = Crawl(proc.returncode, log_path.read_text())
    assert crawl.returncode == 0, crawl.output[-3000:]
    assert "resuming the crawl" in crawl.output
    assert "'stream/backpressure_pauses':" in crawl.output
    assert len(read_stream(client, stream)) == total
