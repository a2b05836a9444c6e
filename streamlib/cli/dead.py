"""``streamctl dead``: list, show, replay and purge dead letters.

Each partition has its own dead-letter stream, and an id alone can repeat
across them: ``show`` and ``replay`` take ``N/ID`` (partition ``N``), or an
``ID`` with ``--partition N``, or a bare ``ID``, which is looked up on every
partition and refused (exit 1) if more than one holds it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import click

from ..errors import ConfigError
from ..ops import deadletters as ops
from ..ops.deadletters import PartitionDeadLetter
from ..ops.scope import covered
from ..streamids import StreamId
from . import output
from .base import EXIT_NOT_FOUND, CommandError, Ctl, NotFoundError, common_options


class DeadRef(NamedTuple):
    """A dead letter as typed: ``N/ID`` or ``ID`` (``partition`` is then ``None``)."""

    partition: int | None
    id: str
    typed: str


class DeadLetterRef(click.ParamType[DeadRef, Any]):
    """``N/ID`` (the dead letter ``ID`` of partition ``N``) or ``ID``."""

    name = "[N/]id"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> DeadRef:
        if isinstance(value, DeadRef):
            return value
        typed = str(value)
        head, sep, tail = typed.partition("/")
        try:
            partition = int(head) if sep else None
            entry_id = str(StreamId.parse(tail if sep else head))
        except (ValueError, ConfigError):
            self.fail(f"invalid dead-letter id {typed!r}: expected <ms>-<seq> or N/<ms>-<seq>")
        if partition is not None and partition < 0:
            self.fail(f"invalid partition in {typed!r}")
        return DeadRef(partition, entry_id, typed)


DEAD_REF = DeadLetterRef()


@click.group()
def dead() -> None:
    """The dead-letter streams: list, show, replay, purge."""


@dead.command("list")
@common_options
@click.option("--count", type=click.IntRange(min=1), default=100, show_default=True)
def dead_list(ctl: Ctl, count: int) -> None:
    """Dead letters, oldest first, with reasons and delivery counts."""
    found = ops.dead_letters(ctl.client, ctl.settings, count=count, partition=ctl.partition)
    rows = [
        (
            d.partition,
            d.letter.id,
            d.letter.orig_id,
            d.letter.consumer,
            d.letter.deliveries,
            output.timestamp(d.letter.dead_at),
            d.letter.reason,
        )
        for d in found.letters
    ]

    def render() -> str:
        where = output.span([p.stream for p in found.partitions])
        head = f"{found.length} dead letters in {where}"
        if len(rows) < found.length:
            head += f" (showing {len(rows)})"
        if not rows:
            return head
        headers = ("ID", "ORIG-ID", "CONSUMER", "DELIVERIES", "DEAD-AT", "REASON")
        return head + "\n\n" + ctl.table(headers, rows)

    ctl.emit(
        {
            "stream": found.stream,
            "length": found.length,
            "dead_letters": [_summary(d) for d in found.letters],
            "partitions": found.partitions,
        },
        render,
    )


@dead.command("show")
@common_options
@click.argument("ref", type=DEAD_REF)
def dead_show(ctl: Ctl, ref: DeadRef) -> None:
    """One dead letter with its original fields (ID, or N/ID on partition N)."""
    found = _locate(ctl, ref)
    if found is None:
        streams = [p.dead_letters for p in covered(ctl.settings, _partition(ctl, ref))]
        raise NotFoundError(f"no dead letter {ref.typed} in {output.span(streams)}")
    letter = found.letter
    fields = {output.text(k): output.text(v) for k, v in letter.fields.items()}

    def render() -> str:
        head = output.pairs(
            [
                ("id", ctl.ref(found.partition, letter.id)),
                ("orig id", letter.orig_id),
                ("orig stream", letter.orig_stream),
                ("group", letter.group),
                ("consumer", letter.consumer),
                ("deliveries", letter.deliveries),
                ("dead at", output.timestamp(letter.dead_at)),
                ("reason", letter.reason),
            ]
        )
        body = output.pairs([(f"  {k}", v) for k, v in fields.items()])
        return f"{head}\nfields\n{body}"

    ctl.emit({"stream": found.stream, **_summary(found), "fields": fields}, render)


@dead.command("replay")
@common_options
@click.argument("refs", nargs=-1, type=DEAD_REF)
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead letter.")
def dead_replay(ctl: Ctl, refs: tuple[DeadRef, ...], replay_all: bool) -> None:
    """Put dead letters back on their partition's stream (new id, same key), then delete them."""
    if replay_all == bool(refs):
        raise CommandError("give dead-letter ids or --all (not both)")
    s = ctl.settings
    missing: list[str] = []
    if replay_all:
        letters = ops.all_dead_letters(ctl.client, s, partition=ctl.partition)
    else:
        letters = []
        for ref in refs:  # every id resolved (or refused) before anything is replayed
            found = _locate(ctl, ref)
            if found is None:
                missing.append(ref.typed)
            else:
                letters.append(found)
    done = ops.replay(ctl.client, s, letters)

    def render() -> str:
        lines = [f"replayed {len(done)} dead letters onto {ctl.where}"]
        if done:
            rows = [(r.partition, r.dead_id, r.orig_id, r.new_id, r.key) for r in done]
            lines.append(ctl.table(("DEAD-ID", "ORIG-ID", "NEW-ID", "KEY"), rows))
        if missing:
            lines.append("not found: " + ", ".join(missing))
        return "\n".join(lines)

    ctl.emit(
        {
            "stream": s.stream,
            "dead_letter_stream": s.dead_letters,
            "replayed": done,
            "missing": missing,
        },
        render,
    )
    if missing:
        click.get_current_context().exit(EXIT_NOT_FOUND)


@dead.command("purge")
@common_options
@click.option("--yes", is_flag=True, help="Don't ask for confirmation.")
def dead_purge(ctl: Ctl, yes: bool) -> None:
    """Delete the dead letters (those present when asked; later ones are kept)."""
    plan = ops.plan_purge(ctl.client, ctl.settings, partition=ctl.partition)
    where = output.span([t.stream for t in plan.targets])
    if all(t.up_to is None for t in plan.targets):
        ctl.emit({"stream": plan.stream, "removed": 0}, lambda: f"no dead letters in {where}")
        return
    if not yes:
        click.confirm(f"Delete {plan.length} dead letters from {where}?", abort=True, err=True)
    removed = ops.purge(ctl.client, plan)
    ctl.emit({"stream": plan.stream, "removed": removed}, lambda: f"deleted {removed} dead letters")


def _partition(ctl: Ctl, ref: DeadRef) -> int | None:
    """The partition to look in: the ref's, else ``--partition``'s, else every one."""
    if ref.partition is None:
        return ctl.partition
    if ctl.partition not in (None, ref.partition):
        raise CommandError(f"{ref.typed} names partition {ref.partition}, not {ctl.partition}")
    return ref.partition


def _locate(ctl: Ctl, ref: DeadRef) -> PartitionDeadLetter | None:
    """The dead letter ``ref`` names; ``CommandError`` if it is on several partitions."""
    found = ops.find_dead_letter(ctl.client, ctl.settings, ref.id, partition=_partition(ctl, ref))
    if len(found) > 1:
        refs = ", ".join(output.ref(d.partition, d.letter.id, partitioned=True) for d in found)
        raise CommandError(
            f"dead letter {ref.id} is on {len(found)} partitions ({refs}): "
            "give one of these or --partition N"
        )
    return found[0] if found else None


def _summary(d: PartitionDeadLetter) -> dict[str, Any]:
    return {"partition": d.partition, **output.dead_letter_summary(d.letter)}
