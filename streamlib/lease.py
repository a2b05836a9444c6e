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

import logging
import threading
from collections.abc import Sequence
from types import TracebackType

import redis

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
    """A context manager renewing ``ids`` every ``interval`` s until it exits.

    Renewal failures (Redis away) are logged and retried at the next tick:
    the batch's fate is decided by its acknowledgement, not by the lease.
    """

    def __init__(
        self,
        client: redis.Redis,
        stream: str,
        group: str,
        consumer: str,
        ids: Sequence[bytes | str],
        interval: float,
    ) -> None:
        self._renew = client.register_script(RENEW)
        self._keys = [stream]
        self._args = [group, consumer, *ids]
        self._interval = interval
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lease", daemon=True)
        #: Renewals made (each renews every id still ours).
        self.renewals = 0

    def __enter__(self) -> Lease:
        if len(self._args) > 2:
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._done.set()
        if self._thread.is_alive():
            # A renewal still running after this returns is harmless: once the
            # batch is acknowledged, its ids are no longer pending with us.
            self._thread.join(timeout=self._interval)

    def _loop(self) -> None:
        while not self._done.wait(self._interval):
            try:
                renewed = self._renew(keys=self._keys, args=self._args)
            except redis.RedisError as exc:
                log.warning("could not renew the lease of a batch in hand: %s", exc)
                continue
            self.renewals += 1
            log.debug("renewed %s of %d entries in hand", renewed, len(self._args) - 2)
