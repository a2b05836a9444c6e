"""Memory: one streamlib consumer's RSS, sampled while it drains the largest stream.

The runner samples the worker's RSS (psutil) every 100 ms from outside, so
the measurement costs the consumer nothing. Growth is the last sample against
the one at 10% of the run (after imports, buffers and the first batches).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from multiprocessing.process import BaseProcess

import psutil

from .. import workload
from ..procs import run_together, window
from ..registry import CaseResult, Run, case
from ..runner import Context, measure
from .streamlib_consumer import streamlib_worker

INTERVAL_S = 0.1


@case("memory", "consumer RSS over a long run", order=90)
def memory(ctx: Context) -> list[CaseResult]:
    """Drain ``memory_messages`` entries with one consumer, sampling its RSS."""
    count = ctx.profile.memory_messages
    stream = ctx.prefilled(count)
    group = ctx.name("group")
    samples: list[tuple[float, float]] = []  # (seconds since start, RSS MiB)

    def sample(procs: Sequence[BaseProcess], stop: threading.Event) -> None:
        assert procs[0].pid is not None
        proc = psutil.Process(procs[0].pid)
        t0 = time.monotonic()
        while not stop.is_set():
            try:
                rss = proc.memory_info().rss / 2**20
            except psutil.NoSuchProcess:
                return
            samples.append((time.monotonic() - t0, rss))
            stop.wait(INTERVAL_S)

    workload.fresh_group(ctx.client, stream, group)
    try:
        reports, redis_cpu = run_together(
            [(streamlib_worker, (ctx.url, stream, group, "c0", "null"))],
            timeout=1_200,
            redis_pids=ctx.redis_pids,
            monitor=sample,
        )
    finally:
        workload.drop_group(ctx.client, stream, group)
        ctx.release(count)
    report = reports[0]
    run = Run(count, window(reports), report["cpu_s"], redis_cpu)
    seconds = run.seconds
    during = [s for s in samples if s[0] <= seconds] or samples
    base = next((rss for t, rss in during if t >= 0.1 * seconds), during[0][1])
    last, peak = during[-1][1], max(rss for _, rss in during)
    result = measure(
        [run],
        name=f"streamlib consumer RSS over {count:,} entries (null handler)",
        case="memory",
        kind="memory",
    )
    step = max(1, len(during) // 60)
    result.extra = {
        "rss_growth_pct": [round(100 * (last - base) / base, 2)],
        "rss_mib": {"at_10pct": round(base, 1), "last": round(last, 1), "peak": round(peak, 1)},
        "rss_samples": [(round(t, 2), round(m, 1)) for t, m in during[::step]],
    }
    result.note = (
        f"RSS {base:.1f} MiB at 10% of the run, {last:.1f} MiB at the end, peak {peak:.1f} MiB "
        f"({len(during)} samples)"
    )
    return [result]
