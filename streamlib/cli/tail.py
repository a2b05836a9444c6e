"""``streamctl tail``: the newest entries, decoded; ``--follow`` for new ones."""

from __future__ import annotations

import json
from typing import Any

import click

from ..codec import decode
from ..errors import DecodeError
from ..ops.tail import TailEntry, follow
from ..ops.tail import tail as newest
from . import output
from .base import Ctl, common_options


@click.command()
@common_options
@click.option("--count", type=click.IntRange(min=0), default=10, show_default=True)
@click.option(
    "--follow", "-f", "following", is_flag=True, help="Keep printing new entries (Ctrl-C stops)."
)
def tail(ctl: Ctl, count: int, following: bool) -> None:
    """The newest entries, decoded (XREVRANGE / XREAD: never joins the group)."""
    found = newest(ctl.client, ctl.settings, count=count, partition=ctl.partition)
    docs = [_document(e) for e in found.entries]
    if not following:
        ctl.emit(
            {"stream": ctl.settings.stream, "entries": docs},
            lambda: "\n".join(_line(ctl, d) for d in docs) or "(no entries)",
        )
        return
    try:
        for doc in docs:
            _print(ctl, doc)
        for entry in follow(ctl.client, found.positions, block_ms=1_000):
            _print(ctl, _document(entry))
    except KeyboardInterrupt:
        return


def _document(entry: TailEntry) -> dict[str, Any]:
    try:
        env = decode(entry.fields)
    except DecodeError as exc:
        raw = {output.text(k): output.text(v) for k, v in entry.fields.items()}
        return {"partition": entry.partition, "id": entry.id, "error": exc.reason, "fields": raw}
    return {
        "partition": entry.partition,
        "id": entry.id,
        "type": env.type,
        "key": env.key,
        "ts": env.ts,
        "data": dict(env.data),
    }


def _line(ctl: Ctl, doc: dict[str, Any]) -> str:
    entry_id = ctl.ref(doc["partition"], doc["id"])
    if "error" in doc:
        fields = json.dumps(doc["fields"], ensure_ascii=False)
        return f"{entry_id}  !poison ({doc['error']})  {fields}"
    data = json.dumps(doc["data"], ensure_ascii=False)
    return f"{entry_id}  {doc['type']}  {doc['key'][:12]}  {data}"


def _print(ctl: Ctl, doc: dict[str, Any]) -> None:
    if ctl.as_json:
        click.echo(json.dumps(output.jsonable(doc), ensure_ascii=False))
    else:
        click.echo(_line(ctl, doc))
