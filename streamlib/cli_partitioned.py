"""``streamctl info / pending / trim --acked / dead list`` across every partition.

Called by those commands when ``--partitions`` > 1 and no ``--partition`` is
given: one row per partition, then the totals (text), or one JSON document
with ``partitions`` (the rows) and the totals. With ``--partition N`` the
ordinary single-stream commands run on that partition instead.
"""

from __future__ import annotations

from typing import Any

from . import clifmt, partition_admin
from .clibase import Ctl
from .connection import mask_url
from .durations import format_ms


def _unknown(value: int | None) -> object:
    return "unknown" if value is None else value


def info(ctl: Ctl) -> None:
    """Per partition: length, consumers, pending, lag, oldest pending, dead letters."""
    s = ctl.settings
    found = partition_admin.partitioned_info(ctl.client, s)
    rows = [
        (
            p.partition,
            p.stream,
            p.length,
            p.group.consumers if p.group else "-",
            p.group.pending if p.group else "-",
            (_unknown(p.group.lag) if p.group else ("-" if not p.length else "unknown")),
            format_ms(p.oldest_pending_age_ms),
            p.dead_letters,
        )
        for p in found.partitions
    ]

    def render() -> str:
        head = clifmt.pairs(
            [
                ("redis", mask_url(s.redis_url)),
                ("stream", f"{s.stream} ({s.partitions} partitions)"),
                ("group", s.group),
                ("length", found.length),
                ("pending", found.pending),
                ("lag", _unknown(found.lag)),
                ("dead letters", found.dead_letters),
            ]
        )
        headers = (
            "PARTITION",
            "STREAM",
            "LENGTH",
            "CONSUMERS",
            "PENDING",
            "LAG",
            "OLDEST-PENDING-AGE",
            "DEAD",
        )
        return head + "\n\n" + clifmt.table(headers, rows)

    document: dict[str, Any] = {
        "redis_url": mask_url(s.redis_url),
        "stream": s.stream,
        "group": s.group,
        "length": found.length,
        "pending": found.pending,
        "lag": found.lag,
        "dead_letters": found.dead_letters,
        "partitions": [clifmt.jsonable(p) for p in found.partitions],
    }
    ctl.emit(document, render)


def pending(
    ctl: Ctl, details: bool, count: int | None, min_idle: int | None, consumer: str | None
) -> None:
    """The group's pending entries on every partition: per partition and per consumer."""
    s = ctl.settings
    if details or count is not None or min_idle is not None or consumer is not None:
        entries = partition_admin.partitioned_pending_entries(
            ctl.client, s, count=count or 100, min_idle_ms=min_idle, consumer=consumer
        )
        rows = [
            (
                e.partition,
                e.entry.id,
                e.entry.consumer,
                format_ms(e.entry.idle_ms),
                e.entry.deliveries,
            )
            for e in entries
        ]
        ctl.emit(
            {
                "stream": s.stream,
                "group": s.group,
                "entries": [
                    {"partition": e.partition, **clifmt.jsonable(e.entry)} for e in entries
                ],
            },
            lambda: (
                clifmt.table(("PARTITION", "ID", "CONSUMER", "IDLE", "DELIVERIES"), rows)
                if rows
                else "(no pending entries match)"
            ),
        )
        return
    parts = partition_admin.partitioned_pending(ctl.client, s)
    total = sum(p.summary.pending for p in parts if p.summary)
    holders: dict[str, list[int]] = {}  # consumer -> [pending, oldest idle ms]
    for p in parts:
        for c in p.summary.consumers if p.summary else []:
            held = holders.setdefault(c.consumer, [0, 0])
            held[0] += c.pending
            held[1] = max(held[1], c.oldest_idle_ms or 0)

    def render() -> str:
        head = f"group {s.group}: {total} pending in {s.partitions} partitions"
        part_rows = [
            (
                p.partition,
                p.stream,
                p.summary.pending if p.summary else "(no group)",
                p.summary.min_id if p.summary else None,
                p.summary.max_id if p.summary else None,
            )
            for p in parts
        ]
        out = (
            head
            + "\n\n"
            + clifmt.table(("PARTITION", "STREAM", "PENDING", "MIN-ID", "MAX-ID"), part_rows)
        )
        if holders:
            consumer_rows = [(name, h[0], format_ms(h[1])) for name, h in sorted(holders.items())]
            out += "\n\n" + clifmt.table(("CONSUMER", "PENDING", "OLDEST-IDLE"), consumer_rows)
        return out

    document = {
        "stream": s.stream,
        "group": s.group,
        "pending": total,
        "partitions": [
            {"partition": p.partition, "stream": p.stream, "summary": clifmt.jsonable(p.summary)}
            for p in parts
        ],
        "consumers": [
            {"consumer": name, "pending": h[0], "oldest_idle_ms": h[1]}
            for name, h in sorted(holders.items())
        ],
    }
    ctl.emit(document, render)


def trim(ctl: Ctl, dry_run: bool, force: bool) -> None:
    """``trim --acked`` on every partition: what each removed (or would)."""
    s = ctl.settings
    parts = partition_admin.partitioned_trim(ctl.client, s, dry_run=dry_run, force=force)
    removed = sum(p.result.removed for p in parts if p.result)
    before = sum(p.result.length_before for p in parts if p.result)

    def render() -> str:
        verb = "would remove" if dry_run else "removed"
        rows = [
            (
                p.partition,
                p.stream,
                p.result.length_before if p.result else "(no stream)",
                p.result.threshold if p.result else None,
                p.result.removed if p.result else 0,
            )
            for p in parts
        ]
        table = clifmt.table(("PARTITION", "STREAM", "LENGTH", "BELOW-ID", "REMOVED"), rows)
        return f"{table}\n\n{verb} {removed} of {before} entries in {s.partitions} partitions"

    document = {
        "stream": s.stream,
        "dry_run": dry_run,
        "forced": force,
        "length_before": before,
        "removed": removed,
        "partitions": [
            {
                "partition": p.partition,
                "stream": p.stream,
                "result": None
                if p.result is None
                else {
                    **clifmt.jsonable(p.result),
                    "groups": [
                        {**clifmt.jsonable(g), "needs_from": str(g.needs_from)}
                        for g in p.result.groups
                    ],
                },
            }
            for p in parts
        ],
    }
    ctl.emit(document, render)


def dead_list(ctl: Ctl, count: int) -> None:
    """Dead letters of every partition (up to ``count`` in all), with their partition."""
    s = ctl.settings
    parts = partition_admin.partitioned_dead_letters(ctl.client, s, count=count)
    total = sum(p.length for p in parts)
    shown = [(p.partition, d) for p in parts for d in p.letters]
    rows = [
        (i, d.id, d.orig_id, d.consumer, d.deliveries, clifmt.timestamp(d.dead_at), d.reason)
        for i, d in shown
    ]

    def render() -> str:
        head = f"{total} dead letters in {s.partitions} partitions of {s.stream}" + (
            f" (showing {len(shown)})" if len(shown) < total else ""
        )
        if not rows:
            return head
        headers = ("PARTITION", "ID", "ORIG-ID", "CONSUMER", "DELIVERIES", "DEAD-AT", "REASON")
        return head + "\n\n" + clifmt.table(headers, rows)

    ctl.emit(
        {
            "stream": s.stream,
            "length": total,
            "partitions": [
                {"partition": p.partition, "stream": p.stream, "length": p.length} for p in parts
            ],
            "dead_letters": [{"partition": i, **clifmt.dead_letter_summary(d)} for i, d in shown],
        },
        render,
    )
