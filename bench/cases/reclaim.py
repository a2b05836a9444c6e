"""Reclaim: a consumer takes over the entries a SIGKILLed one left pending.

The victim, a streamlib consumer whose handler never returns once it holds
every entry, reads all of them (all pending with it, none acked) and is
SIGKILLed. Once min-idle has passed, a fresh consumer starts in burst mode: its
first XAUTOCLAIM sweep claims everything, reads the delivery counts (one
pipelined XPENDING per batch), handles and acks. Measured: that consumer's run,
from start to the last XACK. A replica already running would start the same
work within one claim interval (min-idle / 2) after the entries became idle.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Sequence
from multiprocessing.synchronize import Event
from typing import Any

from streamlib import BatchResult, GroupConsumer, Message, StreamSettings
from streamlib.connection import client_from_url

from .. import workload
from ..procs import Gate, Stopwatch, run_together, window
from ..registry import CaseResult, Run, case
from ..runner import Context, measure, repeat
from .streamlib_consumer import null_handler


def _settings(url: str, stream: str, group: str, me: str, min_idle_ms: int) -> StreamSettings:
    return StreamSettings(
        redis_url=url, stream=stream, group=group, consumer=me, min_idle_ms=min_idle_ms
    )


def victim(url: str, stream: str, group: str, count: int, holding: Event) -> None:
    """Read ``count`` entries without acking any, say so, then hang until killed."""
    logging.getLogger("streamlib").setLevel(logging.ERROR)  # no line per entry left pending
    seen = 0

    def handle(messages: Sequence[Message]) -> BatchResult:
        nonlocal seen
        seen += len(messages)
        if seen >= count:
            holding.set()
            threading.Event().wait()  # hung: only SIGKILL ends this process
        return BatchResult(failed={m.id: "victim never finishes" for m in messages})

    settings = _settings(url, stream, group, "victim", 3_600_000)
    GroupConsumer(client_from_url(url), settings, handle).run()


def rescuer(url: str, stream: str, group: str, min_idle_ms: int, *, gate: Gate) -> Any:
    """Burst run of a fresh consumer: claims, handles and acks what the victim left."""
    settings = _settings(url, stream, group, "rescuer", min_idle_ms)
    consumer = GroupConsumer(client_from_url(url), settings, null_handler())
    gate()
    sw = Stopwatch()
    stats = consumer.run(burst=True)
    return sw.report(stats.acked, reclaimed=stats.reclaimed)


def _once(ctx: Context) -> Run:
    p = ctx.profile
    count, min_idle = p.reclaim_messages, p.reclaim_min_idle_ms
    stream = ctx.prefilled(count)
    group = ctx.name("group")
    workload.fresh_group(ctx.client, stream, group)
    spawn = mp.get_context("spawn")
    holding = spawn.Event()
    proc = spawn.Process(target=victim, args=(ctx.url, stream, group, count, holding), daemon=True)
    proc.start()
    try:
        if not holding.wait(timeout=120):
            raise RuntimeError("the victim did not take the entries in time")
        held_at = time.monotonic()
        assert proc.pid is not None
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
        killed_at = time.monotonic()
        pending = ctx.client.xpending(stream, group)["pending"]
        if pending != count:
            raise RuntimeError(f"victim left {pending} entries pending, not {count}")
        # The entries become claimable min-idle after their (last) delivery.
        time.sleep(max(0.0, held_at + min_idle / 1000 - time.monotonic()))
        reports, redis_cpu = run_together(
            [(rescuer, (ctx.url, stream, group, min_idle))], timeout=300, redis_pids=ctx.redis_pids
        )
        left = ctx.client.xpending(stream, group)["pending"]
    finally:
        if proc.is_alive():
            proc.kill()
        workload.drop_group(ctx.client, stream, group)
    report = reports[0]
    if report["reclaimed"] != count or left:
        raise RuntimeError(f"rescuer reclaimed {report['reclaimed']} of {count}, {left} left")
    return Run(
        count,
        window(reports),
        report["cpu_s"],
        redis_cpu,
        extra={"kill_to_done_s": round(report["end"] - killed_at, 3)},
    )


@case("reclaim", "takeover of a SIGKILLed consumer's pending entries", order=85)
def reclaim(ctx: Context) -> list[CaseResult]:
    """Repeated takeovers of ``reclaim_messages`` entries."""
    p = ctx.profile
    runs = repeat(p.slow_repeats, lambda: _once(ctx), "reclaim")
    seconds = sorted(r.seconds for r in runs)
    result = measure(
        runs,
        name=f"reclaim {p.reclaim_messages:,} entries of a SIGKILLed consumer",
        case="reclaim",
        kind="reclaim",
        params={"min_idle_ms": p.reclaim_min_idle_ms},
    )
    result.extra["takeover_s"] = [round(s, 3) for s in seconds]
    kills = sorted(result.extra["kill_to_done_s"])
    result.note = (
        f"takeover {seconds[len(seconds) // 2]:.3f} s (median) once idle > min-idle "
        f"({p.reclaim_min_idle_ms} ms); from the kill to the last ack "
        f"{kills[len(kills) // 2]:.3f} s (median)"
    )
    return [result]
