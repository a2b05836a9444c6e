"""``streamctl info``: the stream's health at a glance."""

from __future__ import annotations

from typing import Any

import click

from ..connection import mask_url
from ..durations import format_ms
from ..ops.info import StreamInfo, stream_info
from . import output
from .base import Ctl, common_options

GROUP_HEADERS = (
    "GROUP",
    "CONSUMERS",
    "PENDING",
    "LAST-DELIVERED",
    "ENTRIES-READ",
    "LAG",
    "OLDEST-PENDING-AGE",
    "OLDEST-PENDING-IDLE",
)
PARTITION_HEADERS = ("STREAM", "LENGTH", "LAST-ID", "MEMORY", "DEAD")


@click.command()
@common_options
def info(ctl: Ctl) -> None:
    """Stream length, ids, memory; per group: consumers, pending, lag; dead letters."""
    found = stream_info(ctl.client, ctl.settings, partition=ctl.partition)
    ctl.emit(_document(ctl, found), lambda: _render(ctl, found))


def _render(ctl: Ctl, found: StreamInfo) -> str:
    dead_streams = output.span([p.dead_letter_stream for p in found.partitions])
    sections = [
        output.pairs(
            [
                ("redis", mask_url(ctl.settings.redis_url)),
                ("stream", ctl.where),
                ("length", found.length),
                ("first id", found.first_id),
                ("last id", found.last_id),
                ("entries added", found.entries_added),
                ("memory", output.size(found.memory_bytes)),
                ("dead letters", f"{found.dead_letters} ({dead_streams})"),
            ]
        )
    ]
    if ctl.partitioned:
        parts = [
            (
                p.partition,
                p.stream,
                p.length,
                p.last_id,
                output.size(p.memory_bytes),
                p.dead_letters,
            )
            for p in found.partitions
        ]
        sections.append(ctl.table(PARTITION_HEADERS, parts))
    if not found.groups:
        sections.append("(no consumer groups)")
    else:
        rows = [
            (
                g.partition,
                g.group.name,
                g.group.consumers,
                g.group.pending,
                g.group.last_delivered_id,
                output.unknown(g.group.entries_read),
                output.unknown(g.group.lag),
                format_ms(g.oldest_pending_age_ms),
                format_ms(g.oldest_pending_idle_ms),
            )
            for g in found.groups
        ]
        sections.append(ctl.table(GROUP_HEADERS, rows))
    return "\n\n".join(sections)


def _document(ctl: Ctl, found: StreamInfo) -> dict[str, Any]:
    return {
        "redis_url": mask_url(ctl.settings.redis_url),
        "stream": found.stream,
        "length": found.length,
        "first_id": found.first_id,
        "last_id": found.last_id,
        "last_generated_id": found.last_generated_id,
        "entries_added": found.entries_added,
        "memory_bytes": found.memory_bytes,
        "groups": [
            {
                "partition": g.partition,
                **output.jsonable(g.group),
                "oldest_pending_id": g.oldest_pending_id,
                "oldest_pending_age_ms": g.oldest_pending_age_ms,
                "oldest_pending_idle_ms": g.oldest_pending_idle_ms,
            }
            for g in found.groups
        ],
        "dead_letters": {"stream": found.dead_letter_stream, "length": found.dead_letters},
        "partitions": found.partitions,
    }
