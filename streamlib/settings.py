"""Settings: the one place that reads the environment, and ``StreamSettings``.

A settings class is a frozen dataclass whose fields are declared with
``setting()``: the default (written once, in the field), the environment
variable and the help text travel together in the field's metadata. From that
one table come ``load()`` (environment, then explicit values such as CLI flags,
then the defaults; every value validated once, by the class) and, in the CLI
plumbing, the click options with their help texts. ``StreamSettings`` is where
the stream lives and how a consumer reads it; ``ConnectionOptions`` (credentials
and TLS files) and the consumer service's own options are declared the same way.
``repr()`` masks the password.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

import redis

from . import constants
from .connection import ConnectionOptions, connect, mask_url, validate_url
from .errors import ConfigError

T = TypeVar("T")


def setting(
    default: Any = dataclasses.MISSING,
    *,
    env: str,
    help: str,
    default_text: str | None = None,
    default_factory: Any = dataclasses.MISSING,
    fallback_env: tuple[str, ...] = (),
) -> Any:
    """A dataclass field that ``load()`` reads from ``env``; ``help`` documents it.

    ``default_text`` replaces the default in help texts where the value is
    computed (``<hostname>-<pid>``, ``<stream>:dead``). ``fallback_env`` names
    variables read, in order, when ``env`` is unset (``STREAM_REDIS_URL``, then
    ``REDIS_URL``).
    """
    metadata = {
        "env": env,
        "help": help,
        "default_text": default_text,
        "fallback_env": fallback_env,
    }
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass(frozen=True)
class SettingField:
    """One row of a settings class's table: name, type, variable, default, help."""

    name: str
    kind: type
    env: str
    help: str
    default_text: str
    #: Variables read when ``env`` is unset, in order.
    fallback_env: tuple[str, ...] = ()

    @property
    def flag(self) -> str:
        """The command-line flag: ``batch_size`` -> ``--batch-size``."""
        return "--" + self.name.replace("_", "-")


def setting_fields(cls: type) -> list[SettingField]:
    """The ``setting()`` fields of a settings class, in declaration order."""
    hints = typing.get_type_hints(cls)
    rows = []
    for field in dataclasses.fields(cls):
        if "env" not in field.metadata:
            continue
        if field.metadata["default_text"] is not None:
            shown = field.metadata["default_text"]
        elif field.default is dataclasses.MISSING:
            shown = "none"
        else:
            shown = str(field.default)
        rows.append(
            SettingField(
                field.name,
                _scalar(hints[field.name]),
                field.metadata["env"],
                field.metadata["help"],
                shown,
                field.metadata.get("fallback_env", ()),
            )
        )
    return rows


def load(cls: type[T], environ: Mapping[str, str] | None = None, **explicit: Any) -> T:
    """An instance of ``cls`` from the environment, then ``explicit`` values, then defaults.

    ``environ`` defaults to ``os.environ``: this is the one place that reads it.
    An explicit value of ``None`` means "not given" (an unset flag); an empty
    variable counts as unset. Values that don't parse raise ``ConfigError``
    naming the variable; the class validates the rest.
    """
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for row in setting_fields(cls):
        for name in (row.env, *row.fallback_env):
            raw = env.get(name)
            if raw is not None and raw != "":
                values[row.name] = parse_value(row, raw, name)
                break
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = set(explicit) - names
    if unknown:
        raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
    values.update({k: v for k, v in explicit.items() if v is not None})
    return cls(**values)


def _scalar(hint: Any) -> type:
    """``int`` for ``int``, ``str`` for ``str | None``: the type a value parses to."""
    if isinstance(hint, types.UnionType):
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint if isinstance(hint, type) else str


#: What a yes/no setting accepts (any case).
BOOLEANS = {"1": True, "true": True, "yes": True, "on": True}
BOOLEANS |= {"0": False, "false": False, "no": False, "off": False}


def parse_value(row: SettingField, raw: str, source: str | None = None) -> Any:
    """``raw`` (text of a variable or flag) as the row's type; ``ConfigError`` names ``source``."""
    if row.kind is str:
        return raw
    if row.kind is bool:
        try:
            return BOOLEANS[raw.strip().lower()]
        except KeyError:
            choices = "/".join(BOOLEANS)
            raise ConfigError(f"{source or row.env}={raw!r} is not one of {choices}") from None
    try:
        return row.kind(raw.strip())
    except ValueError:
        noun = "a whole number" if row.kind is int else "a number"
        raise ConfigError(f"{source or row.env}={raw!r} is not {noun}") from None


def default_consumer_name() -> str:
    """``<hostname>-<pid>``: unique per replica, also under ``--scale``."""
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclasses.dataclass(frozen=True, repr=False)
class StreamSettings:
    """Validated settings of one stream, group and consumer."""

    redis_url: str = setting(
        constants.DEFAULT_REDIS_URL,
        env="REDIS_URL",
        help="Redis URL (redis://, rediss://, unix://, redis+cluster://).",
    )
    stream: str = setting(constants.DEFAULT_STREAM, env="STREAM", help="Stream name.")
    group: str = setting(constants.DEFAULT_GROUP, env="GROUP", help="Consumer group.")
    consumer: str = setting(
        env="CONSUMER",
        help="This replica's name in the group.",
        default_factory=default_consumer_name,
        default_text="<hostname>-<pid>",
    )
    #: ``None`` means ``<stream>:dead``.
    dead_letter_stream: str | None = setting(
        None, env="DEAD_LETTER_STREAM", help="Dead-letter stream.", default_text="<stream>:dead"
    )
    batch_size: int = setting(
        constants.DEFAULT_BATCH_SIZE, env="BATCH_SIZE", help="Entries per read."
    )
    block_ms: int = setting(
        constants.DEFAULT_BLOCK_MS, env="BLOCK_MS", help="Milliseconds a read blocks."
    )
    min_idle_ms: int = setting(
        constants.DEFAULT_MIN_IDLE_MS,
        env="MIN_IDLE_MS",
        help="Reclaim entries idle this many milliseconds.",
    )
    max_deliveries: int = setting(
        constants.DEFAULT_MAX_DELIVERIES,
        env="MAX_DELIVERIES",
        help="Deliveries before an entry is dead-lettered.",
    )
    #: Partitions of the stream (``streamlib.partitions``); 1 = one plain stream.
    partitions: int = setting(
        1, env="PARTITIONS", help="Partitions of the stream (docs/cluster.md)."
    )
    #: Read the next batch while the handler works on a full one (``consumer``).
    read_ahead: bool = setting(
        True,
        env="READ_AHEAD",
        help="Read the next batch while the handler works on a full one "
        "(off: one batch in hand, for slow handlers sharing a short stream).",
        default_text="on",
    )
    #: ``None``: ride out any outage. Else ``run()`` raises ``OutageError`` once
    #: the sink or Redis has been down this long, leaving the batch in hand pending.
    max_outage: float | None = setting(
        None,
        env="MAX_OUTAGE",
        help="Give up after the sink or Redis has been down this many seconds "
        "(exit 3, the batch in hand left pending for other replicas).",
        default_text="off",
    )
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
        if self.max_outage is not None and not self.max_outage > 0:
            raise ConfigError(f"max_outage must be > 0 seconds, got {self.max_outage:g}")
        if self.partitions > 1 and ("{" in self.stream or "}" in self.stream):
            raise ConfigError("a partitioned stream's name can't hold '{' or '}'")

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
        """Settings from the environment, then ``overrides`` (flags; ``None`` = not given).

        ``REDIS_USERNAME``, ``REDIS_PASSWORD`` & co. fill ``connection`` unless
        it is given. Values that don't parse raise ``ConfigError`` naming the
        variable (see ``load``).
        """
        if overrides.get("connection") is None:
            overrides["connection"] = load(ConnectionOptions, environ)
        return load(cls, environ, **overrides)

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


def _check_int(name: str, value: object, *, minimum: int, maximum: int | None = None) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise ConfigError(f"{name} must be {bound}, got {value}")
