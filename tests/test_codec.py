from __future__ import annotations

import pytest

from streamlib import DecodeError, Envelope, decode, encode, fingerprint


def wire(envelope: Envelope) -> dict[bytes, bytes]:
    """Fields as they come back from Redis: bytes names and values."""
    return {
        k.encode(): v if isinstance(v, bytes) else v.encode() for k, v in encode(envelope).items()
    }


def test_round_trip_keeps_every_field() -> None:
    env = Envelope(type="quote", key="k1", data={"text": "“Curly” it’s", "tags": []}, ts=1234)
    fields = encode(env)
    assert set(fields) == {"v", "type", "key", "ts", "data"}
    assert decode(wire(env)) == env


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
        (lambda f: f.update({b"key": b""}), "empty field 'key'"),
    ],
)
def test_decode_names_what_is_wrong(mutate, reason: str) -> None:  # type: ignore[no-untyped-def]
    fields = wire(Envelope(type="quote", key="k", data={"a": 1}))
    mutate(fields)
    with pytest.raises(DecodeError) as info:
        decode(fields)
    assert info.value.reason == reason


def test_unknown_extra_fields_are_ignored() -> None:
    fields = wire(Envelope(type="quote", key="k", data={}))
    fields[b"trace"] = b"abc"
    assert decode(fields).key == "k"


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
