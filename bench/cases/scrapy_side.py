"""The Scrapy side, three item pipelines in the same crawl, and on their own.

The project's ``quotes`` spider crawls a generated site (``producer.sample_site``,
10 quotes a page plus a few author pages) served on 127.0.0.1, through
``scrapy crawl`` in a subprocess at the repository root, with autothrottle off
and ``ITEM_PIPELINES`` set to one of:

- ``project``: the project's own (``ValidationPipeline`` + ``StreamPipeline``,
  batched XADDs from a worker thread);
- ``rpush``: one RPUSH per item in a thread, the scrapy-redis way
  (``bench.scrapy_pipelines.RpushPipeline``);
- ``none``: no pipeline at all, the crawl's own rate.

Items/s is Scrapy's own count over its own clock (``item_scraped_count`` /
``elapsed_time_seconds`` from the crawl's stats), so the interpreter's start-up
is left out; client CPU % is the subprocess's whole CPU time (start-up
included) over that window. Each run checks every item reached Redis (XLEN or
LLEN). Rounds interleave the three pipelines so drift hits them alike.

The crawl rows answer "is the pipeline the crawl's bottleneck?". The same
three pipelines are then fed ``scrapy_items`` ready-made items each, without
a crawl (``scrapy_feed``, ``bench.scrapy_driver``): those rows compare the
pipelines themselves (project vs one RPUSH per item), which a crawl capping
both at its own rate can't.
"""

from __future__ import annotations

import json
import logging
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

from producer.sample_site import SiteServer, generate_site

from ..procs import CpuMeter
from ..registry import CaseResult, Run, Skip, case
from ..runner import Context, measure
from .scrapy_feed import feed

log = logging.getLogger("bench")

ROOT = Path(__file__).resolve().parents[2]

PIPELINES: dict[str, dict[str, int]] = {
    "project": {
        "producer.pipelines.ValidationPipeline": 100,
        "producer.pipelines.StreamPipeline": 800,
    },
    "rpush": {"bench.scrapy_pipelines.RpushPipeline": 800},
    "none": {},
}
TITLES = {
    "project": "Scrapy crawl, project pipeline (validation + batched XADD)",
    "rpush": "Scrapy crawl, one RPUSH per item in a thread (scrapy-redis way)",
    "none": "Scrapy crawl, no item pipeline (the crawl alone)",
}
FED_TITLES = {
    "project": "Scrapy pipelines alone, project (validation + batched XADD)",
    "rpush": "Scrapy pipelines alone, one RPUSH per item in a thread",
    "none": "Scrapy pipelines alone, none (Scrapy's own per-item work)",
}

_STAT = re.compile(r"'(elapsed_time_seconds|item_scraped_count|finish_reason)': '?([\w.]+)'?")


def _scrapy() -> str:
    exe = Path(sys.executable).with_name("scrapy")
    if not exe.exists():
        raise Skip(f"no scrapy next to {sys.executable}")
    return str(exe)


def _env(ctx: Context, stream: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("STREAM") and k not in ("PARTITIONS", "SCRAPY_SETTINGS_MODULE")
    }
    env.update(REDIS_URL=ctx.url, STREAM_REDIS_URL=ctx.url, STREAM_NAME=stream)
    return env


def _crawl(ctx: Context, scrapy: str, site: str, which: str, expected: int) -> Run:
    stream = ctx.name(f"scrapy-{which}")
    cmd = [
        scrapy,
        "crawl",
        "quotes",
        "-a",
        f"start_url={site}",
        "-s",
        "AUTOTHROTTLE_ENABLED=False",
        "-s",
        f"ITEM_PIPELINES={json.dumps(PIPELINES[which])}",
        "-s",
        "LOG_LEVEL=INFO",
    ]
    redis = CpuMeter(ctx.redis_pids)
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    done = subprocess.run(
        cmd, cwd=ROOT, env=_env(ctx, stream), capture_output=True, text=True, timeout=600
    )
    wall = time.monotonic() - t0
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    redis_cpu = redis.used()
    try:
        stats = dict(_STAT.findall(done.stderr))
        if done.returncode != 0 or "item_scraped_count" not in stats:
            tail = "\n".join(done.stderr.strip().splitlines()[-15:])
            raise RuntimeError(f"scrapy crawl ({which}) exited {done.returncode}:\n{tail}")
        items = int(stats["item_scraped_count"])
        seconds = float(stats["elapsed_time_seconds"])
        if which == "project":
            landed = int(ctx.client.xlen(stream))
        elif which == "rpush":
            landed = int(ctx.client.llen(f"{stream}:items"))
        else:
            landed = items
        if items != expected or landed != expected or stats.get("finish_reason") != "finished":
            raise RuntimeError(
                f"scrapy crawl ({which}): {items} items scraped, {landed} in Redis, "
                f"{expected} expected, finish_reason {stats.get('finish_reason')}"
            )
    finally:
        ctx.drop(stream, f"{stream}:items")
    cpu = (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
    return Run(
        messages=items,
        seconds=seconds,
        cpu_s=cpu,
        redis_cpu_s=redis_cpu,
        extra={"process_wall_s": round(wall, 2)},
    )


@case("scrapy", "Scrapy: project pipeline vs one RPUSH per item vs none, crawled and fed", order=60)
def scrapy_side(ctx: Context) -> list[CaseResult]:
    """The same crawl of a generated site with each item pipeline, then each fed alone."""
    p = ctx.profile
    scrapy = _scrapy()
    site_dir = ctx.scratch / "site"
    exp = generate_site(site_dir, pages=p.scrapy_pages)
    expected = len(exp.quotes) + len(exp.authors)
    runs: dict[str, list[Run]] = {k: [] for k in PIPELINES}
    with SiteServer(site_dir) as server:
        for i in range(p.slow_repeats):
            for which in PIPELINES:
                run = _crawl(ctx, scrapy, server.url, which, expected)
                log.info(
                    "  scrapy %s run %d/%d: %.0f items/s", which, i + 1, p.slow_repeats, run.rate
                )
                runs[which].append(run)
    fed: dict[str, list[Run]] = {k: [] for k in PIPELINES}
    for i in range(p.slow_repeats):
        for which in PIPELINES:
            env = _env(ctx, ctx.name(f"scrapy-fed-{which}"))
            run = feed(ctx, str(ROOT), env, which, json.dumps(PIPELINES[which]), p.scrapy_items)
            log.info(
                "  scrapy pipelines alone, %s run %d/%d: %.0f items/s",
                which,
                i + 1,
                p.slow_repeats,
                run.rate,
            )
            fed[which].append(run)
    crawled = [
        measure(
            runs[which],
            name=TITLES[which],
            case="scrapy",
            kind="crawl",
            params={"pipeline": which, "fed": "crawl", "pages": p.scrapy_pages},
            note=(
                f"items/s of a {p.scrapy_pages:,}-page crawl ({expected:,} items) on Scrapy's "
                "clock; client CPU % includes scrapy's start-up"
            ),
        )
        for which in PIPELINES
    ]
    alone = [
        measure(
            fed[which],
            name=FED_TITLES[which],
            case="scrapy",
            kind="pipeline",
            params={"pipeline": which, "fed": "alone", "items": p.scrapy_items},
            note=(
                f"{p.scrapy_items:,} ready-made QuoteItems through a real crawler "
                "(CONCURRENT_ITEMS=100, no download or parsing), first item to spider_closed"
            ),
        )
        for which in PIPELINES
    ]
    return crawled + alone
