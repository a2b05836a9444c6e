"""FastStream's Redis stream subscriber on the same stream, batch and not.

A consumer group from id 0 on the pre-filled stream, as streamlib's; FastStream
acks after the handler returns. Entries written by streamlib have no
``__data__`` field, so FastStream hands the handler all fields as JSON,
which FastStream parses; in batch mode, ``max_records=500`` as streamlib's
batch. Skipped when ``faststream[redis]`` is not installed (the bench extra).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from ..procs import Gate, Stopwatch
from ..registry import CaseResult, Skip, case
from ..runner import Context, measure
from .common import drain_runs
from .rawloop import loop_rate

BATCH = 500


def faststream_worker(
    url: str, stream: str, group: str, me: str, count: int, batch: bool, *, gate: Gate
) -> dict[str, Any]:
    """Run a FastStream subscriber until ``count`` entries were handled."""
    return asyncio.run(_consume(url, stream, group, me, count, batch, gate))


async def _consume(
    url: str, stream: str, group: str, me: str, count: int, batch: bool, gate: Gate
) -> dict[str, Any]:
    from faststream.redis import RedisBroker, StreamSub

    broker = RedisBroker(url, logger=None)
    done = asyncio.Event()
    handled = 0
    sub = StreamSub(stream, group=group, consumer=me, batch=batch, max_records=BATCH)

    if batch:

        @broker.subscriber(stream=sub)
        async def handle_batch(bodies: list[dict[str, Any]]) -> None:
            nonlocal handled
            handled += len(bodies)
            if handled >= count:
                done.set()
    else:

        @broker.subscriber(stream=sub)
        async def handle_one(body: dict[str, Any]) -> None:
            nonlocal handled
            handled += 1
            if handled >= count:
                done.set()

    await broker.connect()
    await asyncio.to_thread(gate)
    sw = Stopwatch()
    await broker.start()
    await done.wait()
    report = sw.report(handled)  # before the last ack: in FastStream's favour, slightly
    await broker.stop()
    import redis

    client = redis.Redis.from_url(url)
    report["pending_after"] = client.xpending(stream, group)["pending"]
    client.close()
    return report


@case("faststream", "FastStream Redis StreamSub, batch and one by one", order=40)
def faststream(ctx: Context) -> list[CaseResult]:
    """FastStream one by one (slow: the small size) and in batches of 500."""
    try:
        import faststream.redis  # noqa: F401
    except ImportError as exc:
        raise Skip(
            f"faststream[redis] is not installed ({exc}); pip install -e '.[bench]'"
        ) from None
    p = ctx.profile
    out = []
    for batch, count, repeats in (
        (False, p.slow_messages, p.slow_repeats),
        (True, p.messages, p.repeats),
    ):
        runs = drain_runs(
            ctx,
            faststream_worker,
            processes=1,
            count=count,
            repeats=repeats,
            label=f"faststream batch={batch}",
            args=(count, batch),
            beside=functools.partial(loop_rate, ctx) if batch else None,
        )
        out.append(
            measure(
                runs,
                name="FastStream StreamSub, " + (f"batch of {BATCH}" if batch else "one by one"),
                case="faststream",
                kind="consumer",
                params={"processes": 1, "batch": batch},
            )
        )
    return out
