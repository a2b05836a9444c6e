"""Exceptions raised by streamlib.

Every exception streamlib raises on purpose derives from one root, so callers
can catch the library's failures without catching everything::

    StreamlibError
    ├── ConfigError                a setting, flag, URL or argument is invalid
    ├── DecodeError                a stream entry is not a valid envelope (poison)
    ├── RedisUnavailable           Redis could not be reached within the retry budget
    │   └── ProducerUnavailable    a producer gave up; says how many envelopes were not sent
    ├── NotFound                   a stream, group or dead letter an operation needs is missing
    │   ├── StreamNotFound         the stream does not exist
    │   └── GroupNotFound          the consumer group does not exist on the stream
    └── NoGroups                   trim refused: no group says what was consumed

``tests/test_errors.py`` holds this drawing and the classes together. Errors
from redis-py itself (``redis.exceptions.RedisError``) pass through unchanged
where streamlib has nothing to add.
"""

from __future__ import annotations


class StreamlibError(Exception):
    """Root of every exception that streamlib raises on purpose."""


class ConfigError(StreamlibError, ValueError):
    """A setting, flag, environment variable, URL or argument is invalid."""


class DecodeError(StreamlibError):
    """A stream entry can't be decoded into an envelope.

    ``reason`` is a short, stable, human-readable description (it is stored
    with the dead letter), e.g. ``"missing field 'data'"``.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RedisUnavailable(StreamlibError):
    """Redis did not answer within the retry budget (connect or deadline)."""


class ProducerUnavailable(RedisUnavailable):
    """Redis stayed unreachable past the producer's retry deadline.

    ``undelivered`` counts the envelopes of the call that may not be in the
    stream (the failed batch and every one after it).
    """

    def __init__(self, message: str, undelivered: int) -> None:
        super().__init__(message)
        self.undelivered = undelivered


class NotFound(StreamlibError):
    """The stream, group or dead letter an operation needs does not exist."""


class StreamNotFound(NotFound):
    """The stream does not exist."""


class GroupNotFound(NotFound):
    """The consumer group does not exist on the stream."""


class NoGroups(StreamlibError):
    """Trim refused: the stream has no group, so nothing says what was consumed."""
