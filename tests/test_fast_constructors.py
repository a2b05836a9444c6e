"""The hot-path constructors build exactly what the dataclasses' ``__init__`` builds."""

from __future__ import annotations

import dataclasses

import pytest

from streamlib import Envelope, Message
from streamlib._slots import slot_setters
from streamlib.codec import _new_envelope
from streamlib.consumer import _new_message


def test_new_envelope_equals_init_and_stays_frozen() -> None:
    fast = _new_envelope("quote", "k", {"a": 1}, 1234, "1")
    assert fast == Envelope("quote", "k", {"a": 1}, 1234, "1")
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.key = "other"  # type: ignore[misc]


def test_new_message_equals_init_and_stays_frozen() -> None:
    env = Envelope("quote", "k", {}, 1, "1")
    fast = _new_message("1-0", env, 3)
    assert fast == Message("1-0", env, 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.deliveries = 4  # type: ignore[misc]


def test_slot_setters_refuse_a_changed_field_list() -> None:
    with pytest.raises(AssertionError, match="fields are"):
        slot_setters(Message, ("id", "envelope"))
