"""``streamctl pending``: the group's pending entries, per consumer or one by one."""

from __future__ import annotations

import click

from ..durations import format_ms
from ..ops.pending import PendingSummary, pending_entries, pending_summary
from .base import DURATION, Ctl, common_options


@click.command()
@common_options
@click.option("--details", is_flag=True, help="List entries (implied by the filters below).")
@click.option("--count", type=click.IntRange(min=1), default=None, help="At most N entries [100].")
@click.option("--min-idle", type=DURATION, default=None, help="Only entries idle this long.")
@click.option("--consumer", default=None, help="Only this consumer's entries.")
def pending(
    ctl: Ctl, details: bool, count: int | None, min_idle: int | None, consumer: str | None
) -> None:
    """The group's pending entries: per consumer, or each entry with --details."""
    if details or count is not None or min_idle is not None or consumer is not None:
        _details(ctl, count or 100, min_idle, consumer)
        return
    summary = pending_summary(ctl.client, ctl.settings, partition=ctl.partition)
    document = {
        "stream": ctl.settings.stream,
        "group": summary.group,
        "pending": summary.pending,
        "min_id": summary.min_id,
        "max_id": summary.max_id,
        "consumers": summary.consumers,
        "partitions": summary.partitions,
    }
    ctl.emit(document, lambda: _render(ctl, summary))


def _render(ctl: Ctl, summary: PendingSummary) -> str:
    head = f"group {summary.group}: {summary.pending} pending"
    if summary.pending:
        head += f" (ids {summary.min_id} .. {summary.max_id})"
    sections = [head]
    if ctl.partitioned:
        parts = [
            (
                p.partition,
                p.stream,
                "(no group)" if p.pending is None else p.pending,
                p.min_id,
                p.max_id,
            )
            for p in summary.partitions
        ]
        sections.append(ctl.table(("STREAM", "PENDING", "MIN-ID", "MAX-ID"), parts))
    if summary.consumers:
        rows = [
            (
                c.partition,
                c.consumer,
                c.pending,
                c.oldest_id,
                format_ms(c.oldest_idle_ms),
                c.oldest_deliveries,
            )
            for c in summary.consumers
        ]
        headers = ("CONSUMER", "PENDING", "OLDEST-ID", "OLDEST-IDLE", "DELIVERIES")
        sections.append(ctl.table(headers, rows))
    return "\n\n".join(sections)


def _details(ctl: Ctl, count: int, min_idle: int | None, consumer: str | None) -> None:
    s = ctl.settings
    entries = pending_entries(
        ctl.client, s, count=count, min_idle_ms=min_idle, consumer=consumer, partition=ctl.partition
    )
    rows = [(e.partition, e.id, e.consumer, format_ms(e.idle_ms), e.deliveries) for e in entries]
    ctl.emit(
        {"stream": s.stream, "group": s.group, "entries": entries},
        lambda: (
            ctl.table(("ID", "CONSUMER", "IDLE", "DELIVERIES"), rows)
            if rows
            else "(no pending entries match)"
        ),
    )
