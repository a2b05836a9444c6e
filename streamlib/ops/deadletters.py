"""Dead letters (``streamctl dead``): list, find, replay, purge, over every partition.

Each partition has its own dead-letter stream (``{S:i}:dead``; ``S:dead`` for
a plain stream), so a dead letter is named by its partition and its id: ids
alone can repeat across partitions. ``find_dead_letter`` returns every covered
partition that holds an id; the caller decides what an ambiguous id means.

Replay puts a dead letter's original fields back on its own partition's
stream (a new id, the same ``key``) and deletes the dead letter only after
that XADD succeeded. A crash in between leaves both: the entry is then
processed and still listed as dead, which idempotent sinks (upsert on
``key``) absorb; it never loses one.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import logging
from collections.abc import Iterable, Iterator
from typing import cast

import redis

from ..codec import RawEntry, field_map
from ..deadletter import DeadLetter, parse_dead_letter
from ..partitions import partition_stream
from ..replies import text
from ..settings import StreamSettings
from ..streamids import StreamId
from .scope import Partition, covered

log = logging.getLogger(__name__)

_PAGE = 500


@dataclasses.dataclass(frozen=True)
class PartitionDeadLetter:
    """A dead letter, its partition and the dead-letter stream it is on."""

    partition: int
    stream: str
    letter: DeadLetter


@dataclasses.dataclass(frozen=True)
class DeadLetterStream:
    """One partition's dead-letter stream and its length."""

    partition: int
    stream: str
    length: int


@dataclasses.dataclass(frozen=True)
class DeadLetterList:
    """Some dead letters (oldest first over all partitions) and every stream's length."""

    stream: str
    partitions: list[DeadLetterStream]
    letters: list[PartitionDeadLetter]

    @property
    def length(self) -> int:
        """Dead letters, all partitions."""
        return sum(p.length for p in self.partitions)


def iter_dead_letters(client: redis.Redis, p: Partition) -> Iterator[PartitionDeadLetter]:
    """Every dead letter of one partition, oldest first (a missing stream has none)."""
    start = "-"
    while True:
        rows = cast(list[RawEntry], client.xrange(p.dead_letters, start, "+", count=_PAGE))
        for entry_id, fields in rows:
            letter = parse_dead_letter(entry_id, field_map(fields))
            yield PartitionDeadLetter(p.index, p.dead_letters, letter)
        if len(rows) < _PAGE:
            return
        start = "(" + text(rows[-1][0])


def _merged(client: redis.Redis, parts: Iterable[Partition]) -> Iterator[PartitionDeadLetter]:
    scans = [iter_dead_letters(client, p) for p in parts]
    return heapq.merge(*scans, key=lambda d: (StreamId.parse(d.letter.id), d.partition))


def dead_letters(
    client: redis.Redis, settings: StreamSettings, *, count: int, partition: int | None = None
) -> DeadLetterList:
    """Up to ``count`` dead letters, oldest first over the covered partitions."""
    parts = covered(settings, partition)
    lengths = [
        DeadLetterStream(p.index, p.dead_letters, int(client.xlen(p.dead_letters))) for p in parts
    ]
    letters = list(itertools.islice(_merged(client, parts), count))
    return DeadLetterList(settings.dead_letters, lengths, letters)


def all_dead_letters(
    client: redis.Redis, settings: StreamSettings, *, partition: int | None = None
) -> list[PartitionDeadLetter]:
    """Every dead letter present now, oldest first over the covered partitions."""
    return list(_merged(client, covered(settings, partition)))


def find_dead_letter(
    client: redis.Redis, settings: StreamSettings, entry_id: str, *, partition: int | None = None
) -> list[PartitionDeadLetter]:
    """The dead letters with id ``entry_id`` on each covered partition (several: ambiguous)."""
    StreamId.parse(entry_id)  # ConfigError for a malformed id
    found: list[PartitionDeadLetter] = []
    for p in covered(settings, partition):
        rows = cast(list[RawEntry], client.xrange(p.dead_letters, entry_id, entry_id, count=1))
        found += [
            PartitionDeadLetter(p.index, p.dead_letters, parse_dead_letter(i, field_map(f)))
            for i, f in rows
        ]
    return found


@dataclasses.dataclass(frozen=True)
class Replayed:
    """A dead letter put back on its partition's stream."""

    partition: int
    dead_id: str
    orig_id: str
    new_id: str
    key: str | None


def replay(
    client: redis.Redis, settings: StreamSettings, letters: Iterable[PartitionDeadLetter]
) -> list[Replayed]:
    """For each letter in order: XADD its original fields to its partition, then XDEL it.

    Stops at the first failure (raised); the letters replayed before it stay replayed.
    """
    return [_replay_one(client, settings, d) for d in letters]


def _replay_one(client: redis.Redis, settings: StreamSettings, d: PartitionDeadLetter) -> Replayed:
    letter = d.letter
    if not letter.fields:
        raise ValueError(f"dead letter {letter.id} carries no original fields")
    target = partition_stream(settings.stream, d.partition, settings.partitions)
    new = text(client.xadd(target, letter.fields))  # type: ignore[arg-type]
    client.xdel(d.stream, letter.id)
    raw_key = letter.fields.get(b"key")
    key = raw_key.decode("utf-8", "replace") if raw_key is not None else None
    log.info("replayed dead letter %s (was %s) as %s on %s", letter.id, letter.orig_id, new, target)
    return Replayed(d.partition, letter.id, letter.orig_id, new, key)


@dataclasses.dataclass(frozen=True)
class PurgeTarget:
    """One dead-letter stream to purge: its length and newest id when planned."""

    partition: int
    stream: str
    length: int
    #: The newest dead letter when planned (``None``: there was none).
    up_to: str | None


@dataclasses.dataclass(frozen=True)
class PurgePlan:
    """The dead letters present when asked, partition by partition."""

    stream: str
    targets: list[PurgeTarget]

    @property
    def length(self) -> int:
        """Dead letters to delete, all partitions."""
        return sum(t.length for t in self.targets)


def plan_purge(
    client: redis.Redis, settings: StreamSettings, *, partition: int | None = None
) -> PurgePlan:
    """What ``purge`` would delete now: each covered dead-letter stream up to its newest id."""
    targets = []
    for p in covered(settings, partition):
        newest = cast(list[RawEntry], client.xrevrange(p.dead_letters, "+", "-", count=1))
        up_to = text(newest[0][0]) if newest else None
        targets.append(
            PurgeTarget(p.index, p.dead_letters, int(client.xlen(p.dead_letters)), up_to)
        )
    return PurgePlan(settings.dead_letters, targets)


def purge(client: redis.Redis, plan: PurgePlan) -> int:
    """Delete the planned dead letters; returns how many.

    Bounded by each stream's newest id when planned, so a dead letter that
    arrives while the operator confirms is kept.
    """
    removed = 0
    for t in plan.targets:
        if t.up_to is None:
            continue
        threshold = StreamId.parse(t.up_to).successor()
        count = int(client.xtrim(t.stream, minid=str(threshold), approximate=False))
        log.warning("purged %d dead letters from %s", count, t.stream)
        removed += count
    return removed
