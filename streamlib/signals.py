"""Two-stage shutdown on SIGTERM / SIGINT for a long-running consumer.

First signal: stop reading, finish and acknowledge the batch in hand, return
from ``run()`` (exit 0). Second signal: exit at once (``SystemExit``), leaving
whatever is unacknowledged pending, to be reclaimed by another replica.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterable
from types import FrameType
from typing import Protocol

log = logging.getLogger(__name__)


class Stoppable(Protocol):
    """Anything with a graceful ``stop()`` and a ``stopping`` flag."""

    @property
    def stopping(self) -> bool: ...

    def stop(self) -> None: ...


def install_stop_handlers(
    target: Stoppable, signals: Iterable[signal.Signals] = (signal.SIGTERM, signal.SIGINT)
) -> None:
    """Route ``signals`` to ``target.stop()``, and a second one to an immediate exit.

    Call from the main thread (Python delivers signals only there).
    """

    def on_signal(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if target.stopping:
            log.warning("%s again: exiting now, unacknowledged entries stay pending", name)
            raise SystemExit(128 + signum)
        log.info("%s: finishing the batch in hand, then stopping (again to force)", name)
        target.stop()

    for sig in signals:
        signal.signal(sig, on_signal)
