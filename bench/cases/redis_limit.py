"""The limit: ``redis-benchmark`` XADD of an envelope-sized entry, 50 clients.

Without pipelining and with pipelines of 64. Skipped when the binary is absent
(``REDIS_BENCHMARK`` names another one). Its latency is per request, not
production to ack, so it goes in the notes, not in the latency columns.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import time

from streamlib import encode

from .. import workload
from ..procs import CpuMeter
from ..registry import CaseResult, Run, Skip, case
from ..runner import Context, measure, repeat

CLIENTS = 50
_CSV = re.compile(
    r'"(?P<rps>[\d.]+)","(?P<avg>[\d.]+)","[\d.]+","(?P<p50>[\d.]+)","[\d.]+",'
    r'"(?P<p99>[\d.]+)","[\d.]+"\s*$'
)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run_once(ctx: Context, binary: str, requests: int, pipeline: int) -> Run:
    stream = ctx.name("redis-benchmark")
    fields = encode(next(workload.envelopes(1)))
    args = [str(a) for kv in fields.items() for a in kv]
    args = [a.decode() if isinstance(a, bytes) else a for a in args]
    cmd = [binary, "-h", "127.0.0.1", "-p", str(ctx.server.port), "-c", str(CLIENTS)]
    cmd += ["-n", str(requests), "-P", str(pipeline), "--csv", "XADD", stream, "*", *args]
    redis = CpuMeter(ctx.redis_pids)
    cpu0, t0 = _children_cpu(), time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True)
    seconds, cpu = time.monotonic() - t0, _children_cpu() - cpu0
    redis_cpu = redis.used()
    length = ctx.client.xlen(stream)
    ctx.drop(stream)
    match = _CSV.search(done.stdout.strip().splitlines()[-1])
    if match is None or length != requests:
        raise RuntimeError(f"unexpected redis-benchmark output: {done.stdout[-300:]!r}")
    # Its own rate excludes connection set-up, which the wall clock here
    # includes: the CPU seconds are scaled to its window so the % stay right.
    own_seconds = requests / float(match["rps"])
    scale = own_seconds / seconds
    return Run(
        requests,
        own_seconds,
        cpu * scale,
        [node * scale for node in redis_cpu],
        extra={"request_p50_ms": float(match["p50"]), "request_p99_ms": float(match["p99"])},
    )


@case("redis-benchmark", "redis-benchmark XADD, the limit", order=80)
def redis_benchmark(ctx: Context) -> list[CaseResult]:
    """redis-benchmark XADD, no pipeline and pipeline 64."""
    binary = os.environ.get("REDIS_BENCHMARK") or shutil.which("redis-benchmark")
    if not binary:
        raise Skip("no redis-benchmark binary on PATH (set REDIS_BENCHMARK to one)")
    p = ctx.profile
    out = []
    for pipeline, requests in zip((1, 64), p.redis_benchmark_requests, strict=True):
        runs = repeat(
            p.slow_repeats,
            lambda n=requests, pl=pipeline: _run_once(ctx, binary, n, pl),
            f"redis-benchmark -P {pipeline}",
        )
        result = measure(
            runs,
            name=f"redis-benchmark XADD, {CLIENTS} clients, "
            + ("no pipeline" if pipeline == 1 else f"pipeline {pipeline}"),
            case="redis-benchmark",
            kind="limit",
            params={"pipeline": pipeline, "clients": CLIENTS},
        )
        p50 = result.extra["request_p50_ms"]
        result.note = f"per-request latency p50 {min(p50):.3f}-{max(p50):.3f} ms (not ts to ack)"
        out.append(result)
    return out
