"""Live progress of a crawl: one INFO line every few seconds, and a summary at the end.

``ProgressLog`` takes a ``Snapshot`` every ``interval`` seconds on the event
loop and logs how far the crawl is: pages, items and items per second since
the last line, entries sent to the stream, items in flight (accepted by the
pipeline, not yet answered by Redis), backpressure and the group's lag when
known. Scrapy's own ``LogStats`` line says only pages and items, once a
minute.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

from producer.periodic import Periodic

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """The crawl's counters at one moment."""

    pages: int
    items: int
    sent: int
    in_flight: int
    #: Whether backpressure holds the crawl; ``None``: backpressure is off.
    paused: bool | None = None
    #: The backpressure group's lag at the last check; ``None``: unknown.
    lag: int | None = None
    at: float = dataclasses.field(default_factory=time.monotonic)


def rate(now: Snapshot, before: Snapshot) -> float:
    """Items per second between two snapshots."""
    return (now.items - before.items) / max(now.at - before.at, 1e-9)


def progress_line(now: Snapshot, before: Snapshot) -> str:
    """``Progress: 12 pages, 120 items (24.0/s), 100 sent to the stream, 20 in flight, ...``."""
    parts = [
        f"{now.pages} pages",
        f"{now.items} items ({rate(now, before):.1f}/s)",
        f"{now.sent} sent to the stream",
        f"{now.in_flight} in flight",
    ]
    if now.paused is not None:
        parts.append("backpressure: paused" if now.paused else "backpressure: flowing")
    if now.lag is not None:
        parts.append(f"group lag {now.lag}")
    return "Progress: " + ", ".join(parts)


class ProgressLog:
    """Logs ``progress_line`` every ``interval`` seconds (0: never) until stopped."""

    def __init__(self, snapshot: Callable[[], Snapshot], interval: float) -> None:
        self._snapshot = snapshot
        self.interval = interval
        #: When the crawl started (the first snapshot).
        self.first: Snapshot | None = None
        self._last: Snapshot | None = None
        self._ticks = Periodic(self._log, interval, at_once=False)

    def start(self) -> None:
        """Take the first snapshot and start the timer (from a coroutine on the loop)."""
        self.first = self._last = self._snapshot()
        if self.interval > 0:
            self._ticks.start()

    async def stop(self) -> None:
        await self._ticks.stop()

    async def _log(self) -> None:
        now = self._snapshot()
        assert self._last is not None
        log.info("%s", progress_line(now, self._last))
        self._last = now
