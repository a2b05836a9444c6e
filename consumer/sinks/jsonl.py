"""JSON-lines sink: one line per record, appended, for piping into other tools.

At-least-once, not effectively-once: a redelivered entry (a replica killed
between write and acknowledgement) is appended again, so a line can repeat;
deduplicate downstream on ``key``. Each batch is one ``write()`` on a file
opened with ``O_APPEND`` and then fsynced, so replicas sharing a local file
never interleave inside a line, and ``store`` returns only once it is on disk.
"""

from __future__ import annotations

import dataclasses
import json
import operator
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from streamlib import ConfigError

from ..records import AUTHOR, QUOTE, Author, Item, Quote

#: ``json.dumps(doc, ensure_ascii=False)``'s output, without a new encoder per call.
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode


def _data_fields(cls: type) -> tuple[tuple[str, ...], operator.attrgetter[tuple[object, ...]]]:
    names = tuple(f.name for f in dataclasses.fields(cls) if f.name not in ("key", "stream_id"))
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
        view = memoryview(payload)
        while view:  # a regular file takes it in one write; loop for safety
            written = os.write(self._fd, view)
            view = view[written:]
        os.fsync(self._fd)

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
