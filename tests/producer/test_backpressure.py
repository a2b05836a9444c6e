"""Backpressure: a lagging consumer group pauses the crawl, and catching up resumes it.

On by default for the consumers' group (``GROUP``), on a plain stream; on the
group ``STREAM_BACKPRESSURE_GROUP`` names, on a stream of 4 partitions (the
lag is the group's, summed over the partitions); never with ``off``. Then the
adapter alone, on an asyncio loop: the engine's pause and resume follow
streamlib's throttle.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from producer.backpressure import Backpressure
from producer.sample_site import SiteServer, generate_site
from streamlib.flow import GroupLag, LagLimits, Throttle
from streamlib.partitions import partition_stream
from tests.support.helpers import wait_for

from .conftest import CRAWL_TIMEOUT, Crawl, backpressure_crawl, catch_up, read_stream


@pytest.mark.parametrize(
    ("partitions", "naming"),
    [
        pytest.param(1, {"GROUP": "slow"}, id="plain-stream-GROUP-by-default"),
        # STREAM_BACKPRESSURE_GROUP wins: group "fast" does not exist, its lag
        # is unknown, and following it would never pause the crawl.
        pytest.param(
            4,
            {"GROUP": "fast", "STREAM_BACKPRESSURE_GROUP": "slow"},
            id="4-partitions-STREAM_BACKPRESSURE_GROUP",
        ),
    ],
)
def test_a_lagging_group_pauses_the_crawl_until_it_catches_up(
    tmp_path: Path, client: redis.Redis, redis_url: str, partitions: int, naming: dict[str, str]
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
            **naming,
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
    assert "Backpressure on group 'slow'" in crawl.output
    assert "'stream/backpressure_pauses':" in crawl.output
    assert sum(len(read_stream(client, name)) for name in names) == total
    if partitions > 1:
        assert all(client.xlen(name) for name in names)  # the items were spread


def test_backpressure_turned_off_never_pauses_the_crawl(
    tmp_path: Path, client: redis.Redis, redis_url: str
) -> None:
    """``off`` beats the consumers' ``GROUP``: a group that never reads holds nothing back."""
    expected = generate_site(tmp_path / "site", pages=3)
    total = len(expected.quotes) + len(expected.authors)
    stream = f"bp-{uuid.uuid4().hex[:8]}"
    client.xgroup_create(stream, "slow", id="0", mkstream=True)
    log_path = tmp_path / "crawl.log"
    with (
        SiteServer(tmp_path / "site") as site,
        backpressure_crawl(
            site.url,
            stream,
            log_path,
            REDIS_URL=redis_url,
            GROUP="slow",
            STREAM_BACKPRESSURE_GROUP="off",
        ) as proc,
    ):
        wait_for(
            lambda: proc.poll() is not None or "pausing the crawl" in log_path.read_text(),
            timeout=CRAWL_TIMEOUT,
            what="the crawl to finish",
        )
    crawl = Crawl(proc.returncode, log_path.read_text())
    assert crawl.returncode == 0, crawl.output[-3000:]
    assert "Backpressure off" in crawl.output and "Backpressure on" not in crawl.output
    assert "pausing the crawl" not in crawl.output
    assert "'stream/backpressure_pauses'" not in crawl.output
    assert len(read_stream(client, stream)) == total  # far past the high mark of 12, unread


async def until(predicate: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll ``predicate`` on the loop until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


def test_the_engine_follows_the_throttle_and_resumes_when_stopped(client: redis.Redis) -> None:
    names = [partition_stream("bp", i, 2) for i in range(2)]
    for name in names:
        client.xgroup_create(name, "g", id="0", mkstream=True)
    calls: list[str] = []
    throttle = Throttle(GroupLag(client, "bp", "g", partitions=2), LagLimits(high=6, low=2))
    backpressure = Backpressure(
        throttle,
        interval=0.01,
        pause=lambda: calls.append("pause"),
        resume=lambda: calls.append("resume"),
    )

    async def scenario() -> None:
        backpressure.start()
        for name in names:
            client.xadd(name, {"n": "1"})
            client.xadd(name, {"n": "2"})
            client.xadd(name, {"n": "3"})
        await until(lambda: calls == ["pause"], "a pause at a lag of 6")
        client.xreadgroup("g", "c", {names[0]: ">"})
        readings = throttle.readings
        await until(lambda: throttle.readings >= readings + 3, "three more readings")
        assert (calls, backpressure.paused, backpressure.lag) == (["pause"], True, 3)
        client.xreadgroup("g", "c", {names[1]: ">"}, count=1)
        await until(lambda: calls == ["pause", "resume"], "a resume at a lag of 2")
        client.xadd(names[0], {"n": "4"})
        client.xadd(names[0], {"n": "5"})
        client.xadd(names[0], {"n": "6"})
        client.xadd(names[0], {"n": "7"})
        await until(lambda: len(calls) == 3, "a second pause")
        await backpressure.stop()

    asyncio.run(scenario())
    assert calls == ["pause", "resume", "pause", "resume"]
    assert (backpressure.paused, backpressure.pauses) == (False, 2)


def test_a_paused_crawl_resumes_when_the_lag_becomes_unknown(client: redis.Redis) -> None:
    client.xgroup_create("bp", "g", id="0", mkstream=True)
    calls: list[str] = []
    backpressure = Backpressure(
        Throttle(GroupLag(client, "bp", "g"), LagLimits(high=2, low=0)),
        interval=0.01,
        pause=lambda: calls.append("pause"),
        resume=lambda: calls.append("resume"),
    )

    async def scenario() -> None:
        backpressure.start()
        client.xadd("bp", {"n": "1"})
        client.xadd("bp", {"n": "2"})
        await until(lambda: calls == ["pause"], "a pause at a lag of 2")
        client.xgroup_destroy("bp", "g")  # nobody left to wait for
        await until(lambda: calls == ["pause", "resume"], "a resume on an unknown lag")
        assert (backpressure.paused, backpressure.lag) == (False, None)
        await backpressure.stop()

    asyncio.run(scenario())
    assert calls == ["pause", "resume"]  # stopping a running crawl resumes nothing
