"""``Periodic``: a coroutine run every few seconds on the crawl's event loop, until stopped."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable


class Periodic:
    """Awaits ``tick()`` every ``interval`` seconds (first at once, or after one interval)."""

    def __init__(
        self, tick: Callable[[], Awaitable[None]], interval: float, *, at_once: bool
    ) -> None:
        self._tick = tick
        self.interval = interval
        self._at_once = at_once
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start ticking (from a coroutine on the loop)."""
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        """Stop ticking; a tick in progress is cancelled."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        if not self._at_once:
            await asyncio.sleep(self.interval)
        while True:
            await self._tick()
            await asyncio.sleep(self.interval)
