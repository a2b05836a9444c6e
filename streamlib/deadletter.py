"""The dead-letter entry: a failed entry's original fields plus its provenance.

A dead letter is an entry on the dead-letter stream (``<stream>:dead``) with

=============== ==========================================================
``orig_id``     the entry's id on the main stream
``orig_stream`` the main stream's name
``group``       the consumer group that gave up on it
``consumer``    the consumer that moved it
``deliveries``  how many times it had been delivered
``reason``      why, in words (a decode error, "delivered N times", ...)
``dead_at``     when, milliseconds since the epoch
``f:<name>``    each original field, byte for byte (so it can be replayed)
=============== ==========================================================
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping

FIELD_PREFIX = b"f:"


@dataclasses.dataclass(frozen=True)
class DeadLetter:
    """A parsed dead-letter entry."""

    id: str
    orig_id: str
    orig_stream: str
    group: str
    consumer: str
    deliveries: int
    reason: str
    dead_at: int
    fields: dict[bytes, bytes]


def dead_letter_fields(
    *,
    orig_id: str,
    orig_stream: str,
    group: str,
    consumer: str,
    deliveries: int,
    reason: str,
    fields: Mapping[bytes, bytes],
) -> dict[bytes, bytes]:
    """The fields to XADD to the dead-letter stream for one failed entry."""
    out: dict[bytes, bytes] = {
        b"orig_id": orig_id.encode(),
        b"orig_stream": orig_stream.encode(),
        b"group": group.encode(),
        b"consumer": consumer.encode(),
        b"deliveries": str(deliveries).encode(),
        b"reason": reason.encode("utf-8", "replace"),
        b"dead_at": str(time.time_ns() // 1_000_000).encode(),
    }
    for name, value in fields.items():
        out[FIELD_PREFIX + name] = value
    return out


def parse_dead_letter(entry_id: bytes | str, fields: Mapping[bytes, bytes]) -> DeadLetter:
    """A ``DeadLetter`` from a dead-letter stream entry (lenient on missing fields)."""

    def text(name: bytes) -> str:
        return fields.get(name, b"").decode("utf-8", "replace")

    def number(name: bytes) -> int:
        try:
            return int(fields.get(name, b"0"))
        except ValueError:
            return 0

    return DeadLetter(
        id=entry_id.decode() if isinstance(entry_id, bytes) else entry_id,
        orig_id=text(b"orig_id"),
        orig_stream=text(b"orig_stream"),
        group=text(b"group"),
        consumer=text(b"consumer"),
        deliveries=number(b"deliveries"),
        reason=text(b"reason"),
        dead_at=number(b"dead_at"),
        fields={k[len(FIELD_PREFIX) :]: v for k, v in fields.items() if k.startswith(FIELD_PREFIX)},
    )
