"""streamlib: reliable Redis Streams producers and consumer groups.

Knows Redis Streams; knows nothing about quotes or Scrapy. See DESIGN.md and
README.md for the envelope and the delivery semantics.
"""

from __future__ import annotations

from .backoff import Backoff
from .codec import Envelope, decode, encode, fingerprint
from .connection import ConnectionOptions, client_from_url, connect, mask_url
from .consumer import BatchResult, ConsumerStats, GroupConsumer, Handler, Message
from .deadletter import DeadLetter, parse_dead_letter
from .errors import (
    ConfigError,
    DecodeError,
    GroupNotFound,
    NoGroups,
    NotFound,
    OutageError,
    ProducerUnavailable,
    RecordError,
    RedisUnavailable,
    StreamlibError,
    StreamNotFound,
)
from .groupinfo import GroupInfo
from .partitions import partition_of, partition_stream
from .producer import PartitionedProducer, StreamProducer
from .replica import PartitionedConsumer
from .settings import StreamSettings
from .signals import install_stop_handlers

__version__ = "0.1.0"

__all__ = [
    "Backoff",
    "BatchResult",
    "ConfigError",
    "ConnectionOptions",
    "ConsumerStats",
    "DeadLetter",
    "DecodeError",
    "Envelope",
    "GroupConsumer",
    "GroupInfo",
    "GroupNotFound",
    "Handler",
    "Message",
    "NoGroups",
    "NotFound",
    "OutageError",
    "PartitionedConsumer",
    "PartitionedProducer",
    "ProducerUnavailable",
    "RecordError",
    "RedisUnavailable",
    "StreamNotFound",
    "StreamProducer",
    "StreamSettings",
    "StreamlibError",
    "__version__",
    "client_from_url",
    "connect",
    "decode",
    "encode",
    "fingerprint",
    "install_stop_handlers",
    "mask_url",
    "parse_dead_letter",
    "partition_of",
    "partition_stream",
]
