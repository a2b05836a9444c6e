"""``streamctl``: inspect and repair a stream and its consumer groups.

Exit codes: 0 ok, 1 usage or bad input (or a refused / unconfirmed action),
2 Redis unreachable or credentials refused, 3 stream, group or dead letter not
found. With ``--json`` a command prints exactly one JSON document on stdout
(``tail --follow``: one per line); errors go to stderr. The Redis password
never appears in output or errors.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any, NoReturn, cast

import click

from . import admin, cli_acl, cli_partitioned, clifmt, deadletter_ops, retention
from .clibase import (
    DURATION,
    ENTRY_ID,
    EXIT_NOT_FOUND,
    EXIT_OK,
    CommandError,
    Ctl,
    NotFoundError,
    StreamctlGroup,
    common_options,
)
from .codec import decode
from .connection import mask_url
from .durations import format_ms
from .errors import DecodeError
from .streamids import StreamId


@click.group(cls=StreamctlGroup)
@click.version_option(package_name="quotestream", prog_name="streamctl")
def cli() -> None:
    """See and repair a Redis Streams pipeline (like kafka-consumer-groups).

    Exit codes: 0 ok, 1 usage or bad input, 2 Redis unreachable,
    3 stream or group not found.
    """


def main() -> NoReturn:
    """Console-script entry point."""
    logging.basicConfig(level=logging.WARNING, format="streamctl: %(message)s")
    cli.main(prog_name="streamctl")
    raise SystemExit(EXIT_OK)  # pragma: no cover - main() always exits


# -- info -----------------------------------------------------------------------------


def _lag(value: int | None) -> str:
    return "unknown" if value is None else str(value)


@cli.command()
@common_options
def info(ctl: Ctl) -> None:
    """Stream length, ids, memory; per group: consumers, pending, lag; dead letters."""
    if ctl.across_partitions:
        cli_partitioned.info(ctl)
        return
    s = ctl.settings
    summary = admin.stream_info(ctl.client, s.stream, s.dead_letters)

    def render() -> str:
        head = clifmt.pairs(
            [
                ("redis", mask_url(s.redis_url)),
                ("stream", summary.stream),
                ("length", summary.length),
                ("first id", summary.first_id),
                ("last id", summary.last_id),
                ("entries added", summary.entries_added),
                ("memory", clifmt.size(summary.memory_bytes)),
                ("dead letters", f"{summary.dead_letters} ({summary.dead_letter_stream})"),
            ]
        )
        if not summary.groups:
            return head + "\n\n(no consumer groups)"
        rows = [
            (
                g.group.name,
                g.group.consumers,
                g.group.pending,
                g.group.last_delivered_id,
                "unknown" if g.group.entries_read is None else g.group.entries_read,
                _lag(g.group.lag),
                format_ms(g.oldest_pending_age_ms),
                format_ms(g.oldest_pending_idle_ms),
            )
            for g in summary.groups
        ]
        headers = (
            "GROUP",
            "CONSUMERS",
            "PENDING",
            "LAST-DELIVERED",
            "ENTRIES-READ",
            "LAG",
            "OLDEST-PENDING-AGE",
            "OLDEST-PENDING-IDLE",
        )
        return head + "\n\n" + clifmt.table(headers, rows)

    document = {
        "redis_url": mask_url(s.redis_url),
        "stream": summary.stream,
        "length": summary.length,
        "first_id": summary.first_id,
        "last_id": summary.last_id,
        "last_generated_id": summary.last_generated_id,
        "entries_added": summary.entries_added,
        "memory_bytes": summary.memory_bytes,
        "groups": [
            {
                **clifmt.jsonable(g.group),
                "oldest_pending_id": g.oldest_pending_id,
                "oldest_pending_age_ms": g.oldest_pending_age_ms,
                "oldest_pending_idle_ms": g.oldest_pending_idle_ms,
            }
            for g in summary.groups
        ],
        "dead_letters": {"stream": summary.dead_letter_stream, "length": summary.dead_letters},
    }
    ctl.emit(document, render)


# -- pending --------------------------------------------------------------------------


@cli.command()
@common_options
@click.option("--details", is_flag=True, help="List entries (implied by the filters below).")
@click.option("--count", type=click.IntRange(min=1), default=None, help="At most N entries [100].")
@click.option("--min-idle", type=DURATION, default=None, help="Only entries idle this long.")
@click.option("--consumer", default=None, help="Only this consumer's entries.")
def pending(
    ctl: Ctl, details: bool, count: int | None, min_idle: int | None, consumer: str | None
) -> None:
    """The group's pending entries: per consumer, or each entry with --details."""
    if ctl.across_partitions:
        cli_partitioned.pending(ctl, details, count, min_idle, consumer)
        return
    s = ctl.settings
    if details or count is not None or min_idle is not None or consumer is not None:
        entries = admin.pending_entries(
            ctl.client,
            s.stream,
            s.group,
            count=count or 100,
            min_idle_ms=min_idle,
            consumer=consumer,
        )
        rows = [(e.id, e.consumer, format_ms(e.idle_ms), e.deliveries) for e in entries]
        ctl.emit(
            {"stream": s.stream, "group": s.group, "entries": entries},
            lambda: (
                clifmt.table(("ID", "CONSUMER", "IDLE", "DELIVERIES"), rows)
                if rows
                else "(no pending entries match)"
            ),
        )
        return
    summary = admin.pending_summary(ctl.client, s.stream, s.group)

    def render() -> str:
        head = f"group {summary.group}: {summary.pending} pending"
        if summary.pending:
            head += f" (ids {summary.min_id} .. {summary.max_id})"
        rows = [
            (c.consumer, c.pending, c.oldest_id, format_ms(c.oldest_idle_ms), c.oldest_deliveries)
            for c in summary.consumers
        ]
        if not rows:
            return head
        headers = ("CONSUMER", "PENDING", "OLDEST-ID", "OLDEST-IDLE", "DELIVERIES")
        return head + "\n\n" + clifmt.table(headers, rows)

    ctl.emit({"stream": s.stream, **clifmt.jsonable(summary)}, render)


# -- consumers ------------------------------------------------------------------------


@cli.group(invoke_without_command=True)
@common_options
def consumers(ctl: Ctl) -> None:
    """The group's consumers: name, pending, idle, inactive (and `prune`)."""
    if click.get_current_context().invoked_subcommand is not None:
        return
    s = ctl.settings
    found = admin.consumers(ctl.client, s.stream, s.group)
    rows = [(c.name, c.pending, format_ms(c.idle_ms), format_ms(c.inactive_ms)) for c in found]
    ctl.emit(
        {"stream": s.stream, "group": s.group, "consumers": found},
        lambda: (
            clifmt.table(("CONSUMER", "PENDING", "IDLE", "INACTIVE"), rows)
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
    decisions = admin.prune_consumers(
        ctl.client, s.stream, s.group, idle_ms=idle_ms, dry_run=dry_run
    )
    rows = [(d.name, d.pending, format_ms(d.idle_ms), d.action, d.reason) for d in decisions]
    ctl.emit(
        {
            "stream": s.stream,
            "group": s.group,
            "idle_ms": idle_ms,
            "dry_run": dry_run,
            "consumers": decisions,
        },
        lambda: (
            clifmt.table(("CONSUMER", "PENDING", "IDLE", "ACTION", "WHY"), rows)
            if rows
            else f"(group {s.group} has no consumers)"
        ),
    )


# -- reclaim --------------------------------------------------------------------------


@cli.command()
@common_options
@click.option("--min-idle", type=DURATION, required=True, help="Ms (or 30s, 5m ...) idle.")
@click.option("--to", "to", default="streamctl", show_default=True, help="New owner.")
def reclaim(ctl: Ctl, min_idle: int, to: str) -> None:
    """XAUTOCLAIM every entry idle --min-idle or more to --to (delivery counts unchanged)."""
    s = ctl.settings
    result = admin.reclaim(ctl.client, s.stream, s.group, min_idle_ms=min_idle, to=to)

    def render() -> str:
        lines = [f"moved {len(result.moved)} entries to {result.to}"]
        if result.moved:
            rows = [(m.id, m.from_consumer, m.deliveries) for m in result.moved]
            lines.append(clifmt.table(("ID", "FROM", "DELIVERIES"), rows))
        if result.deleted:
            lines.append(
                f"dropped {len(result.deleted)} pending ids of deleted entries: "
                + ", ".join(result.deleted)
            )
        return "\n".join(lines)

    ctl.emit({"stream": s.stream, "group": s.group, **clifmt.jsonable(result)}, render)


# -- dead letters ---------------------------------------------------------------------


@cli.group()
def dead() -> None:
    """The dead-letter stream: list, show, replay, purge."""


@dead.command("list")
@common_options
@click.option("--count", type=click.IntRange(min=1), default=100, show_default=True)
def dead_list(ctl: Ctl, count: int) -> None:
    """Dead letters, oldest first, with reasons and delivery counts."""
    if ctl.across_partitions:
        cli_partitioned.dead_list(ctl, count)
        return
    dls = ctl.settings.dead_letters
    letters = deadletter_ops.list_dead_letters(ctl.client, dls, count=count)
    total = admin.stream_length(ctl.client, dls)
    rows = [
        (d.id, d.orig_id, d.consumer, d.deliveries, clifmt.timestamp(d.dead_at), d.reason)
        for d in letters
    ]

    def render() -> str:
        head = f"{total} dead letters in {dls}" + (
            f" (showing {len(letters)})" if len(letters) < total else ""
        )
        if not rows:
            return head
        headers = ("ID", "ORIG-ID", "CONSUMER", "DELIVERIES", "DEAD-AT", "REASON")
        return head + "\n\n" + clifmt.table(headers, rows)

    ctl.emit(
        {
            "stream": dls,
            "length": total,
            "dead_letters": [clifmt.dead_letter_summary(d) for d in letters],
        },
        render,
    )


@dead.command("show")
@common_options
@click.argument("entry_id", type=ENTRY_ID)
def dead_show(ctl: Ctl, entry_id: str) -> None:
    """One dead letter with its original fields."""
    dls = ctl.settings.dead_letters
    letter = deadletter_ops.get_dead_letter(ctl.client, dls, entry_id)
    if letter is None:
        raise NotFoundError(f"no dead letter {entry_id} in {dls}")
    fields = {clifmt.text(k): clifmt.text(v) for k, v in letter.fields.items()}

    def render() -> str:
        head = clifmt.pairs(
            [
                ("id", letter.id),
                ("orig id", letter.orig_id),
                ("orig stream", letter.orig_stream),
                ("group", letter.group),
                ("consumer", letter.consumer),
                ("deliveries", letter.deliveries),
                ("dead at", clifmt.timestamp(letter.dead_at)),
                ("reason", letter.reason),
            ]
        )
        body = clifmt.pairs([(f"  {k}", v) for k, v in fields.items()])
        return f"{head}\nfields\n{body}"

    ctl.emit({"stream": dls, **clifmt.dead_letter_summary(letter), "fields": fields}, render)


@dead.command("replay")
@common_options
@click.argument("entry_ids", nargs=-1, type=ENTRY_ID)
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead letter.")
def dead_replay(ctl: Ctl, entry_ids: tuple[str, ...], replay_all: bool) -> None:
    """Put dead letters back on the stream (new id, same key), then delete them."""
    if replay_all == bool(entry_ids):
        raise CommandError("give dead-letter ids or --all (not both)")
    s = ctl.settings
    dls = s.dead_letters
    missing: list[str] = []
    if replay_all:
        letters = list(deadletter_ops.iter_dead_letters(ctl.client, dls))
    else:
        letters = []
        for entry_id in entry_ids:
            found = deadletter_ops.get_dead_letter(ctl.client, dls, entry_id)
            if found is None:
                missing.append(entry_id)
            else:
                letters.append(found)
    done = deadletter_ops.replay_many(ctl.client, dls, s.stream, letters)

    def render() -> str:
        lines = [f"replayed {len(done)} dead letters onto {s.stream}"]
        if done:
            rows = [(r.dead_id, r.orig_id, r.new_id, r.key) for r in done]
            lines.append(clifmt.table(("DEAD-ID", "ORIG-ID", "NEW-ID", "KEY"), rows))
        if missing:
            lines.append("not found: " + ", ".join(missing))
        return "\n".join(lines)

    ctl.emit(
        {"stream": s.stream, "dead_letter_stream": dls, "replayed": done, "missing": missing},
        render,
    )
    if missing:
        ctx = click.get_current_context()
        ctx.exit(EXIT_NOT_FOUND)


@dead.command("purge")
@common_options
@click.option("--yes", is_flag=True, help="Don't ask for confirmation.")
def dead_purge(ctl: Ctl, yes: bool) -> None:
    """Delete the dead letters (those present when asked; later ones are kept)."""
    dls = ctl.settings.dead_letters
    newest = cast(list[admin.RawEntry], ctl.client.xrevrange(dls, "+", "-", count=1))
    if not newest:
        ctl.emit({"stream": dls, "removed": 0}, lambda: f"no dead letters in {dls}")
        return
    total = admin.stream_length(ctl.client, dls)
    if not yes:
        click.confirm(f"Delete {total} dead letters from {dls}?", abort=True, err=True)
    removed = deadletter_ops.purge(ctl.client, dls, up_to=clifmt.text(newest[0][0]))
    ctl.emit({"stream": dls, "removed": removed}, lambda: f"deleted {removed} dead letters")


# -- trim -----------------------------------------------------------------------------


@cli.command()
@common_options
@click.option("--acked", is_flag=True, help="Trim what every group has read and acked.")
@click.option("--dry-run", is_flag=True, help="Only count what would be removed.")
@click.option("--force", is_flag=True, help="With no group at all, remove every entry.")
def trim(ctl: Ctl, acked: bool, dry_run: bool, force: bool) -> None:
    """Safe retention: XTRIM MINID at the oldest entry any group still needs."""
    if not acked:
        raise CommandError("trim needs --acked (the only, safe, retention mode)")
    if ctl.across_partitions:
        try:
            cli_partitioned.trim(ctl, dry_run, force)
        except retention.NoGroups as exc:
            raise CommandError(str(exc)) from None
        return
    s = ctl.settings
    try:
        result = retention.trim_acked(ctl.client, s.stream, dry_run=dry_run, force=force)
    except retention.NoGroups as exc:
        raise CommandError(str(exc)) from None

    def render() -> str:
        verb = "would remove" if result.dry_run else "removed"
        lines = []
        if result.groups:
            rows = [
                (g.group, g.last_delivered_id, g.oldest_pending_id, g.needs_from)
                for g in result.groups
            ]
            headers = ("GROUP", "LAST-DELIVERED", "OLDEST-PENDING", "NEEDS-FROM")
            lines += [clifmt.table(headers, rows), ""]
        lines.append(
            f"{verb} {result.removed} of {result.length_before} entries"
            + (f" (ids below {result.threshold})" if result.threshold else "")
        )
        return "\n".join(lines)

    document = clifmt.jsonable(result)
    document["groups"] = [
        {**clifmt.jsonable(g), "needs_from": str(g.needs_from)} for g in result.groups
    ]
    ctl.emit(document, render)


# -- tail -----------------------------------------------------------------------------


def _entry_document(entry_id: bytes, fields: dict[bytes, bytes]) -> dict[str, Any]:
    try:
        env = decode(fields)
    except DecodeError as exc:
        raw = {clifmt.text(k): clifmt.text(v) for k, v in fields.items()}
        return {"id": clifmt.text(entry_id), "error": exc.reason, "fields": raw}
    return {
        "id": clifmt.text(entry_id),
        "type": env.type,
        "key": env.key,
        "ts": env.ts,
        "data": dict(env.data),
    }


def _entry_line(doc: dict[str, Any]) -> str:
    if "error" in doc:
        fields = json.dumps(doc["fields"], ensure_ascii=False)
        return f"{doc['id']}  !poison ({doc['error']})  {fields}"
    data = json.dumps(doc["data"], ensure_ascii=False)
    return f"{doc['id']}  {doc['type']}  {doc['key'][:12]}  {data}"


@cli.command()
@common_options
@click.option("--count", type=click.IntRange(min=0), default=10, show_default=True)
@click.option("--follow", "-f", is_flag=True, help="Keep printing new entries (Ctrl-C stops).")
def tail(ctl: Ctl, count: int, follow: bool) -> None:
    """The newest entries, decoded (XREVRANGE / XREAD: never joins the group)."""
    s = ctl.settings
    admin.require_stream(ctl.client, s.stream)
    after = clifmt.text(ctl.client.xinfo_stream(s.stream)["last-generated-id"])
    entries = admin.last_entries(ctl.client, s.stream, count) if count else []
    docs = [_entry_document(i, f) for i, f in entries]
    if entries and StreamId.parse(entries[-1][0]) > StreamId.parse(after):
        after = clifmt.text(entries[-1][0])
    if not follow:
        ctl.emit(
            {"stream": s.stream, "entries": docs},
            lambda: "\n".join(_entry_line(d) for d in docs) or "(no entries)",
        )
        return
    try:
        for doc in docs:
            _print_entry(ctl, doc)
        for entry_id, fields in _follow(ctl, after):
            _print_entry(ctl, _entry_document(entry_id, fields))
    except KeyboardInterrupt:
        return


def _print_entry(ctl: Ctl, doc: dict[str, Any]) -> None:
    if ctl.as_json:
        click.echo(json.dumps(clifmt.jsonable(doc), ensure_ascii=False))
    else:
        click.echo(_entry_line(doc))


def _follow(ctl: Ctl, after: str) -> Iterator[admin.RawEntry]:
    while True:
        for entry in admin.read_after(ctl.client, ctl.settings.stream, after, block_ms=1_000):
            after = clifmt.text(entry[0])
            yield entry


# -- group ----------------------------------------------------------------------------


@cli.group("group")
def group_cmd() -> None:
    """Create, destroy or move a consumer group."""


@group_cmd.command("create")
@common_options
@click.option(
    "--id", "start_id", default="0", show_default=True, help="Start after this id ($ = new only)."
)
@click.option("--mkstream/--no-mkstream", default=True, show_default=True)
def group_create(ctl: Ctl, start_id: str, mkstream: bool) -> None:
    """Create the group (an existing group is left as it is)."""
    s = ctl.settings
    created = admin.create_group(
        ctl.client, s.stream, s.group, start_id=start_id, mkstream=mkstream
    )
    info = admin.require_group(ctl.client, s.stream, s.group)
    message = (
        f"created group {s.group} on {s.stream} at {info.last_delivered_id}"
        if created
        else f"group {s.group} already exists (last delivered {info.last_delivered_id}); unchanged"
    )
    ctl.emit({"stream": s.stream, "created": created, "group": info}, lambda: message)


@group_cmd.command("destroy")
@common_options
@click.option("--yes", is_flag=True, help="Don't ask for confirmation.")
def group_destroy(ctl: Ctl, yes: bool) -> None:
    """Destroy the group and its pending entries list."""
    s = ctl.settings
    info = admin.require_group(ctl.client, s.stream, s.group)
    if not yes:
        click.confirm(
            f"Destroy group {s.group} on {s.stream} ({info.consumers} consumers, "
            f"{info.pending} pending)?",
            abort=True,
            err=True,
        )
    before = admin.destroy_group(ctl.client, s.stream, s.group)
    ctl.emit(
        {"stream": s.stream, "destroyed": before},
        lambda: f"destroyed group {s.group} ({before.pending} pending entries dropped)",
    )


@group_cmd.command("setid")
@common_options
@click.argument("start_id")
@click.option("--entries-read", type=click.IntRange(min=0), default=None)
@click.option("--yes", is_flag=True, help="Don't ask for confirmation.")
def group_setid(ctl: Ctl, start_id: str, entries_read: int | None, yes: bool) -> None:
    """Move the group's last-delivered id (entries after it are delivered next)."""
    s = ctl.settings
    if start_id != "$":
        start_id = ENTRY_ID.convert(start_id, None, None)
    info = admin.require_group(ctl.client, s.stream, s.group)
    if not yes:
        click.confirm(
            f"Move group {s.group} from {info.last_delivered_id} to {start_id}?",
            abort=True,
            err=True,
        )
    before, after = admin.set_group_id(
        ctl.client, s.stream, s.group, start_id, entries_read=entries_read
    )
    ctl.emit(
        {"stream": s.stream, "before": before, "after": after},
        lambda: f"moved group {s.group}: {before.last_delivered_id} -> {after.last_delivered_id}",
    )


cli.add_command(cli_acl.acl_group)
