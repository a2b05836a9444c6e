"""rediss:// with verification on, and credentials kept apart from the URL."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from streamlib import (
    ConfigError,
    ProducerUnavailable,
    RedisUnavailable,
    StreamProducer,
    StreamSettings,
    connect,
)
from streamlib.connection import ConnectionOptions, client_from_url
from streamlib.testing import LocalRedis, free_port
from tests.support.helpers import quote
from tests.support.tls import TLSFiles, make_tls_files, server_tls_args

SECRET = "tls-Secret-42"


@pytest.fixture
def tls_server(
    redis_factory: Callable[..., LocalRedis], tmp_path: Path
) -> tuple[LocalRedis, int, TLSFiles]:
    files = make_tls_files(tmp_path / "tls")
    port = free_port()
    server = redis_factory(
        extra_args=[*server_tls_args(files, port, "optional"), "--requirepass", SECRET]
    )
    return server, port, files


def test_rediss_with_the_right_ca_works(tls_server: tuple[LocalRedis, int, TLSFiles]) -> None:
    _, port, files = tls_server
    options = ConnectionOptions(password=SECRET, tls_ca_file=str(files.ca))
    client = connect(f"rediss://127.0.0.1:{port}/0", options=options, timeout=5)
    assert client.ping()
    assert client.connection_pool.connection_kwargs["ssl_ca_certs"] == str(files.ca)


def test_rediss_with_a_client_certificate(tls_server: tuple[LocalRedis, int, TLSFiles]) -> None:
    _, port, files = tls_server
    options = ConnectionOptions(
        password=SECRET,
        tls_ca_file=str(files.ca),
        tls_cert_file=str(files.client_cert),
        tls_key_file=str(files.client_key),
    )
    assert connect(f"rediss://127.0.0.1:{port}/0", options=options, timeout=5).ping()


def test_a_wrong_ca_fails_fast_with_a_clear_error(
    tls_server: tuple[LocalRedis, int, TLSFiles], tmp_path: Path
) -> None:
    _, port, _ = tls_server
    other = make_tls_files(tmp_path / "other", prefix="other-")
    options = ConnectionOptions(password=SECRET, tls_ca_file=str(other.ca))
    started = time.monotonic()
    with pytest.raises(RedisUnavailable, match=r"TLS handshake .* failed") as info:
        connect(f"rediss://127.0.0.1:{port}/0", options=options, timeout=60)
    assert time.monotonic() - started < 15  # not retried until the timeout
    assert "certificate verify failed" in str(info.value).lower()


def test_settings_take_credentials_and_tls_from_the_environment(
    tls_server: tuple[LocalRedis, int, TLSFiles], tmp_path: Path
) -> None:
    _, port, files = tls_server
    secret_file = tmp_path / "redis_password"
    secret_file.write_text(SECRET + "\n")  # as a Docker secret would be
    env = {
        "REDIS_URL": f"rediss://127.0.0.1:{port}/0",
        "REDIS_PASSWORD_FILE": str(secret_file),
        "REDIS_TLS_CA_FILE": str(files.ca),
    }
    settings = StreamSettings.from_env(env)
    assert settings.connect(timeout=5).ping()
    assert SECRET not in repr(settings)


def test_password_from_the_environment_is_masked(
    redis_factory: Callable[..., LocalRedis],
) -> None:
    server = redis_factory(extra_args=["--requirepass", SECRET])
    settings = StreamSettings.from_env({"REDIS_URL": server.url, "REDIS_PASSWORD": SECRET})
    assert settings.connect(timeout=5).ping()
    assert SECRET not in repr(settings) and SECRET not in str(settings.masked())
    assert "password='***'" in repr(settings.connection)
    with pytest.raises(RedisUnavailable) as info:
        StreamSettings.from_env({"REDIS_URL": server.url}).connect(timeout=1)
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    ("url", "options", "message"),
    [
        ("redis://:p@h/0", ConnectionOptions(password="q"), "has a password already"),
        ("redis://h/0?password=p", ConnectionOptions(password="q"), "has a password already"),
        ("redis://h/0?username=u", ConnectionOptions(username="v"), "has a user name already"),
        ("redis://h/0", ConnectionOptions(password="a", password_file="/x"), "not both"),
        ("redis://h/0", ConnectionOptions(password_file="/nonexistent"), "password file"),
        ("redis://h/0", ConnectionOptions(tls_ca_file="/etc/hostname"), "need a rediss://"),
        ("rediss://h/0", ConnectionOptions(tls_ca_file="/nonexistent"), "TLS file not found"),
        ("rediss://h/0", ConnectionOptions(tls_cert_file="/etc/hostname"), "needs its key"),
    ],
)
def test_conflicting_or_missing_options_are_config_errors(
    url: str, options: ConnectionOptions, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        options.client_kwargs(url)


def test_the_producer_does_not_retry_refused_credentials_or_a_wrong_ca(
    tls_server: tuple[LocalRedis, int, TLSFiles], tmp_path: Path
) -> None:
    server, port, _ = tls_server
    other = make_tls_files(tmp_path / "other", prefix="other-")
    cases = [
        (server.url, ConnectionOptions(password=SECRET + "-wrong"), "refused the connection"),
        (
            f"rediss://127.0.0.1:{port}/0",
            ConnectionOptions(password=SECRET, tls_ca_file=str(other.ca)),
            "certificate verify failed",
        ),
    ]
    for url, options, message in cases:
        producer = StreamProducer(client_from_url(url, options), "s", retry_timeout=120)
        started = time.monotonic()
        with pytest.raises(ProducerUnavailable, match=message) as info:
            producer.send_many([quote(1)])
        assert time.monotonic() - started < 15 and producer.retries == 0
        assert info.value.undelivered == 1 and SECRET not in str(info.value)
