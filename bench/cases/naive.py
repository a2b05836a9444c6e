"""The baseline: the naive list design, written plainly.

Producer: one LPUSH of a JSON item per record, no pipelining. Consumer: LLEN;
when empty, sleep 100 ms; else RPOP one item, ``json.loads`` it and append it
to a file. No groups, no acknowledgement, no redelivery: a crash loses the
item in hand. It is what the streams design is measured against.
"""

from __future__ import annotations

import json
import time
from typing import Any

import redis

from .. import workload
from ..procs import Gate, Stopwatch, run_together, window
from ..registry import CaseResult, Run, case
from ..runner import Context, measure, repeat
from .rawloop import loop_rate

EMPTY_SLEEP_S = 0.1


def _item(i: int) -> str:
    key, data = workload.quotes()[i % workload.DISTINCT]
    now = time.time_ns()
    return json.dumps({"key": key, "ts": now // 1_000_000, "sent_ns": now, "data": data})


def naive_producer(url: str, key: str, count: int, rate: float | None, *, gate: Gate) -> Any:
    """LPUSH ``count`` items, one round trip each, optionally paced."""
    r = redis.Redis.from_url(url)
    gate()
    sw = Stopwatch()
    for i in workload.paced(count, rate):
        r.lpush(key, _item(i))
    return sw.report(count)


def naive_consumer(url: str, key: str, count: int, path: str, *, gate: Gate) -> Any:
    """Pop ``count`` items one by one, appending each to ``path``; latency from ``sent_ns``."""
    r = redis.Redis.from_url(url)
    latencies: list[float] = []
    with open(path, "a", encoding="utf-8") as out:
        gate()
        sw = Stopwatch()
        done = 0
        while done < count:
            if r.llen(key) == 0:
                time.sleep(EMPTY_SLEEP_S)
                continue
            raw = r.rpop(key)
            if raw is None:
                continue
            item = json.loads(raw)
            out.write(json.dumps(item) + "\n")
            out.flush()
            latencies.append((time.time_ns() - item["sent_ns"]) / 1e6)
            done += 1
    return sw.report(done, latencies_ms=latencies)


def _prefill_list(client: redis.Redis, key: str, count: int) -> None:
    with client.pipeline(transaction=False) as pipe:
        for i in range(count):
            pipe.lpush(key, _item(i))
        pipe.execute()


@case("naive", "naive list design (LPUSH / LLEN + RPOP + file)", order=10)
def naive(ctx: Context) -> list[CaseResult]:
    """Consumer on a pre-filled list, producer alone, and both paced at 2,000 msgs/s."""
    p = ctx.profile
    n = p.slow_messages
    out_file = str(ctx.scratch / "naive.jsonl")

    def consumer_once() -> Run:
        key = ctx.name("naive-list")
        _prefill_list(ctx.client, key, n)
        reference = loop_rate(ctx)
        reports, rcpu = run_together(
            [(naive_consumer, (ctx.url, key, n, out_file))],
            timeout=600,
            redis_pids=ctx.redis_pids,
        )
        ctx.drop(key)
        run = Run(n, window(reports), reports[0]["cpu_s"], rcpu)
        run.extra["vs_loop"] = run.rate / reference
        return run

    def producer_once() -> Run:
        key = ctx.name("naive-list")
        reports, rcpu = run_together(
            [(naive_producer, (ctx.url, key, n, None))], timeout=600, redis_pids=ctx.redis_pids
        )
        ctx.drop(key)
        return Run(n, window(reports), reports[0]["cpu_s"], rcpu)

    def paced_once() -> Run:
        key = ctx.name("naive-list")
        count = int(p.paced_rate * p.paced_seconds)
        reports, rcpu = run_together(
            [
                (naive_consumer, (ctx.url, key, count, out_file)),
                (naive_producer, (ctx.url, key, count, p.paced_rate)),
            ],
            timeout=600,
            redis_pids=ctx.redis_pids,
        )
        ctx.drop(key)
        consumer = reports[0]
        return Run(
            count,
            window(reports),
            consumer["cpu_s"] + reports[1]["cpu_s"],
            rcpu,
            latencies_ms=consumer["latencies_ms"],
        )

    return [
        measure(
            repeat(p.slow_repeats, consumer_once, "naive consumer"),
            name="naive list consumer (LLEN + RPOP + json + file)",
            case="naive-consumer",
            kind="consumer",
            params={"processes": 1},
        ),
        measure(
            repeat(p.slow_repeats, producer_once, "naive producer"),
            name="naive list producer (one LPUSH per item)",
            case="naive-producer",
            kind="producer",
        ),
        measure(
            repeat(p.slow_repeats, paced_once, "naive paced"),
            name=f"naive list end to end, paced {p.paced_rate:,} msgs/s",
            case="naive-e2e",
            kind="e2e",
            params={"paced": True, "rate": p.paced_rate},
            note="latency from the item's send time to its line being written",
        ),
    ]
