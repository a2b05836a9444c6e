"""Loopback ports for private servers, chosen outside the kernel's ephemeral range.

The kernel picks the local port of every outgoing connection (and of a bind
to port 0) from its ephemeral range. A server on such a port that a test stops
and starts again is exposed while it is down: an outgoing connection may take
its port, so it can't start again, and a client reconnecting to it may be given
that very port as its own and connect to itself (TCP simultaneous open),
talking to nobody. A port outside the range is only ever taken by a program
that asks for it by number, and no client connects to itself there.
"""

from __future__ import annotations

import itertools
import random
import socket
import threading
from collections.abc import Sequence
from pathlib import Path

from ..errors import RedisUnavailable

#: Where Linux keeps its ephemeral range (two numbers: the lowest and highest port).
EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
#: The range assumed where that file can't be read: it covers the defaults of
#: Linux (32768-60999), macOS and Windows (49152-65535).
FALLBACK_EPHEMERAL_RANGE = (32_768, 65_535)
#: The lowest port handed out: above the ports services commonly listen on.
LOWEST_PORT = 10_000
HIGHEST_PORT = 65_535

#: Ports ``free_port`` handed out in this process, never handed out again: two
#: ports chosen before either is bound (a server's and its TLS port, four metrics
#: ports, the nodes of a cluster) could otherwise be the same one.
_HANDED_OUT: set[int] = set()
_HANDED_OUT_LOCK = threading.Lock()
_RANDOM = random.SystemRandom()  # no state shared with a forked process


def ephemeral_range(path: Path | None = None) -> tuple[int, int]:
    """The lowest and highest ephemeral port, from ``path`` (else the fallback range).

    ``path`` defaults to ``EPHEMERAL_RANGE_FILE``, read at each call.
    """
    try:
        text = (path or EPHEMERAL_RANGE_FILE).read_text()
        low, high = (int(word) for word in text.split())
    except (OSError, ValueError):
        return FALLBACK_EPHEMERAL_RANGE
    if not 0 < low <= high <= HIGHEST_PORT:
        return FALLBACK_EPHEMERAL_RANGE
    return low, high


def free_port(offsets: Sequence[int] = (0,), *, what: str = "port") -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (and new to this process).

    With ``offsets``, a port ``p`` such that every ``p + offset`` is all that:
    ``(0, 10_000)`` is a cluster node's port and its bus port. Each lies outside
    the ephemeral range; ``RedisUnavailable`` names ``what`` if none fits.
    """
    low, high = ephemeral_range()
    candidates = list(itertools.chain.from_iterable(_outside(low, high, offsets)))
    with _HANDED_OUT_LOCK:
        start = _RANDOM.randrange(len(candidates)) if candidates else 0
        for i in range(len(candidates)):
            port = candidates[(start + i) % len(candidates)]
            ports = [port + offset for offset in offsets]
            if _HANDED_OUT.isdisjoint(ports) and all(_free(p) for p in ports):
                _HANDED_OUT.update(ports)
                return port
    raise RedisUnavailable(
        f"no free {what} on 127.0.0.1 outside the ephemeral port range {low}-{high}"
    )


def _outside(low: int, high: int, offsets: Sequence[int]) -> list[range]:
    """The ports ``p`` (from ``LOWEST_PORT``) whose every ``p + offset`` is outside ``low-high``."""
    pieces = [range(LOWEST_PORT, HIGHEST_PORT + 1 - max(offsets))]
    for offset in offsets:
        # p + offset in [low, high] exactly when p in [low - offset, high - offset]
        below, above = low - offset, high - offset + 1
        pieces = [
            part
            for piece in pieces
            for part in (
                range(piece.start, min(piece.stop, below)),
                range(max(piece.start, above), piece.stop),
            )
            if part
        ]
    return pieces


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
