"""Durations as operators type them: ``250`` (ms), ``250ms``, ``30s``, ``5m``, ``1h``, ``2d``."""

from __future__ import annotations

import re

from .errors import ConfigError

_UNITS_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_PATTERN = re.compile(r"^\s*(\d+)\s*(ms|s|m|h|d)?\s*$", re.IGNORECASE)


def parse_duration_ms(text: str) -> int:
    """Milliseconds in ``text``; a bare number is milliseconds. ``ConfigError`` if invalid."""
    match = _PATTERN.match(text)
    if match is None:
        raise ConfigError(
            f"invalid duration {text!r}: use milliseconds (1500) or a number with "
            "a unit: ms, s, m, h, d (e.g. 30s, 5m, 1h, 2d)"
        )
    number, unit = match.groups()
    return int(number) * _UNITS_MS[(unit or "ms").lower()]


def format_ms(ms: int | None) -> str:
    """A duration in ms for people: ``850ms``, ``12.3s``, ``4m05s``, ``2h10m``, ``3d4h``."""
    if ms is None:
        return "-"
    if ms < 1_000:
        return f"{ms}ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f}s"
    seconds = ms // 1000
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86_400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86_400}d{seconds % 86_400 // 3600}h"
