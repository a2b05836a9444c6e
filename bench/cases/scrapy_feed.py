"""Scrapy pipelines alone: each item pipeline fed ready-made items inside a real crawler.

A crawl caps every pipeline at the crawl's own rate, so it can't show how
much faster one pipeline is than another. Here ``bench.scrapy_driver`` runs
in a subprocess (one Twisted reactor per process) and feeds N ``QuoteItem``s
through Scrapy's scraper to the chosen ``ITEM_PIPELINES``, as a crawl's
callback would (``CONCURRENT_ITEMS`` at a time, signals, stats), with no
downloading or parsing. The rate is over the driver's own window, from the
first item to ``spider_closed`` (after the pipelines' final flush); each run
checks every item reached Redis.
"""

from __future__ import annotations

import json
import subprocess
import sys

from ..procs import CpuMeter
from ..registry import Run
from ..runner import Context


def feed(
    ctx: Context, root: str, env: dict[str, str], which: str, pipelines: str, count: int
) -> Run:
    """One driver run of ``pipelines`` (``ITEM_PIPELINES`` JSON) over ``count`` items."""
    stream = env["STREAM_NAME"]
    redis = CpuMeter(ctx.redis_pids)
    done = subprocess.run(
        [sys.executable, "-m", "bench.scrapy_driver", pipelines, str(count)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=max(300.0, count / 200),
    )
    redis_cpu = redis.used()
    try:
        if done.returncode != 0:
            tail = "\n".join(done.stderr.strip().splitlines()[-15:])
            raise RuntimeError(f"pipeline driver ({which}) exited {done.returncode}:\n{tail}")
        out = json.loads(done.stdout.strip().splitlines()[-1])
        if which == "project":
            landed = int(ctx.client.xlen(stream))
        elif which == "rpush":
            landed = int(ctx.client.llen(f"{stream}:items"))
        else:
            landed = count
        if out["scraped"] != count or landed != count or out["finish_reason"] != "finished":
            raise RuntimeError(
                f"pipeline driver ({which}): {out['scraped']} items scraped, {landed} in "
                f"Redis, {count} fed, finish_reason {out['finish_reason']}"
            )
    finally:
        ctx.drop(stream, f"{stream}:items")
    return Run(
        messages=count,
        seconds=float(out["seconds"]),
        cpu_s=float(out["cpu_s"]),
        redis_cpu_s=redis_cpu,
        extra={
            "cpu_us_per_item": round(1e6 * out["cpu_s"] / count, 1),
            "reactor_cpu_us_per_item": round(1e6 * out["reactor_cpu_s"] / count, 1),
            "buffer_waits": out["stream"].get("stream/buffer_waits"),
        },
    )
