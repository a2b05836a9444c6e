"""The hot-path constructors build exactly what the public constructors build."""

from __future__ import annotations

import time

import pytest
import redis

from streamlib import Envelope, GroupConsumer, Message, StreamProducer, StreamSettings
from streamlib.codec import _new_envelope


def test_new_envelope_equals_the_constructor_and_stays_immutable() -> None:
    fast = _new_envelope("quote", "k", {"a": 1}, 1234, "1")
    assert fast == Envelope("quote", "k", {"a": 1}, 1234, "1")
    assert type(fast) is Envelope
    assert (fast.type, fast.key, fast.data, fast.ts, fast.v) == ("quote", "k", {"a": 1}, 1234, "1")
    with pytest.raises(AttributeError):
        fast.key = "other"  # type: ignore[misc]


def test_a_handler_gets_messages_equal_to_the_constructors_and_immutable(
    client: redis.Redis, settings: StreamSettings
) -> None:
    envelope = Envelope("quote", "k", {"a": 1}, 1234)
    entry_id = StreamProducer(client, settings.stream).send(envelope)
    seen: list[Message] = []
    GroupConsumer(client, settings, seen.extend).run(burst=True)
    (fast,) = seen
    assert fast == Message(entry_id, envelope, 1)
    assert (type(fast), type(fast.envelope)) == (Message, Envelope)
    assert (fast.id, fast.envelope, fast.deliveries) == (entry_id, envelope, 1)
    with pytest.raises(AttributeError):
        fast.deliveries = 4  # type: ignore[misc]


def test_an_envelope_is_stamped_with_the_current_time_by_default() -> None:
    before = time.time_ns() // 1_000_000
    env = Envelope("quote", "k", {})
    assert before <= env.ts <= time.time_ns() // 1_000_000
    assert env.v == "1"
    assert Envelope("quote", "k", {}, ts=None).ts >= before


def test_a_message_is_a_first_delivery_by_default() -> None:
    assert Message("1-0", Envelope("quote", "k", {}, 1)).deliveries == 1
