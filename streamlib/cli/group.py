"""``streamctl group``: create, destroy or move a consumer group on every partition."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from ..constants import GROUP_START_ID
from ..groupinfo import GroupInfo, combined
from ..ops.groups import GroupChange, create_group, destroy_group, set_group_id
from ..ops.scope import require_one, with_group
from ..streamids import newest, oldest
from . import output
from .base import ENTRY_ID, Ctl, common_options


@click.group("group")
def group() -> None:
    """Create, destroy or move a consumer group."""


@group.command("create")
@common_options
@click.option(
    "--id",
    "start_id",
    default=GROUP_START_ID,
    show_default=True,
    help="Start after this id ($ = new only).",
)
@click.option("--mkstream/--no-mkstream", default=True, show_default=True)
def group_create(ctl: Ctl, start_id: str, mkstream: bool) -> None:
    """Create the group (where it exists already, it is left as it is)."""
    g = ctl.settings.group
    changes = create_group(
        ctl.client, ctl.settings, start_id=start_id, mkstream=mkstream, partition=ctl.partition
    )

    def line(c: GroupChange) -> str:
        if c.after is None:
            return f"no stream {c.stream}: group {g} not created"
        if c.created:
            return f"created group {g} on {c.stream} at {c.after.last_delivered_id}"
        return f"group {g} already exists (last delivered {c.after.last_delivered_id}); unchanged"

    document = {
        "stream": ctl.settings.stream,
        "created": any(c.created for c in changes),
        "group": _total(c.after for c in changes),
        "partitions": _rows(changes),
    }
    ctl.emit(document, lambda: ctl.lines([(c.partition, line(c)) for c in changes]))


@group.command("destroy")
@common_options
@click.option("--yes", is_flag=True, help="Don't ask for confirmation.")
def group_destroy(ctl: Ctl, yes: bool) -> None:
    """Destroy the group and its pending entries lists."""
    g = ctl.settings.group
    if not yes:
        now = combined([info for _, info in with_group(ctl.client, ctl.settings, ctl.partition)])
        click.confirm(
            f"Destroy group {g} on {ctl.where} ({now.consumers} consumers, {now.pending} pending)?",
            abort=True,
            err=True,
        )
    changes = destroy_group(ctl.client, ctl.settings, partition=ctl.partition)
    before = _total(c.before for c in changes)
    dropped = before.pending if before else 0
    ctl.emit(
        {"stream": ctl.settings.stream, "destroyed": before, "partitions": _rows(changes)},
        lambda: f"destroyed group {g} ({dropped} pending entries dropped)",
    )


@group.command("setid")
@common_options
@click.argument("start_id")
@click.option("--entries-read", type=click.IntRange(min=0), default=None)
@click.option("--yes", is_flag=True, help="Don't ask for confirmation.")
def group_setid(ctl: Ctl, start_id: str, entries_read: int | None, yes: bool) -> None:
    """Move the group's last-delivered id (entries after it are delivered next)."""
    g = ctl.settings.group
    if start_id != "$":
        start_id = ENTRY_ID.convert(start_id, None, None)
    if entries_read is not None:
        require_one(ctl.settings, ctl.partition, "--entries-read")
    if not yes:
        now = [
            info.last_delivered_id
            for _, info in with_group(ctl.client, ctl.settings, ctl.partition)
        ]
        first, last = oldest(now), newest(now)
        where = first if first == last else f"{first} .. {last}"
        click.confirm(f"Move group {g} from {where} to {start_id}?", abort=True, err=True)
    changes = set_group_id(
        ctl.client, ctl.settings, start_id, entries_read=entries_read, partition=ctl.partition
    )
    document = {
        "stream": ctl.settings.stream,
        "before": _total(c.before for c in changes),
        "after": _total(c.after for c in changes),
        "partitions": _rows(changes),
    }
    lines = [(c.partition, f"moved group {g}: {_id(c.before)} -> {_id(c.after)}") for c in changes]
    ctl.emit(document, lambda: ctl.lines(lines))


def _total(infos: Any) -> GroupInfo | None:
    """The group summed over the partitions that have it (``None``: none has)."""
    present: Sequence[GroupInfo] = [i for i in infos if i is not None]
    return combined(present) if present else None


def _id(info: GroupInfo | None) -> str:
    return info.last_delivered_id if info else "-"


def _rows(changes: Sequence[GroupChange]) -> list[dict[str, Any]]:
    return [{**output.jsonable(c), "created": c.created} for c in changes]
