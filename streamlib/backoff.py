"""Capped, jittered exponential backoff: the one retry policy of streamlib."""

from __future__ import annotations

import random
import time
from collections.abc import Callable


class Backoff:
    """Delays of ``base * 2**n`` seconds, capped at ``cap``, with equal jitter.

    Equal jitter picks each delay uniformly in ``[d/2, d]``: replicas that
    failed together do not retry together, and no delay collapses to zero
    (which would be a hot loop).

    >>> b = Backoff(base=0.1, cap=1.0)
    >>> 0.05 <= b.next_delay() <= 0.1
    True
    """

    def __init__(
        self,
        base: float = 0.1,
        cap: float = 10.0,
        *,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if base <= 0 or cap < base:
            raise ValueError("backoff needs 0 < base <= cap")
        self.base = base
        self.cap = cap
        self.attempt = 0
        self._rng = rng or random.Random()
        self._sleep = sleep

    def next_delay(self) -> float:
        """The next delay in seconds; each call doubles the ceiling up to ``cap``."""
        ceiling = min(self.cap, self.base * (2 ** min(self.attempt, 32)))
        self.attempt += 1
        return self._rng.uniform(ceiling / 2, ceiling)

    def wait(self, stop: Callable[[], bool] | None = None) -> float:
        """Sleep for the next delay (in slices, returning early once ``stop()``)."""
        delay = self.next_delay()
        deadline = time.monotonic() + delay
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or (stop is not None and stop()):
                return delay
            self._sleep(min(left, 0.1))

    def reset(self) -> None:
        """Back to the first, shortest delay (after a success)."""
        self.attempt = 0
