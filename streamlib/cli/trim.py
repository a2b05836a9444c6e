"""``streamctl trim --acked``: safe retention (see ``streamlib.ops.trim``)."""

from __future__ import annotations

from typing import Any

import click

from ..ops.trim import TrimResult, trim_acked
from . import output
from .base import CommandError, Ctl, common_options


@click.command()
@common_options
@click.option("--acked", is_flag=True, help="Trim what every group has read and acked.")
@click.option("--dry-run", is_flag=True, help="Only count what would be removed.")
@click.option("--force", is_flag=True, help="With no group at all, remove every entry.")
def trim(ctl: Ctl, acked: bool, dry_run: bool, force: bool) -> None:
    """Safe retention: XTRIM MINID at the oldest entry any group still needs."""
    if not acked:
        raise CommandError("trim needs --acked (the only, safe, retention mode)")
    result = trim_acked(
        ctl.client, ctl.settings, dry_run=dry_run, force=force, partition=ctl.partition
    )
    ctl.emit(_document(result), lambda: _render(ctl, result))


def _render(ctl: Ctl, result: TrimResult) -> str:
    sections = []
    rows = [
        (p.partition, g.group, g.last_delivered_id, g.oldest_pending_id, g.needs_from)
        for p in result.partitions
        for g in p.groups
    ]
    if rows:
        headers = ("GROUP", "LAST-DELIVERED", "OLDEST-PENDING", "NEEDS-FROM")
        sections.append(ctl.table(headers, rows))
    verb = "would remove" if result.dry_run else "removed"
    summary = f"{verb} {result.removed} of {result.length_before} entries"
    if ctl.partitioned:
        totals = [
            (p.partition, p.stream, p.length_before, p.threshold, p.removed)
            for p in result.partitions
        ]
        sections.append(ctl.table(("STREAM", "LENGTH", "BELOW-ID", "REMOVED"), totals))
    elif result.threshold:
        summary += f" (ids below {result.threshold})"
    return "\n\n".join([*sections, summary])


def _document(result: TrimResult) -> dict[str, Any]:
    return {
        "stream": result.stream,
        "length_before": result.length_before,
        "threshold": result.threshold,
        "groups": [
            {"partition": p.partition, **output.jsonable(g), "needs_from": str(g.needs_from)}
            for p in result.partitions
            for g in p.groups
        ],
        "removed": result.removed,
        "dry_run": result.dry_run,
        "forced": result.forced,
        "partitions": [
            {
                "partition": p.partition,
                "stream": p.stream,
                "length_before": p.length_before,
                "threshold": p.threshold,
                "removed": p.removed,
            }
            for p in result.partitions
        ],
    }
