"""streamlib's ``GroupConsumer`` with a null handler, 1, 2 and 4 processes.

Plus one row with the replica class that ``quotes-consumer`` runs,
``PartitionedConsumer`` on a one-partition stream, around the same loop.

Full semantics: envelopes decoded, one XACK per batch, the XAUTOCLAIM sweep
every 500 ms, burst mode (returns when nothing is left to read or reclaim).
The handler is passed by name (``HANDLERS``): a worker process gets its
arguments pickled, and a name crosses where a function made in the parent
might not.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from streamlib import GroupConsumer, Handler, Message, PartitionedConsumer, StreamSettings
from streamlib.connection import client_from_url
from streamlib.gcpolicy import tune_gc

from ..procs import Gate, Stopwatch
from ..registry import CaseResult, case
from ..runner import Context, measure
from .common import MIN_IDLE_MS, drain_runs
from .rawloop import loop_rate

PROCESSES = (1, 2, 4)


def null_handler() -> Handler:
    """A handler that accepts every batch and does nothing."""

    def handle(messages: Sequence[Message]) -> None:
        for _ in messages:
            pass
        return None

    return handle


HANDLERS: dict[str, Callable[[], Handler]] = {"null": null_handler}


def settings_for(url: str, stream: str, group: str, me: str) -> StreamSettings:
    """The benchmark consumers' settings: library defaults but a short min-idle."""
    return StreamSettings(
        redis_url=url, stream=stream, group=group, consumer=me, min_idle_ms=MIN_IDLE_MS
    )


def streamlib_worker(
    url: str,
    stream: str,
    group: str,
    me: str,
    handler: str,
    tune: bool = False,
    *,
    gate: Gate,
) -> dict[str, Any]:
    """Drain ``stream`` with a ``GroupConsumer`` in burst mode; returns entries acked.

    ``tune``: the GC policy ``quotes-consumer`` applies once set up
    (``streamlib.gcpolicy.tune_gc``: start-up objects frozen, gen-0 threshold
    raised); without it, the library's own behaviour, CPython's defaults.
    """
    consumer = GroupConsumer(
        client_from_url(url), settings_for(url, stream, group, me), HANDLERS[handler]()
    )
    return _drain(consumer, tune, gate)


def replica_worker(
    url: str, stream: str, group: str, me: str, handler: str, *, gate: Gate
) -> dict[str, Any]:
    """``streamlib_worker`` through ``PartitionedConsumer`` (one partition), as the service runs."""
    consumer = PartitionedConsumer(settings_for(url, stream, group, me), HANDLERS[handler]())
    return _drain(consumer, False, gate)


def _drain(consumer: GroupConsumer | PartitionedConsumer, tune: bool, gate: Gate) -> dict[str, Any]:
    if tune:
        tune_gc()
    gate()
    sw = Stopwatch()
    stats = consumer.run(burst=True)
    return sw.report(stats.acked, reclaimed=stats.reclaimed)


@case("streamlib", "streamlib GroupConsumer, null handler", order=30)
def streamlib_consumer(ctx: Context) -> list[CaseResult]:
    """The library's consumer with 1, 2 and 4 processes."""
    p = ctx.profile
    out = []
    for n in PROCESSES:
        runs = drain_runs(
            ctx,
            streamlib_worker,
            processes=n,
            count=p.messages,
            repeats=p.repeats,
            label=f"streamlib x{n}",
            args=("null",),
            beside=functools.partial(loop_rate, ctx, processes=n),
        )
        out.append(
            measure(
                runs,
                name=f"streamlib GroupConsumer (null handler), {n} process{'es' if n > 1 else ''}",
                case="streamlib",
                kind="consumer",
                params={"processes": n, "handler": "null"},
            )
        )
    # Variants of the one-process row, not counted against the targets.
    variants = (
        (
            streamlib_worker,
            ("null", True),
            "streamlib x1 GC policy",
            "streamlib GroupConsumer (null handler), 1 process, the service's GC policy",
            "streamlib-gc-policy",
            {"gc_policy": True},
            "gc.freeze() after start-up and gen-0 threshold 10,000, as quotes-consumer runs; "
            "not counted against the targets",
        ),
        (
            replica_worker,
            ("null",),
            "streamlib replica x1",
            "streamlib PartitionedConsumer, 1 partition (null handler), 1 process",
            "streamlib-replica",
            {"partitions": 1},
            "the replica class quotes-consumer runs, around the same loop",
        ),
    )
    for worker, args, label, name, key, params, note in variants:
        runs = drain_runs(
            ctx,
            worker,
            processes=1,
            count=p.messages,
            repeats=p.repeats,
            label=label,
            args=args,
        )
        out.append(
            measure(
                runs,
                name=name,
                case=key,
                kind="consumer-variant",
                params={"processes": 1, "handler": "null", **params},
                note=note,
            )
        )
    return out
