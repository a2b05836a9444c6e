"""Backpressure: a lagging consumer group pauses the crawl, and catching up resumes it.

The same for a plain stream and for a stream of 4 partitions (the lag is the
group's, summed over the partitions).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import redis

from producer.sample_site import SiteServer, generate_site
from streamlib.partitions import partition_stream
from tests.support.helpers import wait_for

from .conftest import CRAWL_TIMEOUT, Crawl, backpressure_crawl, catch_up, read_stream


@pytest.mark.parametrize("partitions", [1, 4])
def test_a_lagging_group_pauses_the_crawl_until_it_catches_up(
    tmp_path: Path, client: redis.Redis, redis_url: str, partitions: int
) -> None:
    expected = generate_site(tmp_path / "site", pages=5)
    total = len(expected.quotes) + len(expected.authors)
    stream = f"bp-{uuid.uuid4().hex[:8]}"
    names = [partition_stream(stream, i, partitions) for i in range(partitions)]
    for name in names:
        client.xgroup_create(name, "slow", id="0", mkstream=True)
    log_path = tmp_path / "crawl.log"

    def length() -> int:
        return sum(client.xlen(name) for name in names)

    with (
        SiteServer(tmp_path / "site") as site,
        backpressure_crawl(
            site.url,
            stream,
            log_path,
            REDIS_URL=redis_url,
            STREAM_PARTITIONS=str(partitions),
            STREAM_PROGRESS_INTERVAL="0.2",
        ) as proc,
    ):
        wait_for(
            lambda: "pausing the crawl" in log_path.read_text(),
            timeout=90,
            what="the crawl to pause",
        )
        # Paused: the group has read nothing, so the crawl can't finish.
        assert proc.poll() is None
        assert 12 <= length() < total
        wait_for(
            lambda: "backpressure: paused, group lag" in log_path.read_text(),
            timeout=30,
            what="a progress line while paused",
        )
        # The group catches up: read everything there is (lag counts unread entries).
        wait_for(
            lambda: catch_up(client, names, proc),
            timeout=CRAWL_TIMEOUT,
            what="the crawl to resume and finish",
        )
    crawl = Crawl(proc.returncode, log_path.read_text())
    assert crawl.returncode == 0, crawl.output[-3000:]
    assert "resuming the crawl" in crawl.output
    assert "'stream/backpressure_pauses':" in crawl.output
    assert sum(len(read_stream(client, name)) for name in names) == total
    if partitions > 1:
        assert all(client.xlen(name) for name in names)  # the items were spread
