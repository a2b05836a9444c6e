"""Sizes and repeats of a run: ``FULL`` (``make bench``) and ``QUICK`` (``make bench-quick``)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Profile:
    """How big and how often each case runs."""

    name: str
    #: Entries in the pre-filled stream of the fast consumer cases.
    messages: int
    #: Entries for designs that manage a few thousand per second.
    slow_messages: int
    #: Repeats of the fast cases and of the slow ones.
    repeats: int
    slow_repeats: int
    #: Seconds of the paced (2,000 msgs/s) end-to-end runs.
    paced_seconds: float
    paced_rate: int
    #: Entries of the long run whose consumer RSS is sampled.
    memory_messages: int
    #: Entries left behind by the killed consumer in the reclaim case.
    reclaim_messages: int
    reclaim_min_idle_ms: int
    #: Requests per redis-benchmark run (no pipeline, pipeline 64).
    redis_benchmark_requests: tuple[int, int]
    #: Pages of the generated site the Scrapy case crawls (10 quotes a page).
    scrapy_pages: int = 1_000
    #: Items fed to each Scrapy item pipeline on its own (no crawl).
    scrapy_items: int = 100_000
    #: Entries per round of the scale-out case (one node against a cluster).
    cluster_messages: int = 100_000
    #: Quotes per run of the PostgreSQL replicas case (end to end, 1 and 4 replicas).
    replicas_messages: int = 100_000


FULL = Profile(
    name="full",
    messages=200_000,
    slow_messages=20_000,
    repeats=7,
    slow_repeats=3,
    paced_seconds=10.0,
    paced_rate=2_000,
    memory_messages=1_000_000,
    reclaim_messages=10_000,
    reclaim_min_idle_ms=1_000,
    redis_benchmark_requests=(200_000, 1_000_000),
    scrapy_pages=2_000,
)

QUICK = Profile(
    name="quick",
    messages=30_000,
    slow_messages=2_000,
    repeats=2,
    slow_repeats=1,
    paced_seconds=2.0,
    paced_rate=2_000,
    memory_messages=100_000,
    reclaim_messages=10_000,
    reclaim_min_idle_ms=500,
    redis_benchmark_requests=(50_000, 200_000),
    scrapy_pages=1_000,
    scrapy_items=20_000,
    cluster_messages=10_000,
    replicas_messages=20_000,
)

PROFILES = {p.name: p for p in (FULL, QUICK)}
