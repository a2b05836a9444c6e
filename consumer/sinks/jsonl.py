"""JSON-lines sink: one line per record, appended, for piping into other tools.

At-least-once, not effectively-once: a redelivered entry (a replica killed
between write and acknowledgement) is appended again, so a line can repeat;
deduplicate downstream on ``key``. Each batch is one ``write()`` on a file
opened with ``O_APPEND`` and then fsynced, so replicas sharing a local file
never interleave inside a line, and ``store`` returns only once it is on disk.

A failed write or fsync (disk full, I/O error) is an ``OutageError``: the
consumer holds the batch and writes it again once the disk takes it. A write
cut short leaves a partial line; the next batch starts with a line break, so
that fragment stays one unparsable line of its own and never spoils a record.
"""

from __future__ import annotations

import json
import operator
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from streamlib import ConfigError, OutageError

from ..records import AUTHOR, QUOTE, Author, Item, Quote

#: ``json.dumps(doc, ensure_ascii=False)``'s output, without a new encoder per call.
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode


def _data_fields(
    cls: type[Quote | Author],
) -> tuple[tuple[str, ...], operator.attrgetter[tuple[object, ...]]]:
    names = tuple(f for f in cls._fields if f not in ("key", "stream_id"))
    return names, operator.attrgetter(*names)


#: Per record type: the fields under ``data`` (in declaration order), and their getter.
_DATA = {QUOTE: _data_fields(Quote), AUTHOR: _data_fields(Author)}


class JsonLinesSink:
    """Appends ``{"type", "key", "stream_id", "stored_at", "data"}`` lines.

    Records of types other than quote and author carry their ``data`` as it came.
    """

    def __init__(self, path: str) -> None:
        if not path:
            raise ConfigError("the jsonl sink needs a path: jsonl:quotes.jsonl")
        self.path = path
        self.description = f"jsonl:{path}"
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise ConfigError(f"can't open {path!r} for appending: {exc}") from None
        self._torn = False  # a write was cut short: the file ends inside a line

    def store(
        self, quotes: Sequence[Quote], authors: Sequence[Author], items: Sequence[Item] = ()
    ) -> None:
        """Append the batch in one write and fsync it."""
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        lines = [_line(QUOTE, q, now) for q in quotes] + [_line(AUTHOR, a, now) for a in authors]
        lines += [_item_line(i, now) for i in items]
        if not lines:
            return
        payload = "".join(lines).encode("utf-8")
        if self._torn:
            payload = b"\n" + payload
        view = memoryview(payload)
        try:
            while view:  # a regular file takes it in one write, unless the disk is full
                written = os.write(self._fd, view)
                view = view[written:]
                self._torn = bool(view)
            os.fsync(self._fd)
        except OSError as exc:
            raise OutageError(f"JSON lines file {self.path!r}: {exc}") from exc

    def close(self) -> None:
        """Close the file."""
        os.close(self._fd)


def _item_line(item: Item, stored_at: str) -> str:
    doc = {
        "type": item.type,
        "key": item.key,
        "stream_id": item.stream_id,
        "stored_at": stored_at,
        "data": item.data,
    }
    return _ENCODE(doc) + "\n"


def _line(kind: str, record: Quote | Author, stored_at: str) -> str:
    names, values = _DATA[kind]
    doc = {
        "type": kind,
        "key": record.key,
        "stream_id": record.stream_id,
        "stored_at": stored_at,
        "data": dict(zip(names, values(record), strict=True)),  # tags: a tuple, a JSON array
    }
    return _ENCODE(doc) + "\n"
