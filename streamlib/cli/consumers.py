"""``streamctl consumers`` and ``consumers prune``."""

from __future__ import annotations

import click

from ..durations import format_ms
from ..ops.consumers import consumers as list_consumers
from ..ops.consumers import prune_consumers
from .base import DURATION, Ctl, common_options


@click.group(invoke_without_command=True)
@common_options
def consumers(ctl: Ctl) -> None:
    """The group's consumers: name, pending, idle, inactive (and `prune`)."""
    if click.get_current_context().invoked_subcommand is not None:
        return
    s = ctl.settings
    found = list_consumers(ctl.client, s, partition=ctl.partition)
    rows = [
        (c.partition, c.name, c.pending, format_ms(c.idle_ms), format_ms(c.inactive_ms))
        for c in found
    ]
    ctl.emit(
        {"stream": s.stream, "group": s.group, "consumers": found},
        lambda: (
            ctl.table(("CONSUMER", "PENDING", "IDLE", "INACTIVE"), rows)
            if rows
            else f"(group {s.group} has no consumers)"
        ),
    )


@consumers.command()
@common_options
@click.option("--idle", "idle_ms", type=DURATION, required=True, help="e.g. 30m, 1h, 2d.")
@click.option("--dry-run", is_flag=True, help="Only say what would be deleted.")
def prune(ctl: Ctl, idle_ms: int, dry_run: bool) -> None:
    """Delete consumers idle that long AND with no pending entries; say which were kept."""
    s = ctl.settings
    decisions = prune_consumers(
        ctl.client, s, idle_ms=idle_ms, dry_run=dry_run, partition=ctl.partition
    )
    rows = [
        (d.partition, d.name, d.pending, format_ms(d.idle_ms), d.action, d.reason)
        for d in decisions
    ]
    ctl.emit(
        {
            "stream": s.stream,
            "group": s.group,
            "idle_ms": idle_ms,
            "dry_run": dry_run,
            "consumers": decisions,
        },
        lambda: (
            ctl.table(("CONSUMER", "PENDING", "IDLE", "ACTION", "WHY"), rows)
            if rows
            else f"(group {s.group} has no consumers)"
        ),
    )
