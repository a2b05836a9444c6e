"""JSON on the wire: orjson when installed (the ``fast`` extra), else the stdlib.

Only JSON crosses the wire in quotestream: never pickle, never eval.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

try:
    import orjson

    HAVE_ORJSON = True
except ImportError:  # pragma: no cover - exercised where orjson is absent
    HAVE_ORJSON = False


def dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON bytes; raises ``TypeError`` for what JSON can't hold."""
    if HAVE_ORJSON:
        try:
            return orjson.dumps(value)
        except orjson.JSONEncodeError as exc:
            raise TypeError(str(exc)) from None
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def loads(raw: bytes | str) -> Any:
    """Parse JSON; raises ``ValueError`` (including bad UTF-8) on invalid input."""
    if HAVE_ORJSON:
        return orjson.loads(raw)
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    try:
        return json.loads(raw)
    except RecursionError:  # nesting deeper than the stack (orjson: depth limit)
        raise ValueError("JSON nested too deeply") from None


#: ``loads`` itself, minus the wrapper's call when orjson is installed: orjson's
#: errors are ``ValueError`` already. For hot paths (the codec's ``decode``).
loads_fn: Callable[[bytes | str], Any] = orjson.loads if HAVE_ORJSON else loads
