"""Backpressure: the crawl paused while a consumer group lags too far behind.

The lag and the decision are streamlib's flow control (``streamlib.flow``):
a ``Throttle`` on the group's lag, summed over the stream's partitions,
holds at ``high`` and releases at ``low``, and never holds on a lag it can't
read. This module only maps its decisions onto the crawl engine: every
``interval`` seconds the throttle reads the lag in a worker thread, and the
engine is paused when the throttle starts holding (no new requests; items in
hand are still delivered) and resumed when it releases.

The crawl pauses its engine rather than let the pipeline's sender wait at a
``LagGate``: a paused engine stops fetching pages, while a sender held back
would leave them fetched and their items stuck in the buffer, and would keep
a closing crawl from delivering what it has.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from producer.periodic import Periodic
from streamlib.flow import Throttle

log = logging.getLogger(__name__)


class Backpressure:
    """Polls ``throttle`` every ``interval`` seconds; ``pause`` / ``resume`` as it decides."""

    def __init__(
        self,
        throttle: Throttle,
        *,
        interval: float,
        pause: Callable[[], None],
        resume: Callable[[], None],
    ) -> None:
        self.throttle = throttle
        self._pause = pause
        self._resume = resume
        #: Whether the crawl is paused now.
        self.paused = False
        self._polling = Periodic(self._check, interval, at_once=True)

    @property
    def lag(self) -> int | None:
        """The last lag read (``None``: not read yet, or unknown)."""
        return self.throttle.lag

    @property
    def pauses(self) -> int:
        """Times the crawl was paused."""
        return self.throttle.holds

    def start(self) -> None:
        """Start polling (from a coroutine on the reactor's loop)."""
        self._polling.start()

    async def stop(self) -> None:
        """Stop polling, and resume the crawl if it was paused."""
        await self._polling.stop()
        if self.paused:
            self.paused = False
            self._resume()

    async def _check(self) -> None:
        """One lag reading in a worker thread, then pause or resume on the loop."""
        held = await asyncio.get_running_loop().run_in_executor(None, self.throttle.check)
        self._follow(held)

    def _follow(self, held: bool) -> None:
        if held == self.paused:
            return
        self.paused = held
        limits = self.throttle.limits
        log.info(
            "Backpressure: %s lags %s (pause at %d, resume at %d); %s the crawl",
            self.throttle.source,
            "unknown" if self.lag is None else self.lag,
            limits.high,
            limits.low,
            "pausing" if held else "resuming",
        )
        (self._pause if held else self._resume)()
