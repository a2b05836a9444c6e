"""What one consumer knows about outages: what is down, since when, what it holds.

An outage (the sink or Redis unreachable, locked, full, failing over) is
weather: the consumer holds its batch and retries until the component
answers. ``Outages`` keeps the state for ``/healthz`` and the metrics, and
the log lines: one when a component goes down, one when it is back, and a
reminder a minute while it stays down, never one per retry.

The consumer's thread writes; the metrics server's thread reads ``status()``
and ``seconds_total()`` (each a consistent snapshot, under a lock).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

#: The components a consumer depends on.
COMPONENTS = ("sink", "redis")
#: Seconds between two "still down" lines of one outage.
REMINDER_SECONDS = 60.0


@dataclasses.dataclass(frozen=True, slots=True)
class OutageStatus:
    """A snapshot of the outage in progress."""

    #: ``"sink"`` or ``"redis"``.
    component: str
    #: The last error, in the words of the driver or server.
    reason: str
    #: Wall-clock start (``time.time()``).
    since: float
    #: How long it has lasted so far.
    seconds: float
    #: Entries this consumer holds, unacknowledged, while it waits.
    held: int


class Outages:
    """The outage state of one consumer, and its log lines.

    ``down()`` after every failed attempt, ``up()`` after the first success;
    both are cheap when nothing changes.
    """

    def __init__(
        self,
        consumer: str,
        *,
        reminder: float = REMINDER_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.consumer = consumer
        self.reminder = reminder
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        #: The component down now, or ``None`` (read without the lock on the hot path).
        self.current: str | None = None
        self._reason = ""
        self._started = 0.0
        self._since = 0.0
        self._held = 0
        self._reminded = 0.0
        self._closed = dict.fromkeys(COMPONENTS, 0.0)
        #: Outages begun, per component.
        self.count = dict.fromkeys(COMPONENTS, 0)

    def down(self, component: str, reason: str, held: int) -> float:
        """Record a failed attempt; returns how long ``component`` has been down."""
        now = self._clock()
        with self._lock:
            if self.current != component:
                if self.current is not None:
                    self._close(now)
                self.current = component
                self._started, self._since, self._reminded = now, self._wall_clock(), now
                self.count[component] += 1
                changed = True
            else:
                changed = False
            self._reason, self._held = reason, held
            seconds = now - self._started
        if changed:
            log.warning(
                "%s down (%s); consumer %s %s, retrying with backoff, counting no delivery",
                component,
                reason,
                self.consumer,
                _holding(held),
            )
        elif now - self._reminded >= self.reminder:
            self._reminded = now
            log.warning(
                "%s still down after %.0fs (%s); consumer %s %s",
                component,
                seconds,
                reason,
                self.consumer,
                _holding(held),
            )
        return seconds

    def up(self) -> None:
        """The component down answered again (no-op when nothing is down)."""
        if self.current is None:
            return
        now = self._clock()
        with self._lock:
            component, seconds = self.current, now - self._started
            self._close(now)
        log.info("%s back after %.1fs; consumer %s resumes", component, seconds, self.consumer)

    def _close(self, now: float) -> None:
        assert self.current is not None
        self._closed[self.current] += now - self._started
        self.current = None
        self._held = 0

    def status(self) -> OutageStatus | None:
        """The outage in progress, or ``None``."""
        with self._lock:
            if self.current is None:
                return None
            return OutageStatus(
                self.current, self._reason, self._since, self._clock() - self._started, self._held
            )

    def seconds_total(self, component: str) -> float:
        """Seconds ``component`` has been down in this consumer's life, the current outage too."""
        with self._lock:
            total = self._closed[component]
            if self.current == component:
                total += self._clock() - self._started
            return total


def _holding(held: int) -> str:
    return f"holds its batch of {held}" if held else "holds no batch"
