"""The envelope: one stream entry per record, JSON only.

Fields of an entry (all strings on the wire):

====== ===================================================================
``v``  schema version, ``"1"``
``type`` record type, e.g. ``"quote"`` or ``"author"``
``key``  stable idempotency key: a fingerprint of the record's identity
``ts``   producer time, milliseconds since the epoch
``data`` the record itself, a JSON object
====== ===================================================================

``decode`` turns the fields back into an ``Envelope`` or raises ``DecodeError``
with a short reason; such an entry is a poison entry and goes to the
dead-letter stream. Unknown extra fields are ignored (forward compatible),
but no field may hold more than ``MAX_FIELD_BYTES`` (1 MiB).
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
import unicodedata
from collections.abc import Mapping
from typing import Any

from . import jsonutil
from ._slots import slot_setters
from .constants import ENVELOPE_VERSION, MAX_FIELD_BYTES
from .errors import DecodeError

_loads = jsonutil.loads_fn
_dumps = jsonutil.dumps

#: Wire type of an entry's fields as redis-py returns them (RESP2, bytes).
Fields = Mapping[bytes, bytes]


@dataclasses.dataclass(frozen=True, slots=True)
class Envelope:
    """One record with its type, idempotency key and production time."""

    type: str
    key: str
    data: Mapping[str, Any]
    ts: int = dataclasses.field(default_factory=lambda: time.time_ns() // 1_000_000)
    v: str = ENVELOPE_VERSION


def encode(envelope: Envelope) -> dict[str, bytes | str]:
    """The stream fields of ``envelope``, ready for XADD.

    Raises ``TypeError`` if ``data`` is not JSON-serialisable and
    ``ValueError`` for an empty type or key.
    """
    if not envelope.type or not envelope.key:
        raise ValueError("an envelope needs a non-empty type and key")
    data = envelope.data
    if type(data) is not dict:  # a plain dict (the usual case) is dumped as it is
        if not isinstance(data, Mapping):
            raise TypeError("envelope data must be a mapping")
        data = dict(data)
    return {
        "v": envelope.v,
        "type": envelope.type,
        "key": envelope.key,
        "ts": str(int(envelope.ts)),
        "data": _dumps(data),
    }


def decode(fields: Fields) -> Envelope:
    """The envelope in an entry's fields, or ``DecodeError`` saying what is wrong.

    The consumer's hot path: a well-formed entry takes the straight line below;
    anything unusual goes through ``_check_fields``, which raises the precise
    reason (an oversized field first, then the first bad one of v, type, key,
    ts, data).
    """
    try:
        version = fields[b"v"].decode()
        type_ = fields[b"type"].decode()
        key = fields[b"key"].decode()
        raw_ts = fields[b"ts"].decode()
        raw_data = fields[b"data"]
    except (KeyError, AttributeError, UnicodeDecodeError):
        _check_fields(fields)
        raise  # pragma: no cover - _check_fields raised already
    if (
        version != ENVELOPE_VERSION
        or not (type_ and key and raw_ts)
        or max(map(len, fields.values())) > MAX_FIELD_BYTES
    ):
        _check_fields(fields)
    try:
        ts = int(raw_ts)
    except ValueError:
        raise DecodeError("field 'ts' is not an integer") from None
    try:
        data = _loads(raw_data)
    except ValueError:
        _text(fields, b"data")  # empty, or not UTF-8: say so
        raise DecodeError("field 'data' is not valid JSON") from None
    if not isinstance(data, dict):
        raise DecodeError(f"field 'data' is a JSON {type(data).__name__}, not an object")
    return _new_envelope(type_, key, data, ts, version)


_SET_TYPE, _SET_KEY, _SET_DATA, _SET_TS, _SET_V = slot_setters(
    Envelope, ("type", "key", "data", "ts", "v")
)


def _new_envelope(type_: str, key: str, data: dict[str, Any], ts: int, v: str) -> Envelope:
    """``Envelope(type_, key, data, ts, v)`` for ``decode``'s hot path.

    Equal in every way to the constructor's result (same slots, still frozen
    afterwards), at about half the cost: it skips the frozen dataclass's
    per-field ``object.__setattr__`` calls. Values must be already valid.
    """
    envelope: Envelope = object.__new__(Envelope)
    _SET_TYPE(envelope, type_)
    _SET_KEY(envelope, key)
    _SET_DATA(envelope, data)
    _SET_TS(envelope, ts)
    _SET_V(envelope, v)
    return envelope


def _check_fields(fields: Fields) -> None:
    """Raise ``DecodeError`` for an oversized field, else the first unusable of v .. data."""
    for name, value in fields.items():
        if len(value) > MAX_FIELD_BYTES:
            raise DecodeError(
                f"field {name.decode('utf-8', 'replace')!r} is {len(value)} bytes, "
                f"over the limit of {MAX_FIELD_BYTES}"
            )
    version = _text(fields, b"v")
    if version != ENVELOPE_VERSION:
        raise DecodeError(f"unsupported envelope version {version!r}")
    for name in (b"type", b"key", b"ts"):
        _text(fields, name)
    _field(fields, b"data")


def _field(fields: Fields, name: bytes) -> bytes:
    value = fields.get(name)
    if value is None:
        raise DecodeError(f"missing field {name.decode()!r}")
    return value


def _text(fields: Fields, name: bytes) -> str:
    raw = _field(fields, name)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError(f"field {name.decode()!r} is not valid UTF-8") from None
    if not text:
        raise DecodeError(f"empty field {name.decode()!r}")
    return text


def normalise(text: str) -> str:
    """Unicode NFC with runs of whitespace folded to one space, trimmed."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def fingerprint(*parts: str) -> str:
    """A stable idempotency key: SHA-1 (hex) of the normalised parts.

    The same record identity gives the same key on every crawl and machine;
    parts are joined with a separator that can't appear in normalised text.
    """
    joined = "\x1f".join(normalise(p) for p in parts)
    return hashlib.sha1(joined.encode("utf-8"), usedforsecurity=False).hexdigest()
