"""streamlib's producer alone, and producer + consumer end to end.

End to end, one producer process and one consumer process run together on an
empty stream. Latency is from the envelope's production time to the XACK of
its batch: the envelope's ``ts`` (ms) and, for sub-millisecond digits,
``sent_ns`` in its data taken at the same instant. Full speed sends pipelined
batches of 500 as fast as flow control on the group's lag lets it (the
producer's default ``max_lag``; a variant runs without it); paced sends one
envelope at a time at 2,000 msgs/s (an open-loop schedule, as a crawl
trickles items in).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from streamlib import GroupConsumer, Message, StreamProducer
from streamlib.connection import client_from_url

from .. import stats, workload
from ..procs import Gate, Stopwatch, run_together, window
from ..registry import CaseResult, Run, case
from ..runner import Context, measure, repeat
from .streamlib_consumer import settings_for

#: Envelopes built and handed to ``send_many`` at a time at full speed (one batch).
CHUNK = 500


def producer_worker(
    url: str, stream: str, count: int, rate: float | None, group: str | None, *, gate: Gate
) -> dict[str, Any]:
    """Send ``count`` stamped envelopes: batches at full speed, or one by one at ``rate``.

    ``group``: the producer's flow control on that group's lag (the default
    ``max_lag``); ``None``: unthrottled.
    """
    producer = StreamProducer(client_from_url(url), stream, group=group)
    envelopes = workload.envelopes(count, stamp=True)  # stamped when drawn
    gate()
    sw = Stopwatch()
    if rate is None:
        for start in range(0, count, CHUNK):
            producer.send_many([next(envelopes) for _ in range(min(CHUNK, count - start))])
    else:
        for _ in workload.paced(count, rate):
            producer.send(next(envelopes))
    return sw.report(producer.sent)


def consumer_worker(url: str, stream: str, group: str, count: int, *, gate: Gate) -> Any:
    """Consume until ``count`` entries are acked; latency per entry, production to XACK."""
    client = client_from_url(url)
    in_hand: list[tuple[int, int]] = []  # (sent_ns, ts) of the batch being handled
    latencies: list[float] = []
    by_ts: list[float] = []

    def handle(messages: Sequence[Message]) -> None:
        in_hand[:] = [(m.envelope.data["sent_ns"], m.envelope.ts) for m in messages]

    consumer = GroupConsumer(client, settings_for(url, stream, group, "e2e"), handle)
    xack = client.xack

    def timed_xack(*args: Any) -> Any:
        acked = xack(*args)
        now = time.time_ns()
        latencies.extend((now - sent) / 1e6 for sent, _ in in_hand)
        by_ts.extend(now / 1e6 - ts for _, ts in in_hand)
        in_hand.clear()
        if len(latencies) >= count:
            consumer.stop()
        return acked

    client.xack = timed_xack  # type: ignore[method-assign]
    gate()
    sw = Stopwatch()
    consumer.run()
    return sw.report(consumer.stats.acked, latencies_ms=latencies, ts_latencies_ms=by_ts)


def _e2e_once(ctx: Context, count: int, rate: float | None, flow: bool = True) -> Run:
    stream, group = ctx.name("e2e"), ctx.name("group")
    workload.fresh_group(ctx.client, stream, group)
    try:
        reports, redis_cpu = run_together(
            [
                (consumer_worker, (ctx.url, stream, group, count)),
                (producer_worker, (ctx.url, stream, count, rate, group if flow else None)),
            ],
            timeout=600,
            redis_pids=ctx.redis_pids,
        )
    finally:
        ctx.drop(stream)
    consumer, producer = reports
    if consumer["count"] != count:
        raise RuntimeError(f"end to end: {consumer['count']} of {count} acked")
    return Run(
        count,
        window(reports),
        consumer["cpu_s"] + producer["cpu_s"],
        redis_cpu,
        latencies_ms=consumer["latencies_ms"],
        extra={"ts_latencies_ms": consumer["ts_latencies_ms"]},
    )


@case("producer", "streamlib StreamProducer alone", order=50)
def producer_alone(ctx: Context) -> list[CaseResult]:
    """``send_many`` in batches of 500 into an empty stream, nobody reading."""
    p = ctx.profile

    def once() -> Run:
        stream = ctx.name("produced")
        try:
            reports, redis_cpu = run_together(
                [(producer_worker, (ctx.url, stream, p.messages, None, None))],
                timeout=600,
                redis_pids=ctx.redis_pids,
            )
        finally:
            ctx.drop(stream)
        return Run(p.messages, window(reports), reports[0]["cpu_s"], redis_cpu)

    runs = repeat(p.repeats, once, "producer")
    return [
        measure(
            runs,
            name="streamlib StreamProducer alone (send_many, batches of 500)",
            case="producer",
            kind="producer",
        )
    ]


@case("e2e", "streamlib producer + consumer end to end", order=55)
def end_to_end(ctx: Context) -> list[CaseResult]:
    """One producer and one consumer, at full speed and paced."""
    p = ctx.profile
    paced_count = int(p.paced_rate * p.paced_seconds)
    out = []
    for label, count, rate, repeats, flow in (
        ("full speed", p.messages, None, p.repeats, True),
        (f"paced {p.paced_rate:,} msgs/s", paced_count, p.paced_rate, p.slow_repeats, True),
        ("full speed, no flow control", p.messages, None, p.slow_repeats, False),
    ):
        runs = repeat(
            repeats, lambda c=count, r=rate, f=flow: _e2e_once(ctx, c, r, f), f"e2e {label}"
        )
        by_ts = [x for run in runs for x in run.extra.pop("ts_latencies_ms")]
        result = measure(
            runs,
            name=f"streamlib end to end, 1 producer + 1 consumer, {label}",
            case="e2e" if flow else "e2e-unthrottled",
            kind="e2e",
            params={"paced": rate is not None, "rate": rate, "flow_control": flow},
        )
        ts_lat = stats.latency_summary(by_ts)
        if ts_lat is not None:
            result.extra["ts_latency_ms"] = ts_lat
            result.note = (
                f"latency from the envelope ts alone (ms, floored): "
                f"p50 {ts_lat['p50']:.2f} ms, p99 {ts_lat['p99']:.2f} ms"
            )
        out.append(result)
    return out
