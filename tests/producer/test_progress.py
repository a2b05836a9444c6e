"""Live progress: lines while a slow crawl runs, and one summary line at its end."""

from __future__ import annotations

import re
import uuid

import redis

from producer.sample_site import SiteServer

from .conftest import Site, run_crawl

PROGRESS = re.compile(
    r"Progress: (\d+) pages, (\d+) items \([\d.]+/s\), (\d+) sent to the stream, (\d+) in flight"
)


def test_progress_lines_come_while_the_crawl_runs(
    generated: Site, client: redis.Redis, redis_url: str
) -> None:
    stream = f"progress-{uuid.uuid4().hex[:8]}"
    # Each page answers after 0.4 s, and the list pages come one after the other.
    with SiteServer(generated.directory, delay=0.4) as slow:
        crawl = run_crawl(
            slow.url,
            REDIS_URL=redis_url,
            STREAM_NAME=stream,
            STREAM_PROGRESS_INTERVAL="0.3",
            STREAM_MAX_DELAY="0.1",
        )
    assert crawl.returncode == 0, crawl.output[-3000:]
    lines = [tuple(map(int, m.groups())) for m in PROGRESS.finditer(crawl.output)]
    assert len(lines) >= 2, crawl.output[-3000:]
    pages = [line[0] for line in lines]
    assert pages == sorted(pages)
    total = len(generated.expected.quotes) + len(generated.expected.authors)
    # Some line was logged halfway: fewer items than the crawl ended with.
    assert lines[0][1] < total
    assert "backpressure" not in crawl.output.split("Progress:", 1)[1].split("\n", 1)[0]
    summary = re.search(r"Stream summary: sent=(\d+) .*\((\d+) pages, (\d+) items", crawl.output)
    assert summary is not None, crawl.output[-3000:]
    assert int(summary.group(1)) == int(summary.group(3)) == total == client.xlen(stream)
    assert int(summary.group(2)) == generated.expected.pages + len(generated.expected.authors)


def test_no_progress_lines_with_an_interval_of_zero(
    generated: Site, site: SiteServer, redis_url: str
) -> None:
    crawl = run_crawl(
        site.url,
        "DOWNLOAD_DELAY=0.3",
        REDIS_URL=redis_url,
        STREAM_NAME=f"progress-{uuid.uuid4().hex[:8]}",
        STREAM_PROGRESS_INTERVAL="0",
    )
    assert crawl.returncode == 0, crawl.output[-3000:]
    assert "Progress:" not in crawl.output
    assert "Stream summary:" in crawl.output
