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
from json.encoder import encode_basestring
from pathlib import Path

from streamlib import ConfigError, OutageError

from ..records import AUTHOR, QUOTE, Author, Item, Quote
from .sql import tags_json

#: ``json.dumps(doc, ensure_ascii=False)``'s output, without a new encoder per call.
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode


class _Template:
    """The line of a quote or an author, as ``_ENCODE`` writes its document, at half the cost.

    The document's keys and their order are the same for every record of a
    type, and its values are strings, ``None`` or tags: the line is a format
    string with a ``%s`` per value, each value escaped by the C function
    ``json.dumps`` uses for strings (``encode_basestring``), its tags by
    ``sql.tags_json``, ``None`` as ``null``.
    """

    def __init__(self, kind: str, cls: type[Quote | Author]) -> None:
        names = tuple(f for f in cls._fields if f not in ("key", "stream_id"))
        self.values = operator.attrgetter(*names)
        data = ", ".join(f"{encode_basestring(name)}: %s" for name in names)
        self.format = (
            f'{{"type": {encode_basestring(kind)}, "key": %s, "stream_id": %s, '
            f'"stored_at": %s, "data": {{{data}}}}}\n'
        )

    def line(self, record: Quote | Author, stored_at: str) -> str:
        """``record``'s line; ``stored_at`` as JSON already."""
        data = [_value(v) for v in self.values(record)]
        return self.format % (
            encode_basestring(record.key),
            encode_basestring(record.stream_id),
            stored_at,
            *data,
        )


def _value(value: str | tuple[str, ...] | None) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return encode_basestring(value)
    return tags_json(value)


_QUOTE = _Template(QUOTE, Quote)
_AUTHOR = _Template(AUTHOR, Author)


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
        stored_at = encode_basestring(now)
        lines = [_QUOTE.line(q, stored_at) for q in quotes]
        lines += [_AUTHOR.line(a, stored_at) for a in authors]
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
