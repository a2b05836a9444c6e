"""Redis clients from URLs, and URLs safe to print.

Supported: ``redis://[user:password@]host[:port][/db]``, ``rediss://`` (TLS,
same shape; ``ssl_ca_certs`` etc. as query parameters), and
``unix://[user:password@]/path/to/socket[?db=N]``.

Every client speaks RESP2 (``protocol=2``), chosen here and nowhere else, so
the reply shapes of XINFO, XPENDING and XAUTOCLAIM are the ones streamlib is
tested against. Replies stay ``bytes`` (``decode_responses=False``): an entry
with invalid UTF-8 is then a poison entry to dead-letter, not a client crash.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .backoff import Backoff
from .errors import ConfigError, RedisUnavailable

log = logging.getLogger(__name__)

SCHEMES = ("redis", "rediss", "unix")
#: One protocol for every client streamlib makes (see module docstring).
PROTOCOL = 2


def validate_url(url: str) -> None:
    """Raise ``ConfigError`` unless ``url`` is a Redis URL streamlib can use."""
    if not isinstance(url, str) or not url:
        raise ConfigError("Redis URL must be a non-empty string")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ConfigError(f"invalid Redis URL {mask_url(url)!r}: {exc}") from None
    if parts.scheme not in SCHEMES:
        raise ConfigError(
            f"invalid Redis URL {mask_url(url)!r}: scheme must be one of "
            f"{', '.join(s + '://' for s in SCHEMES)}"
        )
    if parts.scheme == "unix" and not parts.path:
        raise ConfigError(f"invalid Redis URL {mask_url(url)!r}: unix:// needs a socket path")
    if parts.scheme != "unix" and not parts.hostname:
        raise ConfigError(f"invalid Redis URL {mask_url(url)!r}: no host")


def mask_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (the user name is kept)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{user}:***@{host}" + (f":{port}" if port is not None else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def client_from_url(url: str, **kwargs: Any) -> redis.Redis:
    """A client for ``url`` without talking to Redis yet.

    Retries inside redis-py are off: streamlib retries in one place (its
    callers' ``Backoff``), so a failed command is never silently sent twice.
    """
    validate_url(url)
    options: dict[str, Any] = {
        "protocol": PROTOCOL,
        "decode_responses": False,
        "socket_timeout": 30.0,
        "socket_connect_timeout": 5.0,
        "socket_keepalive": True,
        "health_check_interval": 30,
        "retry": Retry(NoBackoff(), 0),
    }
    if url.startswith("unix:"):
        del options["socket_keepalive"]  # a TCP option; unix sockets refuse it
    options.update(kwargs)
    try:
        return redis.Redis.from_url(url, **options)
    except ValueError as exc:  # redis-py's own URL checks
        raise ConfigError(f"invalid Redis URL {mask_url(url)!r}: {exc}") from None


def connect(url: str, *, timeout: float = 30.0, **kwargs: Any) -> redis.Redis:
    """A client for ``url`` that answered PING, retrying with backoff up to ``timeout`` s.

    Raises ``RedisUnavailable`` (with the masked URL and the last error) when
    Redis does not answer in time; ``ConfigError`` for a bad URL.
    """
    client = client_from_url(url, **kwargs)
    ping_until(client, url, timeout=timeout)
    return client


def ping_until(client: redis.Redis, url: str, *, timeout: float) -> None:
    """PING ``client`` until it answers or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    backoff = Backoff(base=0.05, cap=2.0)
    while True:
        try:
            client.ping()
            return
        except redis.AuthenticationError as exc:
            raise RedisUnavailable(f"Redis at {mask_url(url)} refused the credentials") from exc
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RedisUnavailable(
                    f"Redis at {mask_url(url)} did not answer within {timeout:g}s: "
                    f"{_safe_error(exc, url)}"
                ) from None
            delay = min(backoff.next_delay(), left)
            log.warning(
                "Redis at %s unreachable (%s); retrying in %.2fs",
                mask_url(url),
                _safe_error(exc, url),
                delay,
            )
            time.sleep(delay)


def _safe_error(exc: BaseException, url: str) -> str:
    """An exception's message with the URL's password, if any, masked."""
    text = str(exc) or type(exc).__name__
    password = urlsplit(url).password
    return text.replace(password, "***") if password else text
