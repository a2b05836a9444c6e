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
dead-letter stream. ``decode_fields`` does the same for the fields as Redis
sends them (a flat name, value, ... list) as well as for a mapping. Unknown
extra fields are ignored (forward compatible), but no field may hold more
than ``MAX_FIELD_BYTES`` (1 MiB).
"""

from __future__ import annotations

import hashlib
import time
import unicodedata
from collections.abc import Mapping
from typing import Any, NamedTuple

from . import jsonutil
from .constants import ENVELOPE_VERSION, MAX_FIELD_BYTES
from .errors import DecodeError

_loads = jsonutil.loads_fn
#: ``tuple.__new__``: builds a named tuple from its values without calling its ``__new__``.
_new_tuple = tuple.__new__
_dumps = jsonutil.dumps

#: Wire type of an entry's fields as redis-py returns them (RESP2, bytes).
Fields = Mapping[bytes, bytes]
#: The same fields as Redis sends them: name, value, name, value, ...
FlatFields = list[bytes]
#: One raw entry: its id and fields, as redis-py returns them (RESP2, a mapping)
#: or, for entries read with ``rawcmd.run_raw``, as Redis sends them (a flat
#: list). A pending entry that was deleted from the stream has empty fields.
RawEntry = tuple[bytes, Fields | FlatFields]

#: An envelope's field names, in the order ``encode`` writes them (a test
#: holds ``encode`` to it): what ``decode_fields`` and the producer's packed
#: XADDs (``xadd_batch``) read and write by position.
FIELD_NAMES = ("v", "type", "key", "ts", "data")
_WIRE_NAMES = [name.encode() for name in FIELD_NAMES]
_V, _TYPE, _KEY, _TS, _DATA = _WIRE_NAMES
_WIRE_VERSION = ENVELOPE_VERSION.encode()


class _EnvelopeFields(NamedTuple):
    type: str
    key: str
    data: Mapping[str, Any]
    ts: int
    v: str


class Envelope(_EnvelopeFields):
    """One record with its type, idempotency key and production time (immutable).

    ``Envelope(type, key, data)`` stamps ``ts`` with the current time in
    milliseconds; ``v`` is the schema version this release writes. A named
    tuple rather than a dataclass: the consumer builds one per entry, and a
    tuple is built in under half the time (see docs/design-notes.md).
    """

    __slots__ = ()

    def __new__(
        cls,
        type: str,  # the wire names, builtin shadowed on purpose
        key: str,
        data: Mapping[str, Any],
        ts: int | None = None,
        v: str = ENVELOPE_VERSION,
    ) -> Envelope:
        if ts is None:
            ts = time.time_ns() // 1_000_000
        return _new_tuple(cls, (type, key, data, ts, v))


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


def wire_fields(envelope: Envelope) -> dict[bytes, bytes]:
    """``encode(envelope)`` as Redis sends the fields back: bytes names and values."""
    return {
        name.encode(): value if isinstance(value, bytes) else value.encode()
        for name, value in encode(envelope).items()
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


def decode_fields(flat: Fields | FlatFields) -> Envelope:
    """``decode`` for fields in either shape: a flat list, as Redis sends them, or a mapping.

    An entry written by ``encode`` (its five fields, in its order, each well
    formed), as a flat list, is read in place, without building a mapping:
    the consumer's hottest path. Anything else is paired up if need be and
    goes through ``decode``, which says precisely what is wrong.
    """
    if len(flat) == 10:  # unpacked and compared name by name: no slices per entry
        n_v, version, n_type, raw_type, n_key, raw_key, n_ts, raw_ts, n_data, raw_data = flat
        if (
            n_v == _V
            and n_type == _TYPE
            and n_key == _KEY
            and n_ts == _TS
            and n_data == _DATA
            and version == _WIRE_VERSION
            and raw_type
            and raw_key
            and raw_ts
            and len(raw_type) + len(raw_key) + len(raw_ts) + len(raw_data) <= MAX_FIELD_BYTES
        ):
            try:  # UnicodeDecodeError and orjson's JSONDecodeError are ValueErrors
                type_ = raw_type.decode()
                key = raw_key.decode()
                ts = int(raw_ts)  # ASCII digits from bytes; anything else: decode() says why
                data = _loads(raw_data)
            except ValueError:
                pass
            else:
                if type(data) is dict:  # the constructor's work, minus its call
                    return _new_tuple(Envelope, (type_, key, data, ts, ENVELOPE_VERSION))
    return decode(field_map(flat))


def field_map(fields: Fields | FlatFields) -> Fields:
    """``fields`` as a mapping (a flat list is paired up, a mapping returned as is)."""
    if isinstance(fields, list):
        it = iter(fields)
        return dict(zip(it, it, strict=False))
    return fields


def _new_envelope(type_: str, key: str, data: dict[str, Any], ts: int, v: str) -> Envelope:
    """``Envelope(type_, key, data, ts, v)`` for the decoders' hot path, minus the
    constructor's call and its default; values must be already valid."""
    return _new_tuple(Envelope, (type_, key, data, ts, v))


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
