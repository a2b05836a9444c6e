"""Backpressure: pause the crawl while a consumer group lags too far behind.

Every ``interval`` seconds the group's lag (entries added to the stream that
the group has not read yet, from XINFO GROUPS, summed over the stream's
partitions) is read in a worker thread.
At or above ``high`` the crawl engine is paused (no new requests; items in
hand are still delivered); at or below ``low`` it resumes. A slow consumer
fleet so bounds the stream's unread length, and Redis memory, without ever
trimming unread entries. Unknown lag (no such group yet on some partition,
or Redis can't tell) leaves the engine as it is, with a log line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import redis

from producer.periodic import Periodic
from streamlib import groupinfo

log = logging.getLogger(__name__)


def group_lag(client: redis.Redis, stream: str, group: str, partitions: int) -> int | None:
    """The group's lag summed over the ``partitions`` of ``stream``; ``None`` if any can't tell."""
    info = groupinfo.across_partitions(client, stream, group, partitions)
    return None if info is None else info.lag


class Backpressure:
    """Polls a group's lag and calls ``pause`` / ``resume`` across the water marks."""

    def __init__(
        self,
        client: redis.Redis,
        stream: str,
        group: str,
        *,
        partitions: int = 1,
        high: int,
        low: int,
        interval: float,
        pause: Callable[[], None],
        resume: Callable[[], None],
    ) -> None:
        self.client = client
        self.stream = stream
        self.group = group
        self.partitions = partitions
        self.high = high
        self.low = low
        self.interval = interval
        self._pause = pause
        self._resume = resume
        self.paused = False
        #: The last lag read (``None``: not read yet, or unknown).
        self.lag: int | None = None
        #: Times the crawl was paused.
        self.pauses = 0
        self._polling = Periodic(self._check, interval, at_once=True)
        self._warned_unknown = False

    def start(self) -> None:
        """Start polling (from a coroutine on the reactor's loop)."""
        self._polling.start()

    async def stop(self) -> None:
        """Stop polling, and resume the crawl if it was paused."""
        await self._polling.stop()
        if self.paused:
            self.paused = False
            self._resume()

    def observe(self, lag: int | None) -> None:
        """Pause or resume for one lag reading."""
        self.lag = lag
        if lag is None:
            if not self._warned_unknown:
                log.warning(
                    "Backpressure: lag of group %r on stream %r unknown; not pausing",
                    self.group,
                    self.stream,
                )
                self._warned_unknown = True
            return
        if not self.paused and lag >= self.high:
            self.paused = True
            self.pauses += 1
            log.info(
                "Backpressure: group %r lags %d >= %d; pausing the crawl",
                self.group,
                lag,
                self.high,
            )
            self._pause()
        elif self.paused and lag <= self.low:
            self.paused = False
            log.info(
                "Backpressure: group %r lags %d <= %d; resuming the crawl",
                self.group,
                lag,
                self.low,
            )
            self._resume()

    async def _check(self) -> None:
        """One lag reading, in a worker thread."""
        loop = asyncio.get_running_loop()
        try:
            lag = await loop.run_in_executor(
                None, group_lag, self.client, self.stream, self.group, self.partitions
            )
        except redis.RedisError as exc:
            log.warning("Backpressure: could not read the lag (%s); retrying", exc)
        else:
            self.observe(lag)
