"""Stream entry ids (``<ms>-<seq>``) as comparable values."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from .errors import ConfigError

_MAX_SEQ = 2**64 - 1


class StreamId(NamedTuple):
    """An entry id; tuples compare in stream order."""

    ms: int
    seq: int

    @classmethod
    def parse(cls, value: bytes | str) -> StreamId:
        """``StreamId`` from ``"1700000000000-3"`` (or bytes); ``ConfigError`` if malformed."""
        text = value.decode() if isinstance(value, bytes) else value
        ms, sep, seq = text.strip().partition("-")
        try:
            parsed = cls(int(ms), int(seq) if sep else 0)
        except ValueError:
            raise ConfigError(f"invalid stream id {text!r}: expected <ms>-<seq>") from None
        if parsed.ms < 0 or not 0 <= parsed.seq <= _MAX_SEQ:
            raise ConfigError(f"invalid stream id {text!r}")
        return parsed

    def successor(self) -> StreamId:
        """The smallest id greater than this one."""
        if self.seq == _MAX_SEQ:
            return StreamId(self.ms + 1, 0)
        return StreamId(self.ms, self.seq + 1)

    def __str__(self) -> str:
        return f"{self.ms}-{self.seq}"


ZERO = StreamId(0, 0)


def oldest(ids: Iterable[str | bytes | None]) -> str | None:
    """The smallest of ``ids`` in stream order (``None``s skipped; ``None`` if none is left)."""
    known = [StreamId.parse(i) for i in ids if i is not None]
    return str(min(known)) if known else None


def newest(ids: Iterable[str | bytes | None]) -> str | None:
    """The largest of ``ids`` in stream order (``None``s skipped; ``None`` if none is left)."""
    known = [StreamId.parse(i) for i in ids if i is not None]
    return str(max(known)) if known else None
