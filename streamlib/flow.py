"""Flow control: a producer held back while a consumer group lags too far behind.

A producer faster than its consumers builds a backlog without bound, and
every entry then waits behind it: latency grows with the backlog, not with
the work. Flow control bounds the group's lag (entries in the stream the
group has not read yet, XINFO GROUPS, Redis >= 7.0). One idea in three parts:

- ``GroupLag`` reads the lag: of one stream, or summed over the ``P``
  partitions of a stream (``None`` until the group exists on each, as
  ``groupinfo.across_partitions`` says).
- ``LagLimits`` and ``Throttle`` decide, for each reading, whether to hold
  the producer back: at a lag of ``high`` or more it holds; once holding, it
  releases at ``low`` or less (hysteresis, so that a producer paused for a
  while resumes for a while). ``LagLimits.at_most(max_lag)`` is the plain
  limit, ``high = max_lag + 1`` and ``low = max_lag``: no gap, no hysteresis.
  A lag Redis can't tell (no such group yet, entries deleted from the middle
  of the stream) or won't report (a client whose ACL user may not run XINFO
  GROUPS on the stream, an error) never holds a producer back, and releases
  one held: flow control is there to pace a running group, not to stop a
  producer for want of one. A warning says so, once per throttle for each
  kind of reason (``GroupLag.unknown_kind``), not at every reading.
- ``LagGate`` is a synchronous producer's gate (``StreamProducer`` with
  ``group=``): before each batch it waits, polling, until the batch fits
  under ``max_lag``. A producer that must not block (one on an event loop)
  polls a ``Throttle`` on a timer instead, with limits far enough apart,
  and pauses its own source of entries while it holds.

A group that has read everything (lag 0) never holds a producer back, not
even for a batch larger than the limit: waiting could not make room for it.
"""

from __future__ import annotations

import dataclasses
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


class GroupLag:
    """Reads ``group``'s lag on ``stream``, summed over its ``partitions`` (1: the plain stream)."""

    def __init__(self, client: redis.Redis, stream: str, group: str, partitions: int = 1) -> None:
        self.client = client
        self.stream = stream
        self.group = group
        self.partitions = partitions
        #: Why the last reading was ``None`` (empty after a known lag): its kind
        #: (``no-group``, ``untold``, ``denied``, ``unreadable``), and in words.
        self.unknown_kind = ""
        self.unknown_because = ""

    def read(self) -> int | None:
        """The lag now; ``None`` if the group is missing somewhere or Redis won't tell it."""
        try:
            info = groupinfo.across_partitions(
                self.client, self.stream, self.group, self.partitions
            )
        except redis.exceptions.NoPermissionError as exc:
            self._because(
                "denied",
                f"permission denied: {exc}; the client's ACL user needs +xinfo|groups "
                "on the stream, as the producer role of `streamctl acl` has it",
            )
            return None
        except redis.RedisError as exc:  # the producer's own XADDs meet it too, and retry
            self._because("unreadable", f"unreadable: {exc}")
            return None
        if info is None:
            self._because("no-group", "no such group yet")
        elif info.lag is None:
            self._because("untold", "Redis can't tell (entries deleted?)")
        else:
            self._because("", "")
        return None if info is None else info.lag

    def _because(self, kind: str, because: str) -> None:
        self.unknown_kind, self.unknown_because = kind, because

    def __str__(self) -> str:
        spread = f" ({self.partitions} partitions)" if self.partitions > 1 else ""
        return f"group {self.group!r} on {self.stream!r}{spread}"


@dataclasses.dataclass(frozen=True)
class LagLimits:
    """Hold at a lag of ``high`` or more; once holding, release at ``low`` or less."""

    high: int
    low: int

    def __post_init__(self) -> None:
        if not 0 <= self.low < self.high:
            raise ConfigError(
                f"lag limits need 0 <= low < high, got low {self.low} and high {self.high}"
            )

    @classmethod
    def at_most(cls, max_lag: int) -> LagLimits:
        """The plain limit: hold while the lag would exceed ``max_lag`` (no hysteresis)."""
        if max_lag < 1:
            raise ConfigError(f"max_lag must be >= 1, got {max_lag}")
        return cls(high=max_lag + 1, low=max_lag)


class Throttle:
    """Whether to hold a producer back, for each reading of a group's lag against ``limits``."""

    def __init__(self, source: GroupLag, limits: LagLimits) -> None:
        self.source = source
        self.limits = limits
        #: Whether the last decision held the producer back.
        self.held = False
        #: The last lag read (``None``: not read yet, or unknown).
        self.lag: int | None = None
        #: Counters: lag readings, and times the producer went from released to held.
        self.readings = 0
        self.holds = 0
        #: The kinds of unknown lag warned about (``GroupLag.unknown_kind``).
        self._warned: set[str] = set()

    def check(self, adding: int = 0) -> bool:
        """Read the lag now and ``decide``: one XINFO GROUPS per partition."""
        self.readings += 1
        return self.decide(self.source.read(), adding)

    def decide(self, lag: int | None, adding: int = 0) -> bool:
        """Whether to hold back, at ``lag`` with ``adding`` more entries about to be sent."""
        self.lag = lag
        if lag is None:
            self._say_unknown()
            held = False
        elif self.held:
            held = lag > 0 and lag + adding > self.limits.low
        else:
            held = lag > 0 and lag + adding >= self.limits.high
        if held and not self.held:
            self.holds += 1
        self.held = held
        return held

    def _say_unknown(self) -> None:
        kind = self.source.unknown_kind
        if kind not in self._warned:
            self._warned.add(kind)
            log.warning(
                "lag of %s unknown (%s): not holding the producer back",
                self.source,
                self.source.unknown_because,
            )


class LagGate:
    """Admits batches to ``stream`` while ``group``'s lag stays within ``max_lag``.

    It reads the lag only when it must. After a reading of ``L`` the lag can
    only be smaller than ``L`` plus the entries sent since (consumers only
    read), so while that bound leaves room, batches go without a round trip;
    a consumer keeping up costs one XINFO GROUPS per ``max_lag`` entries or
    so. A producer held back longer than ``WARN_AFTER_S`` says so in the log,
    once per wait, with the group and its lag.
    """

    def __init__(
        self, client: redis.Redis, stream: str, group: str, max_lag: int = DEFAULT_MAX_LAG
    ) -> None:
        self.throttle = Throttle(GroupLag(client, stream, group), LagLimits.at_most(max_lag))
        self.max_lag = max_lag
        #: An upper bound of the group's lag now; ``None``: read it before the next batch.
        self._bound: int | None = None
        #: Seconds spent waiting.
        self.waited_s = 0.0

    @property
    def readings(self) -> int:
        """Lag readings so far."""
        return self.throttle.readings

    @property
    def waits(self) -> int:
        """Batches that had to wait."""
        return self.throttle.holds

    def admit(self, count: int) -> None:
        """Return once ``count`` more entries fit under ``max_lag`` (or the lag is unknown).

        A batch larger than ``max_lag`` goes once the group has read everything.
        """
        bound = self._bound
        if bound is not None and bound + count <= self.max_lag:
            self._bound = bound + count
            return
        throttle = self.throttle
        started = time.monotonic()
        delay = 0.0
        warned = False
        while throttle.check(count):
            waited = time.monotonic() - started
            if not warned and waited >= WARN_AFTER_S:
                warned = True
                log.warning(
                    "producer held back %.0fs: %s lags %d (max_lag %d)",
                    waited,
                    throttle.source,
                    throttle.lag,
                    self.max_lag,
                )
            delay = min(max(delay * 2, POLL_MIN_S), POLL_MAX_S)
            time.sleep(delay)
        if delay:
            self.waited_s += time.monotonic() - started
        # Unknown: don't hold back; read again after max_lag entries.
        self._bound = 0 if throttle.lag is None else throttle.lag + count
