"""The plumbing of ``streamctl``: exit codes, error mapping, shared options, value types.

Every command gets ``--redis-url/--stream/--group/--dead-letter-stream/--partitions/
--partition/--timeout/--json`` through ``common_options`` (the options, their
variables and help generated from the settings tables, ``settings_options``;
the environment is read by ``streamlib.settings`` alone) and works on a
``Ctl``: the stream's settings, the partition chosen (``None``: all of them)
and the output mode. Failures from streamlib and redis-py become
``CommandError``s with the documented exit codes, their messages scrubbed of
the Redis password.
"""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click
import redis

from ..connection import mask_secrets
from ..durations import parse_duration_ms
from ..errors import ConfigError, NotFound, RedisUnavailable, StreamlibError
from ..partitions import partition_settings
from ..settings import StreamSettings, load, setting, setting_fields
from ..streamids import StreamId
from . import output

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


# -- what a command works on ---------------------------------------------------------


@dataclasses.dataclass
class Ctl:
    """What a command works on: the stream's settings, the partition(s), the output mode."""

    settings: StreamSettings
    timeout: float
    as_json: bool
    #: The partition chosen with ``--partition``; ``None``: every partition.
    partition: int | None = None
    _client: redis.Redis | None = None

    @property
    def client(self) -> redis.Redis:
        """A client that answered PING (``RedisUnavailable`` otherwise)."""
        if self._client is None:
            self._client = self.settings.connect(timeout=self.timeout)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    @property
    def partitioned(self) -> bool:
        """Whether the stream has several partitions (output then names them)."""
        return self.settings.partitions > 1

    @property
    def where(self) -> str:
        """The stream as a person reads it: ``quotes``, ``quotes (4 partitions)``, ..."""
        s = self.settings
        if not self.partitioned:
            return s.stream
        if self.partition is None:
            return f"{s.stream} ({s.partitions} partitions)"
        return f"{s.stream} (partition {self.partition} of {s.partitions})"

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
        """A table of rows that start with their partition (see ``output.partition_table``)."""
        return output.partition_table(headers, rows, partitioned=self.partitioned)

    def ref(self, partition: int, entry_id: str) -> str:
        """``N/ID`` on a partitioned stream, ``ID`` on a plain one."""
        return output.ref(partition, entry_id, partitioned=self.partitioned)

    def lines(self, rows: Sequence[tuple[int, str]]) -> str:
        """One line per partition, prefixed ``partition N:`` on a partitioned stream."""
        return "\n".join(f"partition {p}: {line}" if self.partitioned else line for p, line in rows)

    def emit(self, document: Any, render: Callable[[], str]) -> None:
        """The JSON document with ``--json``, else the readable text."""
        click.echo(output.dumps(document) if self.as_json else render())


# -- the options every command takes ------------------------------------------------

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
            shown = f"{row.help}  [default: {row.default_text}; env {row.env}]"
            if row.kind is bool:  # --read-ahead / --no-read-ahead
                flags = f"{row.flag}/--no-{row.flag.removeprefix('--')}"
                func = click.option(flags, name, default=None, help=shown)(func)
            else:
                func = click.option(
                    row.flag, name, type=_CLICK_TYPES[row.kind], default=None, help=shown
                )(func)
        return func

    return decorate


@dataclasses.dataclass(frozen=True)
class CtlOptions:
    """What ``streamctl`` needs beyond ``StreamSettings`` (``load(CtlOptions)`` reads them)."""

    timeout: float = setting(
        5.0, env="STREAMCTL_TIMEOUT", help="Seconds to keep trying to reach Redis."
    )

    def __post_init__(self) -> None:
        if self.timeout < 0.1:
            raise ConfigError(f"timeout must be >= 0.1 s, got {self.timeout:g}")


_STREAM_SETTINGS = ("redis_url", "stream", "group", "dead_letter_stream", "partitions")
_COMMON = (*_STREAM_SETTINGS, "partition", "timeout", "as_json")


def common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the options every command takes (see the module doc); pass a ``Ctl``.

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
                consumer="streamctl", **{name: common[name] for name in _STREAM_SETTINGS}
            )
            ctx.meta["streamctl.url"] = settings.redis_url
            options = load(CtlOptions, timeout=common["timeout"])
            if common["partition"] is not None:
                partition_settings(settings, common["partition"])  # in range?
        except ConfigError as exc:
            raise CommandError(str(exc)) from None
        ctl = Ctl(settings, options.timeout, common["as_json"], common["partition"])
        try:
            return func(ctl, **kwargs)
        finally:
            ctl.close()

    options = [
        settings_options(StreamSettings, *_STREAM_SETTINGS),
        click.option(
            "--partition",
            type=click.IntRange(min=0),
            default=None,
            help="Work on partition N only [default: all].",
        ),
        settings_options(CtlOptions, "timeout"),
        click.option("--json", "as_json", is_flag=True, help="Print one JSON document."),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


# -- value types ----------------------------------------------------------------------


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
