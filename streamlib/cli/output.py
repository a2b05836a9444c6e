"""Output of ``streamctl``: aligned text tables, and values made JSON-safe.

Rows that belong to a partition carry its index first. On a stream of more
than one partition the tables show it in a PARTITION column and ids are
written ``N/ID`` where a table can't say the partition; on a plain stream
both are left out, so its output is the same as it always was.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..deadletter import DeadLetter
from ..streamids import StreamId

PARTITION = "PARTITION"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain left-aligned table; ``None`` cells print as ``-``."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = [headers, *cells]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def partition_table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], *, partitioned: bool
) -> str:
    """``table`` of rows whose first cell is a partition: a PARTITION column, or none."""
    if partitioned:
        return table([PARTITION, *headers], rows)
    return table(headers, [row[1:] for row in rows])


def ref(partition: int, entry_id: str, *, partitioned: bool) -> str:
    """An entry id that names its partition when there are several: ``N/ID``, else ``ID``."""
    return f"{partition}/{entry_id}" if partitioned else entry_id


def span(names: Sequence[str]) -> str:
    """One name, or the first and the last of several (``{s:0}:dead .. {s:3}:dead``)."""
    return names[0] if len(names) == 1 else f"{names[0]} .. {names[-1]}"


def pairs(items: Sequence[tuple[str, object]]) -> str:
    """``name  value`` lines, names aligned."""
    width = max((len(k) for k, _ in items), default=0)
    return "\n".join(f"{k.ljust(width)}  {_cell(v)}".rstrip() for k, v in items)


def _cell(value: object) -> str:
    return "-" if value is None else str(value)


def unknown(value: int | None) -> object:
    """A count Redis can't always give: ``unknown`` in tables, never 0."""
    return "unknown" if value is None else value


def size(nbytes: int | None) -> str:
    """``512 B``, ``12.5 KiB``, ``3.1 MiB``."""
    if nbytes is None:
        return "unknown"
    value = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{nbytes} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{nbytes} B"  # pragma: no cover - loop always returns


def timestamp(ms: int | None) -> str:
    """An epoch-ms time as ISO 8601 UTC, to the second."""
    if not ms:
        return "-"
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def text(raw: bytes) -> str:
    """Bytes from Redis as text; invalid UTF-8 shows as ``\\xNN`` escapes."""
    return raw.decode("utf-8", "backslashreplace")


def jsonable(value: Any) -> Any:
    """``value`` with dataclasses, ids and bytes turned into JSON types."""
    if isinstance(value, StreamId):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, bytes):
        return text(value)
    if isinstance(value, Mapping):
        return {text(k) if isinstance(k, bytes) else str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def dumps(document: Any) -> str:
    """The one JSON document a ``--json`` command prints."""
    return json.dumps(jsonable(document), indent=2, ensure_ascii=False)


def dead_letter_summary(d: DeadLetter) -> dict[str, Any]:
    """A dead letter's provenance as a JSON-ready dict (its original fields left out)."""
    return {
        "id": d.id,
        "orig_id": d.orig_id,
        "orig_stream": d.orig_stream,
        "group": d.group,
        "consumer": d.consumer,
        "deliveries": d.deliveries,
        "reason": d.reason,
        "dead_at": d.dead_at,
    }


@dataclasses.dataclass(frozen=True)
class Column:
    """A column of fixed width: numbers right-aligned, text left-aligned."""

    header: str
    width: int
    right: bool = True


def fixed_table(columns: Sequence[Column], rows: Sequence[Sequence[object]]) -> list[str]:
    """Lines of cells in fixed-width columns, one space apart, a long cell cut with ``…``.

    Fixed widths keep a table that is redrawn every second from jumping about.
    """

    def fit(value: object, column: Column) -> str:
        cell = _cell(value)
        if len(cell) > column.width:
            cell = cell[: column.width - 1] + "…"
        return cell.rjust(column.width) if column.right else cell.ljust(column.width)

    return [
        " ".join(fit(v, c) for v, c in zip(line, columns, strict=True)).rstrip()
        for line in [[c.header for c in columns], *rows]
    ]


def compact(value: float | None, *, decimals: int = 0, width: int = 7) -> str:
    """A number in ``width`` characters if it can be: exact, else ``12.3k``, ``4.5M``, ``6.7G``."""
    if value is None:
        return "-"
    text = f"{value:.{decimals}f}"
    for suffix, divisor in (("k", 1e3), ("M", 1e6), ("G", 1e9)):
        if len(text) <= width:
            break
        text = f"{value / divisor:.1f}{suffix}"
    return text
