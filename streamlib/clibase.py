"""The plumbing of ``streamctl``: exit codes, error mapping, shared options, value types.

Every command gets ``--redis-url/--stream/--group/--dead-letter-stream/--timeout/--json``
through ``common_options`` and works on a ``Ctl``; failures from streamlib and
redis-py become ``CommandError``s with the documented exit codes, their
messages scrubbed of the Redis password.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click
import redis

from . import clifmt
from .connection import mask_secrets
from .durations import parse_duration_ms
from .errors import ConfigError, NotFound, RedisUnavailable, StreamlibError
from .partitions import partition_settings
from .settings import StreamSettings, setting_fields
from .streamids import StreamId

EXIT_OK = 0
EXIT_USAGE = 1
EXIT_UNAVAILABLE = 2
EXIT_NOT_FOUND = 3


class CommandError(click.ClickException):
    """A failure reported on stderr (exit 1: usage, bad input, refused)."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str) -> None:
        super().__init__(_scrub(message))


class UnavailableError(CommandError):
    """Redis unreachable or credentials refused (exit 2)."""

    exit_code = EXIT_UNAVAILABLE


class NotFoundError(CommandError):
    """Stream, group or dead letter not found (exit 3)."""

    exit_code = EXIT_NOT_FOUND


def _scrub(message: str) -> str:
    """``message`` without the password of the Redis URL in use, if any."""
    ctx = click.get_current_context(silent=True)
    url = ctx.meta.get("streamctl.url") if ctx is not None else None
    if isinstance(url, str):
        message = mask_secrets(message, url)
    return message


def _translate(exc: Exception) -> CommandError:
    """The ``CommandError`` (message and exit code) for a failure inside a command."""
    if isinstance(exc, NotFound):
        return NotFoundError(str(exc))
    if isinstance(exc, RedisUnavailable):
        return UnavailableError(str(exc))
    if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
        return UnavailableError(f"Redis unreachable: {exc}")
    if isinstance(exc, redis.ResponseError) and str(exc).startswith("NOGROUP"):
        return NotFoundError(str(exc))
    if isinstance(exc, redis.ResponseError):
        return CommandError(f"Redis refused: {exc}")
    return CommandError(str(exc))


class StreamctlGroup(click.Group):
    """The root group: maps failures to the documented exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (StreamlibError, redis.RedisError) as exc:
            raise _translate(exc) from None

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Like click's, but a usage error exits 1 (click uses 2: ours means "unreachable")."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            result = super().main(args, prog_name, complete_var, False, **extra)
        except click.ClickException as exc:
            exc.show()
            sys.exit(EXIT_USAGE if isinstance(exc, click.UsageError) else exc.exit_code)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(EXIT_USAGE)
        sys.exit(result if isinstance(result, int) else EXIT_OK)


# -- the options every command takes ------------------------------------------------

_COMMON = (
    "redis_url",
    "stream",
    "group",
    "dead_letter_stream",
    "partitions",
    "partition",
    "timeout",
    "as_json",
)

#: Commands that work across all partitions at once; the others need ``--partition N``.
ACROSS_PARTITIONS = frozenset({"info", "pending", "trim", "dead_list"})


@dataclasses.dataclass
class Ctl:
    """What a command works on: settings, a lazily connected client, the output mode."""

    settings: StreamSettings
    timeout: float
    as_json: bool
    _client: redis.Redis | None = None
    #: The partition chosen with ``--partition`` (``settings`` is then that partition's).
    partition: int | None = None

    @property
    def across_partitions(self) -> bool:
        """Whether the command is to work on every partition (P > 1, no ``--partition``)."""
        return self.settings.partitions > 1

    @property
    def client(self) -> redis.Redis:
        """A client that answered PING (``RedisUnavailable`` otherwise)."""
        if self._client is None:
            self._client = self.settings.connect(timeout=self.timeout)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def emit(self, document: Any, render: Callable[[], str]) -> None:
        """The JSON document with ``--json``, else the readable text."""
        click.echo(clifmt.dumps(document) if self.as_json else render())


F = TypeVar("F", bound=Callable[..., Any])

#: The click type of each kind of setting.
_CLICK_TYPES: dict[type, click.ParamType[Any, Any]] = {
    int: click.INT,
    float: click.FLOAT,
    str: click.STRING,
}


def settings_options(cls: type, *names: str) -> Callable[[F], F]:
    """Click options for the named ``setting()`` fields of a settings class.

    Flag, type, help and the default shown in it come from the field table
    (``streamlib.settings``). Every option defaults to ``None`` ("not given"),
    so that ``load()`` / ``from_env()`` can apply the environment and then the
    class's default: the environment is read there, not by click.
    """
    rows = {row.name: row for row in setting_fields(cls)}
    unknown = set(names) - set(rows)
    if unknown:
        raise ValueError(f"{cls.__name__} has no setting {', '.join(sorted(unknown))}")

    def decorate(func: F) -> F:
        for name in reversed(names):
            row = rows[name]
            func = click.option(
                row.flag,
                name,
                type=_CLICK_TYPES[row.kind],
                default=None,
                help=f"{row.help}  [default: {row.default_text}; env {row.env}]",
            )(func)
        return func

    return decorate


def common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add --redis-url/--stream/--group/--dead-letter-stream/--timeout/--json; pass a ``Ctl``.

    A subcommand takes the values given to its parent group when it wasn't
    given its own (``streamctl consumers --stream s prune`` works too).
    """

    @functools.wraps(func)
    def wrapper(**kwargs: Any) -> Any:
        ctx = click.get_current_context()
        common = {name: kwargs.pop(name) for name in _COMMON}
        parent = ctx.parent
        if parent is not None and all(name in parent.params for name in _COMMON):
            default = click.core.ParameterSource.DEFAULT
            for name in _COMMON:
                mine, theirs = ctx.get_parameter_source(name), parent.get_parameter_source(name)
                if mine is default and theirs is not default:
                    common[name] = parent.params[name]
        if common["redis_url"] is not None:
            ctx.meta["streamctl.url"] = common["redis_url"]
        try:
            # Flags, then the environment (REDIS_URL, REDIS_PASSWORD_FILE & co.), then defaults.
            settings = StreamSettings.from_env(
                redis_url=common["redis_url"],
                stream=common["stream"],
                group=common["group"],
                dead_letter_stream=common["dead_letter_stream"] or None,
                partitions=common["partitions"],
                consumer="streamctl",
            )
            ctx.meta["streamctl.url"] = settings.redis_url
            if common["partition"] is not None:
                # One partition: every command works on it as on a plain stream.
                settings = partition_settings(settings, common["partition"])
        except ConfigError as exc:
            raise CommandError(str(exc)) from None
        if settings.partitions > 1 and func.__name__ not in ACROSS_PARTITIONS:
            raise CommandError(
                f"{ctx.command_path} across partitions is not yet supported; "
                "give --partition N for one partition"
            )
        ctl = Ctl(settings, common["timeout"], common["as_json"], partition=common["partition"])
        try:
            return func(ctl, **kwargs)
        finally:
            ctl.close()

    options = [
        settings_options(
            StreamSettings, "redis_url", "stream", "group", "dead_letter_stream", "partitions"
        ),
        click.option(
            "--partition",
            type=click.IntRange(min=0),
            default=None,
            help="Work on partition N only [default: all].",
        ),
        click.option(
            "--timeout",
            envvar="STREAMCTL_TIMEOUT",
            type=click.FloatRange(min=0.1),
            default=5.0,
            show_default=True,
            help="Seconds to keep trying to reach Redis.",
        ),
        click.option("--json", "as_json", is_flag=True, help="Print one JSON document."),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


class Duration(click.ParamType[int, Any]):
    """``1500`` (ms), ``250ms``, ``30s``, ``5m``, ``1h``, ``2d`` -> milliseconds."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            return parse_duration_ms(str(value))
        except ConfigError as exc:
            self.fail(str(exc), param, ctx)


DURATION = Duration()


class EntryId(click.ParamType[str, Any]):
    """A stream entry id, ``<ms>-<seq>`` (or ``<ms>``)."""

    name = "id"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return str(StreamId.parse(str(value)))
        except ConfigError as exc:
            self.fail(str(exc), param, ctx)


ENTRY_ID = EntryId()
