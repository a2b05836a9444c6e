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
    changes: Callable[[T], object] | None = None,
    timeout: float = 30.0,
    interval: float = 0.02,
    what: str = "",
) -> T:
    """Poll ``probe`` until ``until(answer)`` holds (by default: a truthy answer); the answer.

    Fails after ``timeout`` s with the last answer and how the answers changed
    on the way (seconds since the start), so a timeout says what was seen, not
    only what was not: give ``probe`` the thing to look at (a status, a body)
    and ``until`` the test of it, rather than one predicate that answers False.
    ``changes(answer)`` is the part whose changes the history follows (default:
    the whole answer); leave out what changes on every poll, such as clocks.
    """
    start = time.monotonic()
    seen = Answers()
    while True:
        answer = probe()
        now = time.monotonic() - start
        seen.add(now, answer, answer if changes is None else changes(answer))
        if until(answer):
            return answer
        if now > timeout:
            raise AssertionError(
                f"timed out after {timeout}s waiting for {what or probe}; {seen.describe()}"
            )
        time.sleep(interval)


class Answers:
    """What a poll saw: its last answer, and each change (the last ``keep``) of what it follows."""

    def __init__(self, keep: int = 20, width: int = 1000) -> None:
        self.keep, self.width = keep, width
        self.polls = 0
        self.last = ""
        self.changes: deque[tuple[float, str]] = deque(maxlen=keep)
        self.dropped = 0

    def add(self, at: float, answer: object, followed: object) -> None:
        """Poll ``answer`` at ``at`` s; ``followed`` (part of it) is what the history keeps."""
        self.polls += 1
        self.last = self._shown(answer)
        shown = self._shown(followed)
        if self.changes and self.changes[-1][1] == shown:
            return
        if len(self.changes) == self.keep:
            self.dropped += 1
        self.changes.append((at, shown))

    def _shown(self, value: object) -> str:
        shown = repr(value)
        if len(shown) > self.width:
            return f"{shown[: self.width]}... ({len(shown)} chars)"
        return shown

    def describe(self) -> str:
        """``last answer: ...`` and the followed answers in order, each from when first seen."""
        if not self.polls:
            return "no answer"
        lines = [f"last answer: {self.last}", f"answers over {self.polls} polls:"]
        if self.dropped:
            lines.append(f"  ({self.dropped} earlier changes left out)")
        lines += [f"  from {at:.2f}s: {shown}" for at, shown in self.changes]
        return "\n".join(lines)


def wait_until(predicate: Callable[[], object], *, timeout: float = 30.0) -> bool:
    """``wait_for`` answering ``False`` on timeout instead of failing: for a poll
    inside a handler, where raising would only get the batch retried."""
    try:
        wait_for(predicate, timeout=timeout)
    except AssertionError:
        return False
    return True


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
