"""Exceptions raised by streamlib.

Every exception streamlib raises on purpose derives from one root, so callers
can catch the library's failures without catching everything::

    StreamlibError
    ├── ConfigError                a setting, flag, URL or argument is invalid
    ├── OutageError                weather: a sink or Redis is away; the batch is held, retried
    ├── RecordError                poison: a record can never be stored; dead-lettered alone
    │   └── DecodeError            a stream entry is not a valid envelope (poison)
    ├── RedisUnavailable           Redis could not be reached within the retry budget
    │   └── ProducerUnavailable    a producer gave up; says how many envelopes were not sent
    ├── NotFound                   a stream, group or dead letter an operation needs is missing
    │   ├── StreamNotFound         the stream does not exist
    │   └── GroupNotFound          the consumer group does not exist on the stream
    └── NoGroups                   trim refused: no group says what was consumed

A handler (or the sink it calls) tells the consumer which kind of failure it
met by raising ``OutageError`` or ``RecordError``; anything else it raises
leaves the batch pending, to be retried after min-idle.

``tests/streamlib/test_errors.py`` holds this drawing and the classes together. Errors
from redis-py itself (``redis.exceptions.RedisError``) pass through unchanged
where streamlib has nothing to add.
"""

from __future__ import annotations


class StreamlibError(Exception):
    """Root of every exception that streamlib raises on purpose."""


class ConfigError(StreamlibError, ValueError):
    """A setting, flag, environment variable, URL or argument is invalid."""


class OutageError(StreamlibError):
    """Infrastructure is away: unreachable, locked, full, read-only, failing over.

    Weather, not the records' fault: the consumer holds the batch in hand
    (keeping its lease, counting no delivery) and tries it again until the
    ``component`` (``"sink"`` or ``"redis"``) answers. ``reason`` says what
    failed, in the words of the driver or server.
    """

    def __init__(self, reason: str, *, component: str = "sink") -> None:
        super().__init__(f"{component}: {reason}")
        self.reason = reason
        self.component = component


class RecordError(StreamlibError):
    """A record can never be stored as it is (a constraint, an invalid value).

    Poison: the consumer splits the batch until it has found the records
    that fail, stores the others, and dead-letters those with ``reason``
    (e.g. the database's message).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DecodeError(RecordError):
    """A stream entry can't be decoded into an envelope.

    ``reason`` is a short, stable, human-readable description (it is stored
    with the dead letter), e.g. ``"missing field 'data'"``.
    """


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
