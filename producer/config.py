"""``StreamConfig``: the pipeline's ``STREAM_*`` Scrapy settings, validated once."""

from __future__ import annotations

import dataclasses
from typing import Any

from scrapy.settings import BaseSettings

from streamlib import ConfigError, mask_url
from streamlib.connection import validate_url
from streamlib.constants import MAX_PARTITIONS

#: Default bound of the pipeline's buffer, in items (or twice the batch size if larger).
DEFAULT_MAX_PENDING = 10_000


@dataclasses.dataclass(frozen=True, repr=False)
class StreamConfig:
    """Where and how the pipeline sends items; ``repr()`` masks the password."""

    redis_url: str
    stream: str
    batch_size: int
    max_delay: float
    retry_timeout: float
    #: Consumer group whose lag pauses the crawl; ``None``: no backpressure.
    backpressure_group: str | None = None
    backpressure_high: int = 10_000
    backpressure_low: int = 5_000
    backpressure_interval: float = 1.0
    #: Partitions of the stream (``streamlib.partitions``); 1 = one plain stream.
    partitions: int = 1
    #: Items accepted and not yet in Redis before ``process_item`` waits for
    #: room; 0: ``max(10000, 2 x batch_size)``.
    max_pending: int = 0
    #: Item class (dotted path or name) -> record type, over ``envelopes.DEFAULT_ITEM_TYPES``.
    item_types: dict[str, str] = dataclasses.field(default_factory=dict)
    #: Record type -> the fields of its key, over ``envelopes.DEFAULT_KEY_FIELDS``.
    key_fields: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    #: Seconds between two progress lines; 0: none.
    progress_interval: float = 10.0

    def __post_init__(self) -> None:
        validate_url(self.redis_url)
        if not self.stream.strip():
            raise ConfigError("STREAM_NAME must be a non-empty string")
        if not 1 <= self.batch_size <= 100_000:
            raise ConfigError(
                f"STREAM_BATCH_SIZE must be between 1 and 100000, got {self.batch_size}"
            )
        if self.max_delay <= 0:
            raise ConfigError(f"STREAM_MAX_DELAY must be > 0 seconds, got {self.max_delay:g}")
        if self.retry_timeout < 0:
            raise ConfigError(f"STREAM_RETRY_TIMEOUT must be >= 0, got {self.retry_timeout:g}")
        self._settle_max_pending()
        if not 1 <= self.partitions <= MAX_PARTITIONS:
            raise ConfigError(
                f"STREAM_PARTITIONS must be between 1 and {MAX_PARTITIONS}, got {self.partitions}"
            )
        if self.partitions > 1 and ("{" in self.stream or "}" in self.stream):
            raise ConfigError("a partitioned stream's name can't hold '{' or '}'")
        if self.backpressure_group is not None:
            if not 0 <= self.backpressure_low < self.backpressure_high:
                raise ConfigError(
                    "backpressure needs 0 <= STREAM_BACKPRESSURE_LOW < STREAM_BACKPRESSURE_HIGH, "
                    f"got {self.backpressure_low} and {self.backpressure_high}"
                )
            if self.backpressure_interval <= 0:
                raise ConfigError("STREAM_BACKPRESSURE_INTERVAL must be > 0 seconds")

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
    def from_settings(cls, settings: BaseSettings) -> StreamConfig:
        """The config in Scrapy ``settings``; ``ConfigError`` names a bad setting."""
        group = str(settings.get("STREAM_BACKPRESSURE_GROUP") or "").strip() or None
        return cls(
            redis_url=str(settings.get("STREAM_REDIS_URL") or ""),
            stream=str(settings.get("STREAM_NAME") or ""),
            batch_size=_number(settings, "STREAM_BATCH_SIZE", int),
            max_delay=_number(settings, "STREAM_MAX_DELAY", float),
            retry_timeout=_number(settings, "STREAM_RETRY_TIMEOUT", float),
            backpressure_group=group,
            backpressure_high=_number(settings, "STREAM_BACKPRESSURE_HIGH", int),
            backpressure_low=_number(settings, "STREAM_BACKPRESSURE_LOW", int),
            backpressure_interval=_number(settings, "STREAM_BACKPRESSURE_INTERVAL", float),
            max_pending=(
                _number(settings, "STREAM_MAX_PENDING", int)
                if settings.get("STREAM_MAX_PENDING") not in (None, "")
                else 0
            ),
            item_types={str(k): str(v) for k, v in settings.getdict("STREAM_ITEM_TYPES").items()},
            key_fields={
                str(k): tuple(v.split(",") if isinstance(v, str) else v)
                for k, v in settings.getdict("STREAM_KEY_FIELDS").items()
            },
            progress_interval=(
                _number(settings, "STREAM_PROGRESS_INTERVAL", float)
                if settings.get("STREAM_PROGRESS_INTERVAL") not in (None, "")
                else 10.0
            ),
            partitions=(
                _number(settings, "STREAM_PARTITIONS", int)
                if settings.get("STREAM_PARTITIONS") not in (None, "")
                else 1
            ),
        )

    def __repr__(self) -> str:
        fields = dataclasses.asdict(self)
        fields["redis_url"] = mask_url(self.redis_url)
        return "StreamConfig(" + ", ".join(f"{k}={v!r}" for k, v in fields.items()) + ")"


def _number(settings: BaseSettings, name: str, kind: type[int] | type[float]) -> Any:
    raw = settings.get(name)
    try:
        return kind(str(raw).strip()) if not isinstance(raw, int | float) else kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
