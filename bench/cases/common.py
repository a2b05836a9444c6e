"""Helpers shared by the consumer cases: a pre-filled stream, a fresh group per run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import workload
from ..procs import WorkerFunc, run_together, window
from ..registry import Run
from ..runner import Context, repeat

#: Min-idle of the streamlib consumers in throughput runs: the XAUTOCLAIM sweep
#: then runs every 500 ms (half of it), so "periodic reclaim" is really in the
#: measured loop. No entry is idle that long here, so nothing is stolen.
MIN_IDLE_MS = 1_000


def drain_runs(
    ctx: Context,
    worker: WorkerFunc,
    *,
    processes: int,
    count: int,
    repeats: int,
    label: str,
    args: tuple[Any, ...] = (),
    beside: Callable[[], float] | None = None,
) -> list[Run]:
    """Time ``processes`` workers draining a pre-filled stream, each run with a new group.

    ``beside``: a reference rate measured just before each run (the
    hand-tuned loop's, ``rawloop.loop_rate``); each run's ``vs_loop`` is its
    rate over that one.
    """
    stream = ctx.prefilled(count)

    def once() -> Run:
        reference = beside() if beside is not None else None
        group = ctx.name("group")
        workload.fresh_group(ctx.client, stream, group)
        try:
            reports, redis_cpu = run_together(
                [(worker, (ctx.url, stream, group, f"c{i}", *args)) for i in range(processes)],
                timeout=max(120.0, count / 1_000),
                redis_pids=ctx.redis_pids,
            )
        finally:
            workload.drop_group(ctx.client, stream, group)
        done = sum(r["count"] for r in reports)
        unacked = sum(r.get("pending_after", 0) for r in reports)
        if done != count or unacked:
            raise RuntimeError(f"{label}: {done} of {count} entries consumed, {unacked} unacked")
        run = Run(
            messages=done,
            seconds=window(reports),
            cpu_s=sum(r["cpu_s"] for r in reports),
            redis_cpu_s=redis_cpu,
        )
        if reference:
            run.extra["vs_loop"] = run.rate / reference
        return run

    return repeat(repeats, once, label)
