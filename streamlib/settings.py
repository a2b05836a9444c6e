"""``StreamSettings``: where the stream lives and how a consumer reads it.

Built once at the edge (environment, CLI flags, Scrapy settings), validated
there, and passed around as an immutable value. ``repr()`` masks the password.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Callable, Mapping
from typing import Any

import redis

from . import constants
from .connection import ConnectionOptions, connect, mask_url, validate_url
from .errors import ConfigError

#: Environment variable for each field, as in DESIGN.md.
ENV_VARS: Mapping[str, str] = {
    "redis_url": "REDIS_URL",
    "stream": "STREAM",
    "group": "GROUP",
    "consumer": "CONSUMER",
    "dead_letter_stream": "DEAD_LETTER_STREAM",
    "batch_size": "BATCH_SIZE",
    "block_ms": "BLOCK_MS",
    "min_idle_ms": "MIN_IDLE_MS",
    "max_deliveries": "MAX_DELIVERIES",
    "partitions": "PARTITIONS",
}


def default_consumer_name() -> str:
    """``<hostname>-<pid>``: unique per replica, also under ``--scale``."""
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclasses.dataclass(frozen=True, repr=False)
class StreamSettings:
    """Validated settings of one stream, group and consumer."""

    redis_url: str = constants.DEFAULT_REDIS_URL
    stream: str = constants.DEFAULT_STREAM
    group: str = constants.DEFAULT_GROUP
    consumer: str = dataclasses.field(default_factory=default_consumer_name)
    #: ``None`` means ``<stream>:dead``.
    dead_letter_stream: str | None = None
    batch_size: int = constants.DEFAULT_BATCH_SIZE
    block_ms: int = constants.DEFAULT_BLOCK_MS
    min_idle_ms: int = constants.DEFAULT_MIN_IDLE_MS
    max_deliveries: int = constants.DEFAULT_MAX_DELIVERIES
    #: Partitions of the stream (``streamlib.partitions``); 1 = one plain stream.
    partitions: int = 1
    #: Credentials and TLS files given apart from the URL (``REDIS_PASSWORD`` & co.).
    connection: ConnectionOptions = dataclasses.field(default_factory=ConnectionOptions)

    def __post_init__(self) -> None:
        validate_url(self.redis_url)
        for name in ("stream", "group", "consumer"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{name} must be a non-empty string, got {value!r}")
        if self.dead_letter_stream is None:
            object.__setattr__(
                self, "dead_letter_stream", self.stream + constants.DEAD_LETTER_SUFFIX
            )
        if self.dead_letter_stream == self.stream:
            raise ConfigError("dead_letter_stream must differ from stream")
        _check_int("batch_size", self.batch_size, minimum=1, maximum=100_000)
        _check_int("block_ms", self.block_ms, minimum=0)
        _check_int("min_idle_ms", self.min_idle_ms, minimum=1)
        _check_int("max_deliveries", self.max_deliveries, minimum=1)
        _check_int("partitions", self.partitions, minimum=1, maximum=constants.MAX_PARTITIONS)
        if self.partitions > 1:
            if "{" in self.stream or "}" in self.stream:
                raise ConfigError("a partitioned stream's name can't hold '{' or '}'")
            if self.dead_letter_stream != self.stream + constants.DEAD_LETTER_SUFFIX:
                raise ConfigError(
                    "a dead-letter stream can't be named with partitions > 1: each partition "
                    "keeps its own beside it, in its hash slot (<partition>:dead)"
                )

    @property
    def dead_letters(self) -> str:
        """The dead-letter stream's name (always set after validation)."""
        assert self.dead_letter_stream is not None
        return self.dead_letter_stream

    @property
    def claim_interval_ms(self) -> int:
        """How often a consumer sweeps with XAUTOCLAIM: half of min-idle, at most 5 s.

        Half of min-idle means an abandoned entry waits at most 1.5 x min-idle.
        """
        return max(10, min(self.min_idle_ms // 2, 5_000))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> StreamSettings:
        """Settings from environment variables, then ``overrides`` (``None`` = unset).

        Integer variables that don't parse raise ``ConfigError`` naming the variable.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        values["connection"] = ConnectionOptions.from_env(env)
        for field in dataclasses.fields(cls):
            if field.name not in ENV_VARS:
                continue
            raw = env.get(ENV_VARS[field.name])
            if raw is None or raw == "":
                continue
            values[field.name] = _parse_field(field.name, raw, ENV_VARS[field.name])
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
        return cls(**values)

    def connect(self, *, timeout: float = 30.0) -> redis.Redis:
        """A client for these settings that answered PING (see ``connection.connect``)."""
        return connect(self.redis_url, timeout=timeout, options=self.connection)

    def replace(self, **changes: Any) -> StreamSettings:
        """A copy with some fields changed, validated again."""
        if "stream" in changes and "dead_letter_stream" not in changes:
            default_dead = self.stream + constants.DEAD_LETTER_SUFFIX
            if self.dead_letter_stream == default_dead:
                changes["dead_letter_stream"] = None
        return dataclasses.replace(self, **changes)

    def masked(self) -> dict[str, Any]:
        """The settings as a dict, safe to log (password masked)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values["redis_url"] = mask_url(self.redis_url)
        values["connection"] = repr(self.connection)
        return values

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v!r}" for k, v in self.masked().items())
        return f"StreamSettings({body})"


_INT_FIELDS = {"batch_size", "block_ms", "min_idle_ms", "max_deliveries", "partitions"}
_PARSERS: Mapping[str, Callable[[str], Any]] = {name: int for name in _INT_FIELDS}


def _parse_field(name: str, raw: str, source: str) -> Any:
    parser = _PARSERS.get(name, str)
    try:
        return parser(raw.strip())
    except ValueError:
        raise ConfigError(f"{source}={raw!r} is not a whole number") from None


def _check_int(name: str, value: object, *, minimum: int, maximum: int | None = None) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ConfigError(f"{name} must be {bound}, got {value}")
