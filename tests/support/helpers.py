"""Test helpers: polling with a deadline instead of sleeping, and envelopes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import redis

from streamlib import Envelope, fingerprint

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T], *, timeout: float = 30.0, interval: float = 0.02, what: str = ""
) -> T:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


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
