"""``streamctl reclaim``: an XAUTOCLAIM sweep by hand."""

from __future__ import annotations

import click

from ..ops.reclaim import ReclaimResult
from ..ops.reclaim import reclaim as sweep
from .base import DURATION, Ctl, common_options


@click.command()
@common_options
@click.option("--min-idle", type=DURATION, required=True, help="Ms (or 30s, 5m ...) idle.")
@click.option("--to", "to", default="streamctl", show_default=True, help="New owner.")
def reclaim(ctl: Ctl, min_idle: int, to: str) -> None:
    """XAUTOCLAIM every entry idle --min-idle or more to --to (delivery counts unchanged)."""
    s = ctl.settings
    result = sweep(ctl.client, s, min_idle_ms=min_idle, to=to, partition=ctl.partition)
    deleted = [ctl.ref(d.partition, d.id) for d in result.deleted]
    ctl.emit(
        {"stream": s.stream, "group": s.group, "to": to, "moved": result.moved, "deleted": deleted},
        lambda: _render(ctl, result, deleted),
    )


def _render(ctl: Ctl, result: ReclaimResult, deleted: list[str]) -> str:
    lines = [f"moved {len(result.moved)} entries to {result.to}"]
    if result.moved:
        rows = [(m.partition, m.id, m.from_consumer, m.deliveries) for m in result.moved]
        lines.append(ctl.table(("ID", "FROM", "DELIVERIES"), rows))
    if deleted:
        lines.append(
            f"dropped {len(deleted)} pending ids of deleted entries: " + ", ".join(deleted)
        )
    return "\n".join(lines)
