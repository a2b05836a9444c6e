"""Exceptions raised by streamlib.

Every exception streamlib raises on purpose derives from one root, so callers
can catch the library's failures without catching everything::

    StreamlibError
    ├── ConfigError        a setting or URL is invalid; raised once, at the edge
    ├── RedisUnavailable   Redis could not be reached within the retry budget
    └── DecodeError        a stream entry is not a valid envelope (a poison entry)

Errors from redis-py itself (``redis.exceptions.RedisError``) pass through
unchanged where streamlib has nothing to add.
"""

from __future__ import annotations


class StreamlibError(Exception):
    """Root of every exception that streamlib raises on purpose."""


class ConfigError(StreamlibError, ValueError):
    """A setting, flag, environment variable or URL is invalid."""


class RedisUnavailable(StreamlibError):
    """Redis did not answer within the retry budget (connect or deadline)."""


class DecodeError(StreamlibError):
    """A stream entry can't be decoded into an envelope.

    ``reason`` is a short, stable, human-readable description (it is stored
    with the dead letter), e.g. ``"missing field 'data'"``.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
