"""Operations on the dead-letter stream: list, show, replay, purge.

Replay puts a dead letter's original fields back on the main stream (a new
id, the same ``key``) and deletes the dead letter only after that XADD
succeeded. A crash in between leaves both: the entry is then processed and
still listed as dead, which idempotent sinks (upsert on ``key``) absorb; it
never loses one.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Iterator
from typing import cast

import redis

from .deadletter import DeadLetter, parse_dead_letter
from .streamids import StreamId

log = logging.getLogger(__name__)

_PAGE = 500

RawEntry = tuple[bytes, dict[bytes, bytes]]


def iter_dead_letters(client: redis.Redis, dead_stream: str) -> Iterator[DeadLetter]:
    """Every dead letter, oldest first (a missing stream has none)."""
    start = "-"
    while True:
        rows = cast(list[RawEntry], client.xrange(dead_stream, start, "+", count=_PAGE))
        for entry_id, fields in rows:
            yield parse_dead_letter(entry_id, fields)
        if len(rows) < _PAGE:
            return
        start = "(" + rows[-1][0].decode()


def list_dead_letters(client: redis.Redis, dead_stream: str, *, count: int) -> list[DeadLetter]:
    """Up to ``count`` dead letters, oldest first."""
    rows = cast(list[RawEntry], client.xrange(dead_stream, "-", "+", count=count))
    return [parse_dead_letter(entry_id, fields) for entry_id, fields in rows]


def get_dead_letter(client: redis.Redis, dead_stream: str, entry_id: str) -> DeadLetter | None:
    """The dead letter with id ``entry_id`` (its id on the dead-letter stream)."""
    StreamId.parse(entry_id)  # ConfigError for a malformed id
    rows = cast(list[RawEntry], client.xrange(dead_stream, entry_id, entry_id, count=1))
    return parse_dead_letter(rows[0][0], rows[0][1]) if rows else None


@dataclasses.dataclass(frozen=True)
class Replayed:
    """A dead letter put back on the main stream."""

    dead_id: str
    orig_id: str
    new_id: str
    key: str | None


def replay(client: redis.Redis, dead_stream: str, target: str, letter: DeadLetter) -> Replayed:
    """XADD the original fields to ``target``, then XDEL the dead letter."""
    if not letter.fields:
        raise ValueError(f"dead letter {letter.id} carries no original fields")
    new_id = client.xadd(target, letter.fields)  # type: ignore[arg-type]
    new = new_id.decode() if isinstance(new_id, bytes) else str(new_id)
    client.xdel(dead_stream, letter.id)
    raw_key = letter.fields.get(b"key")
    key = raw_key.decode("utf-8", "replace") if raw_key is not None else None
    log.info("replayed dead letter %s (was %s) as %s on %s", letter.id, letter.orig_id, new, target)
    return Replayed(letter.id, letter.orig_id, new, key)


def replay_many(
    client: redis.Redis, dead_stream: str, target: str, letters: Iterable[DeadLetter]
) -> list[Replayed]:
    """Replay each letter in order; stops at the first failure (raised)."""
    return [replay(client, dead_stream, target, letter) for letter in letters]


def purge(client: redis.Redis, dead_stream: str, *, up_to: str) -> int:
    """Delete the dead letters with ids up to ``up_to`` (inclusive); returns how many.

    Bounded by the newest id the operator saw, so a dead letter that arrives
    while they confirm is kept.
    """
    threshold = StreamId.parse(up_to).successor()
    removed = int(client.xtrim(dead_stream, minid=str(threshold), approximate=False))
    log.warning("purged %d dead letters from %s", removed, dead_stream)
    return removed
