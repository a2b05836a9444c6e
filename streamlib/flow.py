"""Flow control: a producer held back while a consumer group lags too far behind.

A producer faster than its consumers builds a backlog without bound, and
every entry then waits behind it: latency grows with the backlog, not with
the work. ``LagGate`` bounds the group's lag (entries in the stream the
group has not read yet, XINFO GROUPS, Redis >= 7.0): before a batch is sent
it must fit under ``max_lag``, else the producer waits, polling, until the
group has read enough.

It reads the lag only when it must. After a reading of ``L`` the lag can only
be smaller than ``L`` plus the entries sent since (consumers only read), so
while that bound leaves room, batches go without a round trip; a consumer
keeping up costs one XINFO GROUPS per ``max_lag`` entries or so.

A lag Redis can't tell (no such group yet, or entries deleted from the
middle of the stream) or can't report (an error) never holds the producer
back: flow control is there to pace a running group, not to stop a
producer for want of one. A producer held back longer than ``WARN_AFTER_S``
says so in the log, once per wait, with the group and its lag.
"""

from __future__ import annotations

import logging
import time

import redis

from . import groupinfo
from .constants import DEFAULT_BATCH_SIZE
from .errors import ConfigError

log = logging.getLogger(__name__)

#: Unread entries a group may have before a producer waits: four default
#: batches, so that four replicas each find a full batch to read.
DEFAULT_MAX_LAG = 4 * DEFAULT_BATCH_SIZE
#: First and longest pause between two lag readings while held back, seconds.
POLL_MIN_S = 0.0005
POLL_MAX_S = 0.005
#: A wait longer than this is logged (a group that stopped reading).
WARN_AFTER_S = 10.0


class LagGate:
    """Admits batches to ``stream`` while ``group``'s lag stays within ``max_lag``."""

    def __init__(
        self, client: redis.Redis, stream: str, group: str, max_lag: int = DEFAULT_MAX_LAG
    ) -> None:
        if max_lag < 1:
            raise ConfigError(f"max_lag must be >= 1, got {max_lag}")
        self.client = client
        self.stream = stream
        self.group = group
        self.max_lag = max_lag
        #: An upper bound of the group's lag now; ``None``: read it before the next batch.
        self._bound: int | None = None
        #: Counters: lag readings, batches that had to wait, seconds spent waiting.
        self.readings = 0
        self.waits = 0
        self.waited_s = 0.0

    def admit(self, count: int) -> None:
        """Return once ``count`` more entries fit under ``max_lag`` (or the lag is unknown).

        A batch larger than ``max_lag`` goes once the group has read everything.
        """
        if self._bound is not None and self._bound + count <= self.max_lag:
            self._bound += count
            return
        started = time.monotonic()
        delay = POLL_MIN_S
        warned = False
        while True:
            lag = self._read_lag()
            if lag is None:  # unknown: don't hold back; read again after max_lag entries
                self._bound = 0
                break
            if lag + count <= self.max_lag or lag == 0:
                self._bound = lag + count
                break
            waited = time.monotonic() - started
            if not warned and waited >= WARN_AFTER_S:
                warned = True
                log.warning(
                    "producer held back %.0fs: group %r lags %d on %s (max_lag %d)",
                    waited,
                    self.group,
                    lag,
                    self.stream,
                    self.max_lag,
                )
            time.sleep(delay)
            delay = min(delay * 2, POLL_MAX_S)
        if delay > POLL_MIN_S:
            self.waits += 1
            self.waited_s += time.monotonic() - started

    def _read_lag(self) -> int | None:
        self.readings += 1
        try:
            info = groupinfo.group(self.client, self.stream, self.group)
        except redis.RedisError as exc:  # the XADD that follows meets it too, and retries
            log.debug("lag of group %r on %s unreadable: %s", self.group, self.stream, exc)
            return None
        return None if info is None else info.lag
