import streamlib

EXPECTED = {
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
}


def test_the_public_surface_is_exactly_what_is_documented() -> None:
    assert set(streamlib.__all__) == EXPECTED
    assert len(streamlib.__all__) == len(EXPECTED)  # no name listed twice
    for name in streamlib.__all__:
        assert hasattr(streamlib, name), name


def test_every_error_derives_from_the_root() -> None:
    for name in (
        "ConfigError",
        "DecodeError",
        "OutageError",
        "RecordError",
        "RedisUnavailable",
        "ProducerUnavailable",
    ):
        assert issubclass(getattr(streamlib, name), streamlib.StreamlibError)
