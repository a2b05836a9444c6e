"""Test helpers: polling with a deadline instead of sleeping, and envelopes."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar

import redis

from streamlib import Envelope, fingerprint

T = TypeVar("T")


def wait_for(
    probe: Callable[[], T],
    *,
    until: Callable[[T], object] = bool,
    timeout: float = 30.0,
    interval: float = 0.02,
    what: str = "",
) -> T:
    """Poll ``probe`` until ``until(answer)`` holds (by default: a truthy answer); the answer.

    Fails after ``timeout`` s with the last answer and how the answers changed
    on the way (seconds since the start), so a timeout says what was seen, not
    only what was not: give ``probe`` the thing to look at (a status, a body)
    and ``until`` the test of it, rather than one predicate that answers False.
    """
    start = time.monotonic()
    seen = Answers()
    while True:
        answer = probe()
        seen.add(time.monotonic() - start, answer)
        if until(answer):
            return answer
        if time.monotonic() - start > timeout:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what or probe}; {seen.describe()}"
            )
        time.sleep(interval)


class Answers:
    """What a poll saw: its last answer, and each change of answer (the last ``keep``)."""

    def __init__(self, keep: int = 20, width: int = 1000) -> None:
        self.keep, self.width = keep, width
        self.polls = 0
        self.changes: deque[tuple[float, str]] = deque(maxlen=keep)
        self.dropped = 0

    def add(self, at: float, answer: object) -> None:
        self.polls += 1
        shown = repr(answer)
        if len(shown) > self.width:
            shown = shown[: self.width] + f"... ({len(shown)} chars)"
        if self.changes and self.changes[-1][1] == shown:
            return
        if len(self.changes) == self.keep:
            self.dropped += 1
        self.changes.append((at, shown))

    def describe(self) -> str:
        """``last answer: ...`` and the answers in order, each from when it was first seen."""
        if not self.changes:
            return "no answer"
        lines = [f"last answer: {self.changes[-1][1]}", f"answers over {self.polls} polls:"]
        if self.dropped:
            lines.append(f"  ({self.dropped} earlier changes left out)")
        lines += [f"  from {at:.2f}s: {shown}" for at, shown in self.changes]
        return "\n".join(lines)


def quote(n: int) -> Envelope:
    """A small quote envelope numbered ``n`` (distinct key per ``n``)."""
    text = f"Quote number {n}."
    author = f"Author {n % 7}"
    return Envelope(
        type="quote",
        key=fingerprint(text, author),
        data={"text": text, "author": author, "tags": ["t"], "n": n},
    )


def read_and_ack(
    client: redis.Redis, stream: str, group: str, read: int, unacked: set[int]
) -> list[str]:
    """Create ``group`` at 0, read ``read`` entries, ack all but the ``unacked`` indexes."""
    client.xgroup_create(stream, group, id="0")
    if not read:
        return []
    reply = client.xreadgroup(group, "c", {stream: ">"}, count=read)
    got = [entry_id for entry_id, _ in reply[0][1]]
    acked = [entry_id for i, entry_id in enumerate(got) if i not in unacked]
    if acked:
        client.xack(stream, group, *acked)
    return [g.decode() for g in got]


def remaining(client: redis.Redis, stream: str) -> list[str]:
    return [entry_id.decode() for entry_id, _ in client.xrange(stream)]
