"""A periodic progress line for a running consumer (rates since the last line)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from streamlib import ConsumerStats

log = logging.getLogger("consumer.progress")


def format_stats(stats: ConsumerStats) -> str:
    """The counters of ``stats`` as ``name=value`` pairs (the last line parses these)."""
    return (
        f"read={stats.read} handled={stats.handled} acked={stats.acked} "
        f"failed={stats.failed} reclaimed={stats.reclaimed} redelivered={stats.redelivered} "
        f"dead_lettered={stats.dead_lettered} handler_errors={stats.handler_errors} "
        f"redis_errors={stats.redis_errors}"
    )


class ProgressLogger:
    """Logs one progress line every ``interval`` seconds on a daemon thread.

    ``stats`` returns the counters now (a replica's, added up over its
    partitions: ``last_read`` is then the most idle partition's).
    """

    def __init__(self, stats: Callable[[], ConsumerStats], interval: float) -> None:
        self._stats = stats
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)

    @property
    def stats(self) -> ConsumerStats:
        """The counters now."""
        return self._stats()

    def start(self) -> ProgressLogger:
        """Start logging (no-op for an interval <= 0)."""
        if self.interval > 0:
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop logging."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        last_acked, last_time = self.stats.acked, time.monotonic()
        while not self._stop.wait(self.interval):
            stats = self.stats
            now, acked = time.monotonic(), stats.acked
            rate = (acked - last_acked) / max(now - last_time, 1e-9)
            idle = now - stats.last_progress
            log.info(
                "progress: %s rate=%.0f/s last_read=%.1fs ago", format_stats(stats), rate, idle
            )
            last_acked, last_time = acked, now
