"""Backpressure: pause the crawl while a consumer group lags too far behind.

Every ``interval`` seconds the group's lag (entries added to the stream that
the group has not read yet, from XINFO GROUPS) is read in a worker thread.
At or above ``high`` the crawl engine is paused (no new requests; items in
hand are still delivered); at or below ``low`` it resumes. A slow consumer
fleet so bounds the stream's unread length, and Redis memory, without ever
trimming unread entries. Unknown lag (no such group yet, or Redis can't tell)
leaves the engine as it is, with a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import redis

from streamlib import groupinfo

log = logging.getLogger(__name__)


class Backpressure:
    """Polls a group's lag and calls ``pause`` / ``resume`` across the water marks."""

    def __init__(
        self,
        client: redis.Redis,
        stream: str,
        group: str,
        *,
        high: int,
        low: int,
        interval: float,
        pause: Callable[[], None],
        resume: Callable[[], None],
    ) -> None:
        self.client = client
        self.stream = stream
        self.group = group
        self.high = high
        self.low = low
        self.interval = interval
        self._pause = pause
        self._resume = resume
        self.paused = False
        #: Times the crawl was paused.
        self.pauses = 0
        self._task: asyncio.Task[None] | None = None
        self._warned_unknown = False

    def start(self) -> None:
        """Start polling (from a coroutine on the reactor's loop)."""
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        """Stop polling, and resume the crawl if it was paused."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.paused:
            self.paused = False
            self._resume()

    def observe(self, lag: int | None) -> None:
        """Pause or resume for one lag reading."""
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

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                info = await loop.run_in_executor(
                    None, groupinfo.group, self.client, self.stream, self.group
                )
            except redis.RedisError as exc:
                log.warning("Backpressure: could not read the lag (%s); retrying", exc)
            else:
                self.observe(None if info is None else info.lag)
            await asyncio.sleep(self.interval)
