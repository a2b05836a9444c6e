from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from streamlib import DecodeError, Envelope, decode, encode, fingerprint
from streamlib.codec import decode_fields, wire_fields


def flat(fields: Mapping[bytes, bytes]) -> list[bytes]:
    """Fields as Redis sends them: name, value, name, value, ..."""
    return [part for pair in fields.items() for part in pair]


#: Both decoders: fields as a mapping (redis-py's replies), and as the flat
#: list Redis sends, which the consumer reads new entries as.
DECODERS: list[Callable[[Mapping[bytes, bytes]], Envelope]] = [
    decode,
    lambda fields: decode_fields(flat(fields)),
    decode_fields,
]
both_decoders = pytest.mark.parametrize(
    "decoder", DECODERS, ids=["mapping", "flat", "fields-mapping"]
)


@both_decoders
def test_round_trip_keeps_every_field(decoder: Callable[[Mapping[bytes, bytes]], Envelope]) -> None:
    env = Envelope(type="quote", key="k1", data={"text": "“Curly” it’s", "tags": []}, ts=1234)
    fields = encode(env)
    assert set(fields) == {"v", "type", "key", "ts", "data"}
    assert decoder(wire_fields(env)) == env
    assert type(decoder(wire_fields(env))) is Envelope


@both_decoders
def test_fields_in_another_order_decode_the_same(
    decoder: Callable[[Mapping[bytes, bytes]], Envelope],
) -> None:
    env = Envelope(type="quote", key="k1", data={"text": "t"}, ts=1234)
    assert decoder(dict(reversed(wire_fields(env).items()))) == env


def test_ts_defaults_to_now_in_ms() -> None:
    env = Envelope(type="quote", key="k", data={})
    assert 1_600_000_000_000 < env.ts < 4_000_000_000_000


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda f: f.pop(b"data"), "missing field 'data'"),
        (lambda f: f.pop(b"key"), "missing field 'key'"),
        (lambda f: f.pop(b"v"), "missing field 'v'"),
        (lambda f: f.update({b"v": b"2"}), "unsupported envelope version '2'"),
        (lambda f: f.update({b"data": b"{not json"}), "field 'data' is not valid JSON"),
        (lambda f: f.update({b"data": b"[1, 2]"}), "field 'data' is a JSON list, not an object"),
        (lambda f: f.update({b"ts": b"yesterday"}), "field 'ts' is not an integer"),
        (lambda f: f.update({b"type": b"\xff\xfe"}), "field 'type' is not valid UTF-8"),
        (lambda f: f.update({b"data": b'{"a": "\xff"}'}), "field 'data' is not valid UTF-8"),
        (lambda f: f.update({b"data": b""}), "empty field 'data'"),
        (
            lambda f: f.update({b"extra": b"x" * (1 << 20 | 1)}),
            "field 'extra' is 1048577 bytes, over the limit of 1048576",
        ),
        (
            lambda f: f.update({b"data": b'"' + b"x" * (1 << 20) + b'"'}),
            "field 'data' is 1048578 bytes, over the limit of 1048576",
        ),
        (lambda f: f.update({b"key": b""}), "empty field 'key'"),
        (lambda f: f.update({b"ts": b""}), "empty field 'ts'"),
        (lambda f: f.update({b"data": b'{"a": NaN}'}), "field 'data' is not valid JSON"),
    ],
)
@both_decoders
def test_decode_names_what_is_wrong(mutate, reason: str, decoder) -> None:  # type: ignore[no-untyped-def]
    fields = wire_fields(Envelope(type="quote", key="k", data={"a": 1}))
    mutate(fields)
    with pytest.raises(DecodeError) as info:
        decoder(fields)
    assert info.value.reason == reason


@both_decoders
def test_unknown_extra_fields_are_ignored(
    decoder: Callable[[Mapping[bytes, bytes]], Envelope],
) -> None:
    fields = wire_fields(Envelope(type="quote", key="k", data={}))
    fields[b"trace"] = b"abc"
    assert decoder(fields).key == "k"


def test_encode_refuses_what_is_not_json() -> None:
    with pytest.raises(TypeError):
        encode(Envelope(type="quote", key="k", data={"x": object()}))
    with pytest.raises(ValueError):
        encode(Envelope(type="", key="k", data={}))


def test_fingerprint_is_stable_and_normalised() -> None:
    a = fingerprint("The  world as we\nhave created it", "Albert Einstein")
    b = fingerprint(" The world as we have created it ", "Albert Einstein")
    assert a == b
    assert len(a) == 40
    # NFC: a precomposed and a combining "é" are one identity.
    assert fingerprint("caf\u00e9", "x") == fingerprint("cafe\u0301", "x")
    assert fingerprint("a", "bc") != fingerprint("ab", "c")
    # Pinned value: a change of the key scheme would silently re-key every record.
    assert fingerprint("hello", "world") == "0cb17d7f7a26f8e17f512bc245fae6d657442f33"
