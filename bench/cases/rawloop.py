"""The ceiling: a hand-tuned redis-py loop, no library around it.

XREADGROUP COUNT 500, orjson for the data, one XACK per batch, hiredis
parsing the replies (redis-py picks it up when installed). RESP2, bytes, as
streamlib's clients, so the two read exactly the same replies.
"""

from __future__ import annotations

from typing import Any

import orjson
import redis

from ..procs import Gate, Stopwatch
from ..registry import CaseResult, case
from ..runner import Context, measure
from .common import drain_runs

PROCESSES = (1, 2, 4)


def raw_worker(
    url: str, stream: str, group: str, me: str, count: int = 500, *, gate: Gate
) -> dict[str, Any]:
    """Drain ``stream`` for ``group`` as ``me``, ``count`` per read; returns entries acked."""
    r = redis.Redis.from_url(url, protocol=2)
    assert redis.utils.HIREDIS_AVAILABLE, "hiredis is part of the hand-tuned loop"
    gate()
    sw = Stopwatch()
    acked = 0
    while True:
        reply = r.xreadgroup(group, me, {stream: ">"}, count=count)
        if not reply:
            break
        entries = reply[0][1]
        for _id, fields in entries:
            orjson.loads(fields[b"data"])
            int(fields[b"ts"])
        acked += r.xack(stream, group, *[e[0] for e in entries])
    return sw.report(acked)


def loop_rate(ctx: Context, *, processes: int = 1) -> float:
    """The hand-tuned loop's rate now: ``processes`` of it drain the run's pre-filled stream.

    Measured just before each run of the cases the targets compare with it
    (``drain_runs(beside=...)``): the host's speed moves within a run, and a
    rate over the loop's measured beside it holds where one over the
    ``raw`` case's, minutes earlier, does not.
    """
    (run,) = drain_runs(
        ctx,
        raw_worker,
        processes=processes,
        count=ctx.profile.messages,
        repeats=1,
        label=f"hand-tuned loop x{processes} beside",
    )
    return run.rate


@case("raw", "hand-tuned redis-py loop (the ceiling)", order=20)
def raw_loop(ctx: Context) -> list[CaseResult]:
    """The raw loop with 1, 2 and 4 processes."""
    p = ctx.profile
    out = []
    for n in PROCESSES:
        runs = drain_runs(
            ctx, raw_worker, processes=n, count=p.messages, repeats=p.repeats, label=f"raw x{n}"
        )
        out.append(
            measure(
                runs,
                name=f"hand-tuned raw loop, {n} process{'es' if n > 1 else ''}",
                case="raw",
                kind="consumer",
                params={"processes": n},
            )
        )
    runs = drain_runs(
        ctx,
        raw_worker,
        processes=1,
        count=p.slow_messages,
        repeats=p.slow_repeats,
        label="raw COUNT 1",
        args=(1,),
    )
    out.append(
        measure(
            runs,
            name="streams unbatched: XREADGROUP COUNT 1 + XACK per entry, 1 process",
            case="raw-unbatched",
            kind="consumer-variant",
            params={"processes": 1, "count": 1},
            note="the same loop without batching: what batching buys",
        )
    )
    return out
