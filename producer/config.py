"""``StreamConfig``: the stream pipeline's settings, every default written here once.

Each field is a row of one table (``streamlib.settings.setting``): its
default, its name, which is both the Scrapy setting and the environment
variable (``STREAM_BATCH_SIZE``), and its help text. ``from_settings``
builds the config from a crawler's Scrapy settings, then the environment
(``streamlib.settings.load``, the one reader of it), then these defaults, so
the pipeline works in any Scrapy project from settings alone. The URL falls
back to ``REDIS_URL``, the stream to ``STREAM``, the partitions to
``PARTITIONS`` and the backpressure group to ``GROUP``, the names the
consumer reads: flow control on the group's lag is on wherever the
consumers' group is named, and ``off`` turns it off. Validated once;
``repr()`` masks the password.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from scrapy.settings import BaseSettings

from streamlib import ConfigError, mask_url
from streamlib.connection import validate_url
from streamlib.constants import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_REDIS_URL,
    DEFAULT_STREAM,
    MAX_PARTITIONS,
)
from streamlib.flow import LagLimits
from streamlib.settings import BOOLEANS, load, parse_value, setting, setting_fields

#: Default bound of the pipeline's buffer, in items (or twice the batch size if larger).
DEFAULT_MAX_PENDING = 10_000


@dataclasses.dataclass(frozen=True, repr=False)
class StreamConfig:
    """Where and how the pipeline sends items; ``repr()`` masks the password."""

    redis_url: str = setting(
        DEFAULT_REDIS_URL,
        env="STREAM_REDIS_URL",
        fallback_env=("REDIS_URL",),
        help="Where the stream lives (redis://, rediss://, unix://, redis+cluster://).",
    )
    stream: str = setting(
        DEFAULT_STREAM, env="STREAM_NAME", fallback_env=("STREAM",), help="The stream."
    )
    batch_size: int = setting(
        DEFAULT_BATCH_SIZE, env="STREAM_BATCH_SIZE", help="Items per pipelined XADD round trip."
    )
    max_delay: float = setting(
        1.0,
        env="STREAM_MAX_DELAY",
        help="Seconds an item waits at most in the buffer for its batch to fill.",
    )
    retry_timeout: float = setting(
        60.0,
        env="STREAM_RETRY_TIMEOUT",
        help="Seconds a batch is resent while Redis is unreachable before the crawl stops.",
    )
    #: 0 in the table: ``max(10000, 2 x batch_size)``, settled by validation.
    max_pending: int = setting(
        0,
        env="STREAM_MAX_PENDING",
        help="Items accepted and not yet in Redis before process_item waits for room.",
        default_text=f"{DEFAULT_MAX_PENDING}, or twice STREAM_BATCH_SIZE if larger",
    )
    partitions: int = setting(
        1,
        env="STREAM_PARTITIONS",
        fallback_env=("PARTITIONS",),
        help="Partitions of the stream (docs/cluster.md).",
    )
    #: ``None`` after validation: no backpressure (nothing named, or ``off``).
    backpressure_group: str | None = setting(
        None,
        env="STREAM_BACKPRESSURE_GROUP",
        fallback_env=("GROUP",),
        help="Consumer group whose lag pauses the crawl (off: never pause).",
        default_text="off",
    )
    backpressure_high: int = setting(
        10_000, env="STREAM_BACKPRESSURE_HIGH", help="Pause when the group's lag reaches this."
    )
    backpressure_low: int = setting(
        5_000, env="STREAM_BACKPRESSURE_LOW", help="Resume when it is down to this."
    )
    backpressure_interval: float = setting(
        1.0, env="STREAM_BACKPRESSURE_INTERVAL", help="Seconds between two lag checks."
    )
    progress_interval: float = setting(
        10.0, env="STREAM_PROGRESS_INTERVAL", help="Seconds between progress lines (0: none)."
    )
    #: Item class (dotted path or name) -> record type; JSON text is parsed.
    item_types: Mapping[str, str] = setting(
        env="STREAM_ITEM_TYPES",
        help="Item class (dotted path or name) -> record type, as a dict or JSON.",
        default_factory=dict,
        default_text="QuoteItem -> quote, AuthorItem -> author",
    )
    #: Record type -> the fields of its key; JSON text and "a,b" lists are parsed.
    key_fields: Mapping[str, tuple[str, ...]] = setting(
        env="STREAM_KEY_FIELDS",
        help="Record type -> the fields its key is made of, as a dict or JSON.",
        default_factory=dict,
        default_text="quote: text, author; author: name",
    )

    def __post_init__(self) -> None:
        validate_url(self.redis_url)
        if not isinstance(self.stream, str) or not self.stream.strip():
            raise ConfigError("STREAM_NAME must be a non-empty string")
        if not 1 <= self.batch_size <= 100_000:
            raise ConfigError(
                f"STREAM_BATCH_SIZE must be between 1 and 100000, got {self.batch_size}"
            )
        if self.max_delay <= 0:
            raise ConfigError(f"STREAM_MAX_DELAY must be > 0 seconds, got {self.max_delay:g}")
        if self.retry_timeout < 0:
            raise ConfigError(f"STREAM_RETRY_TIMEOUT must be >= 0, got {self.retry_timeout:g}")
        if self.progress_interval < 0:
            raise ConfigError(
                f"STREAM_PROGRESS_INTERVAL must be >= 0, got {self.progress_interval:g}"
            )
        self._settle_max_pending()
        if not 1 <= self.partitions <= MAX_PARTITIONS:
            raise ConfigError(
                f"STREAM_PARTITIONS must be between 1 and {MAX_PARTITIONS}, got {self.partitions}"
            )
        if self.partitions > 1 and ("{" in self.stream or "}" in self.stream):
            raise ConfigError("a partitioned stream's name can't hold '{' or '}'")
        group = _group_or_off(self.backpressure_group)
        object.__setattr__(self, "backpressure_group", group)
        if group is not None:
            self.backpressure_limits()
            if self.backpressure_interval <= 0:
                raise ConfigError("STREAM_BACKPRESSURE_INTERVAL must be > 0 seconds")
        object.__setattr__(self, "item_types", _item_types(self.item_types))
        object.__setattr__(self, "key_fields", _key_fields(self.key_fields))

    def backpressure_limits(self) -> LagLimits:
        """Pause the crawl at a lag of ``STREAM_BACKPRESSURE_HIGH``, resume at ``_LOW``."""
        try:
            return LagLimits(high=self.backpressure_high, low=self.backpressure_low)
        except ConfigError:
            raise ConfigError(
                "backpressure needs 0 <= STREAM_BACKPRESSURE_LOW < STREAM_BACKPRESSURE_HIGH, "
                f"got {self.backpressure_low} and {self.backpressure_high}"
            ) from None

    def _settle_max_pending(self) -> None:
        """The buffer bound: the default for 0, else at least one batch."""
        if self.max_pending == 0:
            object.__setattr__(self, "max_pending", max(DEFAULT_MAX_PENDING, 2 * self.batch_size))
        elif self.max_pending < self.batch_size:
            raise ConfigError(
                f"STREAM_MAX_PENDING must be >= STREAM_BATCH_SIZE ({self.batch_size}), "
                f"got {self.max_pending}"
            )

    @classmethod
    def from_settings(
        cls, settings: BaseSettings, environ: Mapping[str, str] | None = None
    ) -> StreamConfig:
        """Scrapy ``settings``, then the environment, then the defaults.

        ``ConfigError`` names a bad setting. A Scrapy setting that is unset,
        ``None`` or empty counts as not given.
        """
        given: dict[str, Any] = {}
        for row in setting_fields(cls):
            value = settings.get(row.env)
            if value is None or value == "":
                continue
            given[row.name] = parse_value(row, value) if isinstance(value, str) else value
        return load(cls, environ, **given)

    def __repr__(self) -> str:
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        fields["redis_url"] = mask_url(self.redis_url)
        return "StreamConfig(" + ", ".join(f"{k}={v!r}" for k, v in fields.items()) + ")"


def _group_or_off(value: Any) -> str | None:
    """The backpressure group's name; ``None`` for none given or one of the "no" words.

    ``off`` (or ``no``, ``false``, ``0``, the words of a yes/no setting, any
    case; ``False`` in a settings file) turns backpressure off; a "yes" word
    or a blank names no group and is an error.
    """
    if value is None or value is False:
        return None
    name = value.strip() if isinstance(value, str) else ""
    word = BOOLEANS.get(name.lower())
    if word is False:
        return None
    if not name or word is True:
        raise ConfigError(
            f"STREAM_BACKPRESSURE_GROUP={value!r} names no consumer group: "
            "give the group's name, or off to turn backpressure off"
        )
    return name


def _mapping(value: Any, name: str) -> Mapping[str, Any]:
    """A dict setting, given as a dict or as JSON text (``-s`` and the environment)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ConfigError(f"{name} must be a JSON object, got {value!r}") from None
    if not isinstance(value, Mapping):
        raise ConfigError(f"{name} must be a mapping, got {value!r}")
    return value


def _item_types(value: Any) -> dict[str, str]:
    types = _mapping(value, "STREAM_ITEM_TYPES")
    for cls, kind in types.items():
        if not isinstance(kind, str) or not kind.strip():
            raise ConfigError(f"STREAM_ITEM_TYPES: the type of {cls!r} must be a non-empty string")
    return {str(k): v for k, v in types.items()}


def _key_fields(value: Any) -> dict[str, tuple[str, ...]]:
    found = {}
    for kind, fields in _mapping(value, "STREAM_KEY_FIELDS").items():
        names = fields.split(",") if isinstance(fields, str) else fields
        if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
            raise ConfigError(f"STREAM_KEY_FIELDS: the fields of {kind!r} must be a list of names")
        found[str(kind)] = tuple(n.strip() for n in names if n.strip())
    return found
