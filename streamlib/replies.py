"""Redis reply values as Python values (bytes or text, present or not)."""

from __future__ import annotations

from typing import Any


def text(value: Any) -> str:
    """A reply value (bytes or not) as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


def opt_int(value: Any) -> int | None:
    """``int(value)``, or ``None`` for a missing value."""
    return None if value is None else int(value)
