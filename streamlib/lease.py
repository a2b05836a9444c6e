"""Lease extension: keep a batch in hand from looking abandoned while it is handled.

Redis presumes an entry abandoned once it has been pending for ``min_idle_ms``
without a delivery, and another replica's XAUTOCLAIM takes it over. A handler
slower than that (a slow sink, a big batch) would have its work stolen while
it is still doing it, again and again, until ``max_deliveries`` sends good
entries to the dead letters. While a handler runs, ``Lease`` renews the
batch every third of min-idle: ``XCLAIM ... <me> 0 <ids> JUSTID`` resets the
idle time without counting a delivery. It renews only the ids still pending
with this consumer (checked in the same Lua script), so it never takes back
an entry that another replica already reclaimed from a consumer that was
stuck (SIGSTOP, a long GC pause): such a consumer cannot renew while stuck,
and that is exactly when its entries should move.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence

import redis
from redis.commands.core import Script

log = logging.getLogger(__name__)

#: KEYS[1] stream; ARGV group, consumer, ids... -> how many ids were renewed.
RENEW = """
local owned = {}
for i = 3, #ARGV do
  if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2]) > 0 then
    owned[#owned + 1] = ARGV[i]
  end
end
for first = 1, #owned, 1000 do
  local call = {'XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0}
  for i = first, math.min(first + 999, #owned) do
    call[#call + 1] = owned[i]
  end
  call[#call + 1] = 'JUSTID'
  redis.call(unpack(call))
end
return #owned
"""


class Lease:
    """Renews the batches in hand every ``interval`` s, from one thread per consumer.

    A consumer has up to two batches in hand: the one its handler works on
    and the next one, read ahead. ``take(ids)`` leases a batch until the
    returned ``Hold`` is released; ``with lease.hold(ids):`` does the same for
    a block. Each hold is renewed ``interval`` after it was taken, then every
    ``interval``, together with every other hold then due (one round trip),
    so a batch that is done sooner (the usual case) costs a lock and a dict
    entry, no thread start and no renewal. The thread starts on the first
    hold and ends at ``close()``. Renewal failures (Redis away) are logged
    once and retried at the next tick: the batch's fate is decided by its
    acknowledgement, not by the lease.
    """

    def __init__(
        self,
        client: redis.Redis,
        stream: str,
        group: str,
        consumer: str,
        interval: float,
    ) -> None:
        self._client = client
        # Registered on first use: a cluster client connects on its first use
        # (``register_script`` included), and a consumer is made before Redis is up.
        self._renew: Script | None = None
        self._stream = stream
        self._head = [group, consumer]
        self._interval = interval
        self._cond = threading.Condition()
        #: The holds in hand: their ids, and when each is next due for renewal.
        self._holds: dict[Hold, float] = {}
        self._closed = False
        self._thread: threading.Thread | None = None
        #: Renewals made (each renews every id of the holds due still ours).
        self.renewals = 0
        self._failing = False  # the last renewal failed

    def take(self, ids: Sequence[bytes | str]) -> Hold:
        """Lease ``ids`` until the returned hold is released."""
        return self._add(Hold(self, ids))

    def take_later(self, ids_of: Callable[[], Sequence[bytes | str]]) -> Hold:
        """Lease entries whose ids are not known yet (a batch read ahead, its reply not taken).

        ``ids_of()`` gives them: called by ``Hold.resolve()``, or by the
        renewal thread when the hold first falls due, whichever comes first.
        """
        return self._add(Hold(self, (), ids_of))

    def _add(self, held: Hold) -> Hold:
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="lease", daemon=True)
                self._thread.start()
            self._holds[held] = time.monotonic() + self._interval
            if len(self._holds) == 1:
                self._cond.notify()  # the thread waits for a first hold
        return held

    @contextlib.contextmanager
    def hold(self, ids: Sequence[bytes | str]) -> Iterator[None]:
        """Keep ``ids`` leased while the ``with`` block runs."""
        held = self.take(ids)
        try:
            yield
        finally:
            held.release()

    def _release(self, held: Hold) -> None:
        # A renewal still running after this is harmless: once the batch is
        # acknowledged, its ids are no longer pending with us.
        with self._cond:
            self._holds.pop(held, None)

    def close(self) -> None:
        """End the renewal thread (the consumer's run is over); ``take`` starts a new one."""
        with self._cond:
            thread, self._thread = self._thread, None
            self._closed = True
            self._cond.notify()
        if thread is not None:
            thread.join()  # at most one renewal in flight, bounded by the socket timeout
        with self._cond:
            self._closed = False

    def _loop(self) -> None:
        with self._cond:
            while not self._closed and self._thread is threading.current_thread():
                if not self._holds:
                    self._cond.wait()
                    continue
                now = time.monotonic()
                wake = min(self._holds.values())
                if wake > now:
                    self._cond.wait(wake - now)  # a release never needs to wake it early
                    continue
                due = [held for held, at in self._holds.items() if at <= now]
                for held in due:
                    self._holds[held] = now + self._interval
                self._cond.release()  # take() and release() must not wait for Redis
                try:
                    for held in due:
                        held.resolve()
                    self._renew_once([*self._head, *(i for held in due for i in held.ids)])
                finally:
                    self._cond.acquire()

    def _renew_once(self, args: list[bytes | str]) -> None:
        try:
            if self._renew is None:
                self._renew = self._client.register_script(RENEW)
            renewed = self._renew(keys=[self._stream], args=args)
        except redis.RedisError as exc:
            # Once per run of failures: Redis being away is logged by the consumer.
            level = logging.DEBUG if self._failing else logging.WARNING
            log.log(level, "could not renew the lease of a batch in hand: %s", exc)
            self._failing = True
            return
        if self._failing:
            self._failing = False
            log.info("renewing the lease of the batch in hand again")
        self.renewals += 1
        log.debug("renewed %s of %d entries in hand", renewed, len(args) - 2)


class Hold:
    """One batch's lease, from ``Lease.take`` until ``release()`` (idempotent).

    A hold from ``Lease.take_later`` learns its ``ids`` at ``resolve()``.
    """

    __slots__ = ("_ids_of", "_lease", "_lock", "ids")

    def __init__(
        self,
        lease: Lease,
        ids: Sequence[bytes | str],
        ids_of: Callable[[], Sequence[bytes | str]] | None = None,
    ) -> None:
        self._lease = lease
        self.ids = ids
        self._ids_of = ids_of
        self._lock = threading.Lock() if ids_of is not None else None

    def resolve(self, ids: Sequence[bytes | str] | None = None) -> None:
        """Learn the ids of a hold taken before they were known (once; a no-op after).

        ``ids`` when the caller has them at hand, else ``ids_of()``. If that
        fails (the reply lost with its connection), the hold keeps no ids:
        whoever takes the reply meets the failure too.
        """
        if self._lock is None:
            return
        with self._lock:
            ids_of, self._ids_of = self._ids_of, None
            if ids_of is None:
                return
            try:
                self.ids = ids if ids is not None else ids_of()
            except redis.RedisError as exc:
                log.debug("a batch read ahead could not be leased: %s", exc)

    def release(self) -> None:
        """Stop renewing these ids."""
        self._lease._release(self)
