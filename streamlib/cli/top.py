"""``streamctl top``: the stream's groups and consumers, live.

Three ways to run it: on a terminal, a view redrawn every ``--interval``
seconds until ``q`` or Ctrl-C (``live``; needs the ``top`` extra, rich); with
stdout not a terminal, one plain-text frame per interval until Ctrl-C; with
``--once``, two samples ``--interval`` apart and one frame (``--json``: one
document). The numbers come from ``streamlib.ops.top``; every frame fits 80
columns.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import click

from ..connection import mask_url
from ..durations import format_ms
from ..ops.top import ConsumerRow, GroupRow, Sample, TopFrame, frame, sample
from ..ops.top import top as take_frame
from ..settings import StreamSettings
from . import live
from .base import CommandError, Ctl, common_options, settings_options
from .output import Column, compact, fixed_table

WIDTH = 80
STUCK = "!"
GROUP_COLUMNS = (
    Column("GROUP", 16, right=False),
    Column("PART", 4),
    Column("IN/S", 7),
    Column("OUT/S", 7),
    Column("LAG", 7),
    Column("PENDING", 7),
    Column("OLDEST", 6),
    Column("DEAD", 6),
    Column("DEAD/S", 6),
)
CONSUMER_COLUMNS = (
    Column(" ", 1, right=False),
    Column("CONSUMER", 30, right=False),
    Column("GROUP", 16, right=False),
    Column("PENDING", 7),
    Column("IDLE", 7),
    Column("INACTIVE", 8),
)


@click.command()
@common_options
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    help="Seconds between refreshes, and between the two samples of --once.",
)
@click.option("--once", is_flag=True, help="Print one frame (two samples, --interval apart).")
@settings_options(StreamSettings, "min_idle_ms")
def top(ctl: Ctl, interval: float, once: bool, min_idle_ms: int | None) -> None:
    """Live rates, lag, pending and consumers of every group (q or Ctrl-C quits).

    IN/S entries added per second, OUT/S acknowledged (or dead-lettered) per
    second, OLDEST the oldest pending entry's age, DEAD the dead-letter
    stream's length; "!" marks a consumer idle past min-idle while holding
    entries.
    """
    if ctl.as_json and not once:
        raise CommandError("--json needs --once (one frame, one JSON document)")
    settings = (
        ctl.settings if min_idle_ms is None else ctl.settings.replace(min_idle_ms=min_idle_ms)
    )

    def read() -> Sample:
        return sample(ctl.client, settings, partition=ctl.partition)

    def draw(before: Sample, after: Sample) -> str:
        return render(ctl, frame(before, after, min_idle_ms=settings.min_idle_ms), interval)

    if once:
        found = take_frame(ctl.client, settings, interval=interval, partition=ctl.partition)
        ctl.emit(found, lambda: render(ctl, found, interval))
        return
    try:
        if sys.stdout.isatty():
            live.run(read, draw, interval)
        else:
            _plain(read, draw, interval)
    except KeyboardInterrupt:
        return


def _plain(read: Callable[[], Sample], draw: Callable[[Sample, Sample], str], every: float) -> None:
    """One frame per interval, a blank line apart, until interrupted."""
    before = read()
    while True:
        time.sleep(every)  # the pace of the output, not a wait for something
        after = read()
        click.echo(draw(before, after) + "\n")
        before = after


def render(ctl: Ctl, found: TopFrame, interval: float) -> str:
    """The frame as text of at most ``WIDTH`` columns."""
    head = (
        f"{ctl.where} on {mask_url(ctl.settings.redis_url)}  "
        f"every {interval:g}s  min-idle {format_ms(found.min_idle_ms)}"
    )
    lines = [_fit(head), ""]
    if found.groups:
        lines += _group_lines(found, partitioned=ctl.partitioned)
    else:
        lines.append("(no consumer groups)")
    if found.consumers:
        lines += ["", *fixed_table(CONSUMER_COLUMNS, [_consumer(c) for c in found.consumers])]
    if any(c.stuck for c in found.consumers):
        lines += ["", f"{STUCK} idle past min-idle while holding entries (up for reclaim)"]
    return "\n".join(_fit(line) for line in lines)


def _group_lines(found: TopFrame, *, partitioned: bool) -> list[str]:
    rows = [_group(g) for g in found.groups]
    if partitioned:
        return fixed_table(GROUP_COLUMNS, rows)
    return fixed_table(GROUP_COLUMNS[:1] + GROUP_COLUMNS[2:], [r[:1] + r[2:] for r in rows])


def _group(g: GroupRow) -> tuple[object, ...]:
    return (
        g.group if g.partition is None else "",
        "all" if g.partition is None else g.partition,
        compact(g.in_per_s, decimals=1),
        compact(g.out_per_s, decimals=1),
        compact(g.lag),
        compact(g.pending),
        format_ms(g.oldest_pending_age_ms),
        compact(g.dead_letters),
        compact(g.dead_per_s, decimals=1),
    )


def _consumer(c: ConsumerRow) -> tuple[object, ...]:
    return (
        STUCK if c.stuck else "",
        c.name,
        c.group,
        compact(c.pending),
        format_ms(c.idle_ms),
        format_ms(c.inactive_ms),
    )


def _fit(line: str) -> str:
    return line if len(line) <= WIDTH else line[: WIDTH - 1] + "…"
