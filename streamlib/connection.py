"""Redis clients from URLs, and URLs safe to print.

Supported: ``redis://[user:password@]host[:port][/db]``, ``rediss://`` (TLS,
same shape; ``ssl_ca_certs`` etc. as query parameters), and
``unix://[user:password@]/path/to/socket[?db=N]``; and Redis Cluster as
``redis+cluster://host:port`` or ``rediss+cluster://host:port`` (any one node
of the cluster: the client discovers the others; no database number).

Every client speaks RESP2 (``protocol=2``), chosen here and nowhere else, so
the reply shapes of XINFO, XPENDING and XAUTOCLAIM are the ones streamlib is
tested against. Replies stay ``bytes`` (``decode_responses=False``): an entry
with invalid UTF-8 is then a poison entry to dead-letter, not a client crash.
"""

from __future__ import annotations

import dataclasses
import logging
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

import redis
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException
from redis.retry import Retry

from .backoff import Backoff
from .errors import ConfigError, RedisUnavailable

log = logging.getLogger(__name__)

SCHEMES = ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster")
#: The scheme suffix that asks for a ``redis.cluster.RedisCluster`` client.
CLUSTER_SUFFIX = "+cluster"
#: One protocol for every client streamlib makes (see module docstring).
PROTOCOL = 2


def validate_url(url: str) -> None:
    """Raise ``ConfigError`` unless ``url`` is a Redis URL streamlib can use.

    The message shows the URL masked, and nothing of a value that is not a
    ``scheme://`` URL at all (a password put in ``REDIS_URL`` by mistake).
    """
    if not isinstance(url, str) or not url:
        raise ConfigError("Redis URL must be a non-empty string")
    shown = repr(mask_url(url)) if "://" in url else "(not a scheme:// URL; value not shown)"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        # The parser's message may quote a piece of a password that was not encoded.
        reason = "can't parse it" if url_secrets(url) else str(exc)
        raise ConfigError(f"invalid Redis URL {shown}: {reason}") from None
    if _split_userinfo(url) is not None and "@" not in parts.netloc:
        raise ConfigError(
            f"invalid Redis URL {shown}: percent-encode a password's '/', '#', '?' and '@'"
        )
    if parts.scheme not in SCHEMES:
        raise ConfigError(
            f"invalid Redis URL {shown}: scheme must be one of "
            f"{', '.join(s + '://' for s in SCHEMES)}"
        )
    if parts.scheme == "unix" and not parts.path:
        raise ConfigError(f"invalid Redis URL {shown}: unix:// needs a socket path")
    if parts.scheme != "unix" and not parts.hostname:
        raise ConfigError(f"invalid Redis URL {shown}: no host")
    if is_cluster_url(url) and parts.path.strip("/") not in ("", "0"):
        raise ConfigError(f"invalid Redis URL {shown}: Redis Cluster has only database 0")


def _split_userinfo(url: str) -> tuple[str, str, str] | None:
    """``(before, password, after)`` when ``url``'s user info holds a password.

    Found by plain string search, not ``urlsplit``: a password whose ``/``,
    ``#``, ``?`` or ``@`` was not percent-encoded fools a URL parser (part of it
    lands in the path or fragment) but is still cut out here. The user info
    ends at the last ``@`` before any ``?``.
    """
    scheme, sep, rest = url.partition("://")
    head = rest.partition("?")[0]
    if not sep or "@" not in head:
        return None
    userinfo = head.rsplit("@", 1)[0]
    user, colon, password = userinfo.partition(":")
    if not colon:
        return None
    before = f"{scheme}://{user}:"
    return before, password, url[len(before) + len(password) :]


def _query_secrets(url: str) -> list[tuple[str, str]]:
    """``(name, value)`` of query parameters that hold a password (redis-py takes them)."""
    query = url.partition("?")[2].partition("#")[0]
    pairs = (item.partition("=") for item in query.split("&") if item)
    return [(name, value) for name, _, value in pairs if "pass" in name.lower() and value]


def url_secrets(url: str) -> list[str]:
    """Every password in ``url`` (user info, ``?password=``), as written and decoded."""
    found = [value for _, value in _query_secrets(url)]
    userinfo = _split_userinfo(url)
    if userinfo is not None and userinfo[1]:
        found.append(userinfo[1])
    found += [unquote(f) for f in found]
    return sorted({f for f in found if f}, key=len, reverse=True)


def is_cluster_url(url: str) -> bool:
    """Whether ``url`` asks for Redis Cluster (``redis+cluster://``, ``rediss+cluster://``)."""
    return urlsplit(url).scheme.endswith(CLUSTER_SUFFIX)


def mask_url(url: str) -> str:
    """``url`` with its passwords replaced by ``***`` (the user name is kept).

    Masks the user info's password, even one not percent-encoded, and query
    parameters named like ``password``.
    """
    userinfo = _split_userinfo(url)
    if userinfo is not None:
        before, _, after = userinfo
        url = f"{before}***{after}"
    for name, value in _query_secrets(url):
        url = url.replace(f"{name}={value}", f"{name}=***")
    return url


def mask_secrets(text: str, url: str) -> str:
    """``text`` with ``url`` masked and each of its passwords replaced by ``***``."""
    text = text.replace(url, mask_url(url))
    for secret in url_secrets(url):
        text = text.replace(secret, "***")
    return text


def _env(var: str, help: str) -> Any:
    """A ``ConnectionOptions`` field that ``settings.load`` reads from ``var``."""
    return dataclasses.field(
        default=None, metadata={"env": var, "help": help, "default_text": None}
    )


@dataclasses.dataclass(frozen=True, repr=False)
class ConnectionOptions:
    """Credentials and TLS files kept apart from the URL.

    For deployments that don't want a password inside ``REDIS_URL``: a user
    name and password from the environment (``REDIS_USERNAME``,
    ``REDIS_PASSWORD``) or a password file (``REDIS_PASSWORD_FILE``, e.g. a
    Docker secret), and for ``rediss://`` a CA bundle, client certificate and
    key. ``repr()`` masks the password.
    """

    username: str | None = _env("REDIS_USERNAME", "ACL user name.")
    password: str | None = _env("REDIS_PASSWORD", "Password (better: REDIS_PASSWORD_FILE).")
    password_file: str | None = _env("REDIS_PASSWORD_FILE", "File holding the password.")
    tls_ca_file: str | None = _env("REDIS_TLS_CA_FILE", "CA bundle for rediss://.")
    tls_cert_file: str | None = _env("REDIS_TLS_CERT_FILE", "Client certificate for rediss://.")
    tls_key_file: str | None = _env("REDIS_TLS_KEY_FILE", "Client key for rediss://.")

    def client_kwargs(self, url: str) -> dict[str, Any]:
        """redis-py keyword arguments for ``url``; ``ConfigError`` on conflicts."""
        parts = urlsplit(url)
        kwargs: dict[str, Any] = {}
        if self.password is not None and self.password_file is not None:
            raise ConfigError("give REDIS_PASSWORD or REDIS_PASSWORD_FILE, not both")
        password = self.password
        if self.password_file is not None:
            try:
                password = Path(self.password_file).read_text().rstrip("\r\n")
            except OSError as exc:
                # Not the path: a password set as REDIS_PASSWORD_FILE by mistake stays secret.
                raise ConfigError(
                    "can't read the Redis password file named by REDIS_PASSWORD_FILE: "
                    f"{exc.strerror or type(exc).__name__}"
                ) from None
        query = parse_qs(parts.query)  # redis-py takes ?username= and ?password= too
        if password is not None:
            if parts.password is not None or "password" in query:
                raise ConfigError("the Redis URL has a password already; give it only once")
            kwargs["password"] = password
        if self.username is not None:
            if parts.username or "username" in query:
                raise ConfigError("the Redis URL has a user name already; give it only once")
            kwargs["username"] = self.username
        tls = {
            "ssl_ca_certs": self.tls_ca_file,
            "ssl_certfile": self.tls_cert_file,
            "ssl_keyfile": self.tls_key_file,
        }
        given = {k: v for k, v in tls.items() if v is not None}
        if given and parts.scheme not in ("rediss", "rediss+cluster"):
            raise ConfigError("TLS files need a rediss:// URL")
        for path in given.values():
            if not Path(path).is_file():
                raise ConfigError(f"TLS file not found: {path}")
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ConfigError("a TLS client certificate needs its key, and a key its certificate")
        kwargs.update(given)
        return kwargs

    def __repr__(self) -> str:
        fields = dataclasses.asdict(self)
        if fields["password"] is not None:
            fields["password"] = "***"
        body = ", ".join(f"{k}={v!r}" for k, v in fields.items() if v is not None)
        return f"ConnectionOptions({body})"


def _client_defaults(*, retry: Retry) -> dict[str, Any]:
    """The options every streamlib client starts from (RESP2, bytes, timeouts)."""
    return {
        "protocol": PROTOCOL,
        "decode_responses": False,
        "socket_timeout": 30.0,
        "socket_connect_timeout": 5.0,
        "socket_keepalive": True,
        "health_check_interval": 30,
        "retry": retry,
    }


def client_from_url(
    url: str, options: ConnectionOptions | None = None, **kwargs: Any
) -> redis.Redis:
    """A client for ``url`` without talking to Redis yet.

    Retries inside redis-py are off: streamlib retries in one place (its
    callers' ``Backoff``), so a failed command is never silently sent twice.
    """
    validate_url(url)
    if is_cluster_url(url):
        # RedisCluster implements the same command methods streamlib calls on a
        # redis.Redis (keyed commands, pipelines on one slot): see cluster_client_from_url.
        return cast(redis.Redis, cluster_client_from_url(url, options, **kwargs))
    settings = _client_defaults(retry=Retry(NoBackoff(), 0))
    if url.startswith("unix:"):
        del settings["socket_keepalive"]  # a TCP option; unix sockets refuse it
    if options is not None:
        settings.update(options.client_kwargs(url))
    settings.update(kwargs)
    try:
        return redis.Redis.from_url(url, **settings)
    except ValueError as exc:  # redis-py's own URL checks
        raise ConfigError(f"invalid Redis URL {mask_url(url)!r}: {exc}") from None


#: Attempts the cluster client makes itself on MOVED / ASK, TRYAGAIN, CLUSTERDOWN
#: and connection errors (refreshing its slot map in between) before the error
#: reaches streamlib's own backoff.
CLUSTER_CLIENT_RETRIES = 3


def cluster_client_from_url(
    url: str, options: ConnectionOptions | None = None, **kwargs: Any
) -> RedisCluster:
    """A ``redis.cluster.RedisCluster`` for a ``redis+cluster://`` URL, not yet connected.

    Same protocol (RESP2) and reply types (bytes) as every other client. Unlike
    the single-node client, redis-py's own retry is on (a few attempts with
    jittered backoff): that is the cluster client's redirection and failover
    handling (MOVED / ASK, slot-map refresh, a node that went away); streamlib's
    backoff wraps it for longer outages. Construction does not need the
    cluster to be up; the slot map is fetched on first use.
    """
    validate_url(url)
    parts = urlsplit(url)
    plain = urlunsplit(
        (parts.scheme.removesuffix(CLUSTER_SUFFIX), parts.netloc, "", parts.query, "")
    )
    settings = _client_defaults(
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=1.0), CLUSTER_CLIENT_RETRIES)
    )
    if options is not None:
        settings.update(options.client_kwargs(url))
    settings.update(kwargs)
    return _LazyCluster(plain, settings, shown=mask_url(url))


#: XREAD / XREADGROUP options before STREAMS, and how many arguments each takes.
_READ_OPTIONS = {"GROUP": 2, "COUNT": 1, "BLOCK": 1, "NOACK": 0}


def stream_read_keys(args: Sequence[Any]) -> list[Any] | None:
    """The keys of an ``XREAD`` / ``XREADGROUP`` command: the streams after ``STREAMS``.

    ``None`` for any other command, and for a read whose options are not the
    ones above (then the cluster client asks a node, as redis-py does).
    """
    if not args or _word(args[0]) not in ("XREAD", "XREADGROUP"):
        return None
    i = 1
    while i < len(args):
        word = _word(args[i])
        if word == "STREAMS":
            rest = args[i + 1 :]
            return list(rest[: len(rest) // 2]) if rest and len(rest) % 2 == 0 else None
        if word not in _READ_OPTIONS:
            return None
        i += 1 + _READ_OPTIONS[word]
    return None


def _word(arg: Any) -> str:
    return (arg.decode(errors="replace") if isinstance(arg, bytes) else str(arg)).upper()


class _LazyCluster(RedisCluster):
    """A ``RedisCluster`` whose slot map is fetched on first use, not in ``__init__``.

    redis-py's constructor talks to the cluster at once and raises if no node
    answers; streamlib's callers make clients first and then wait for Redis
    with their own backoff (``ping_until``), which this keeps possible. The
    first use may come from several threads at once (a replica's probe and
    its metrics reader): one runs redis-py's constructor, the others wait.

    It also routes ``XREAD`` and ``XREADGROUP`` by the streams they name
    (``stream_read_keys``), so a read depends on its stream's master alone.
    """

    def __init__(self, url: str, settings: dict[str, Any], *, shown: str) -> None:
        self._qs_url = url
        self._qs_shown = shown
        self._qs_settings = settings
        self._qs_ready = False
        self._qs_lock = threading.Lock()
        #: The thread running redis-py's constructor (which runs commands itself).
        self._qs_starter: int | None = None

    def _qs_init(self) -> None:
        if self._qs_ready or self._qs_starter == threading.get_ident():
            return
        with self._qs_lock:
            self._qs_start()

    def _qs_start(self) -> None:
        """Under the lock: run redis-py's constructor, unless a thread before us did."""
        if self._qs_ready:
            return
        self._qs_starter = threading.get_ident()
        try:
            RedisCluster.__init__(self, url=self._qs_url, **self._qs_settings)
        except RedisClusterException as exc:
            # e.g. "Redis Cluster cannot be connected": weather, like a refused connection.
            raise redis.ConnectionError(str(exc)) from exc
        finally:
            self._qs_starter = None
        self._qs_ready = True

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes not set yet: before the first use, start it.
        state = self.__dict__
        if (
            name.startswith("_qs_")
            or state.get("_qs_ready")
            or state.get("_qs_starter") == threading.get_ident()
        ):
            raise AttributeError(name)
        self._qs_init()
        return object.__getattribute__(self, name)

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        self._qs_init()
        return RedisCluster.execute_command(self, *args, **kwargs)  # type: ignore[no-untyped-call]

    def _get_command_keys(self, *args: Any) -> Any:
        # redis-py asks its default node (COMMAND GETKEYS) for the keys of a command
        # whose keys move, as XREAD's and XREADGROUP's do, on every call: with that
        # one node away, every partition's reads would fail, on every master, until
        # it came back. A read's streams follow STREAMS: found here, without asking.
        keys = stream_read_keys(args)
        if keys is not None:
            return keys
        return RedisCluster._get_command_keys(self, *args)  # type: ignore[no-untyped-call]

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> Any:
        self._qs_init()
        return RedisCluster.pipeline(self, transaction, shard_hint)  # type: ignore[no-untyped-call]

    def close(self) -> None:
        if self._qs_ready:
            RedisCluster.close(self)

    def __repr__(self) -> str:
        return f"<streamlib cluster client {self._qs_shown}>"


def connect(
    url: str, *, timeout: float = 30.0, options: ConnectionOptions | None = None, **kwargs: Any
) -> redis.Redis:
    """A client for ``url`` that answered PING, retrying with backoff up to ``timeout`` s.

    Raises ``RedisUnavailable`` (with the masked URL and the last error) when
    Redis does not answer in time, at once when it refuses the credentials or
    the TLS handshake fails; ``ConfigError`` for a bad URL or options.
    """
    client = client_from_url(url, options, **kwargs)
    ping_until(client, url, timeout=timeout)
    return client


def ping_until(
    client: redis.Redis,
    url: str,
    *,
    timeout: float | None,
    stop: Callable[[], bool] | None = None,
) -> bool:
    """PING ``client`` until it answers; ``timeout=None`` waits forever.

    Returns ``True`` once Redis answered, ``False`` if ``stop()`` became true
    first. Raises ``RedisUnavailable`` after ``timeout`` seconds, and at once
    when Redis refuses the credentials or the TLS handshake fails (waiting
    would not help). Each retry is logged, with the URL's password masked.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    backoff = Backoff(base=0.05, cap=2.0 if timeout is not None else 10.0)
    while stop is None or not stop():
        try:
            client.ping()
            return True
        except redis.AuthenticationError as exc:
            raise RedisUnavailable(f"Redis at {mask_url(url)} refused the credentials") from exc
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if _is_tls_failure(exc):
                raise RedisUnavailable(
                    f"TLS handshake with {mask_url(url)} failed (check the CA file and the "
                    f"server's certificate): {_safe_error(exc, url)}"
                ) from None
            if deadline is not None and time.monotonic() >= deadline:
                raise RedisUnavailable(
                    f"Redis at {mask_url(url)} did not answer within {timeout:g}s: "
                    f"{_safe_error(exc, url)}"
                ) from None
            delay = backoff.next_delay()
            if deadline is not None:
                delay = max(0.0, min(delay, deadline - time.monotonic()))
            log.warning(
                "Redis at %s unreachable (%s); retrying in %.2fs",
                mask_url(url),
                _safe_error(exc, url),
                delay,
            )
            _sleep(delay, stop)
    return False


def _sleep(seconds: float, stop: Callable[[], bool] | None) -> None:
    """Sleep ``seconds`` in short slices, returning early once ``stop()``."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0 and (stop is None or not stop()):
        time.sleep(min(left, 0.1))


def is_permanent_failure(exc: BaseException) -> bool:
    """Whether a connection error won't go away by retrying.

    Refused credentials (``AuthenticationError``) and a server certificate
    that does not verify against the CA: both need a configuration change.
    """
    if isinstance(exc, redis.AuthenticationError):
        return True
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


def _is_tls_failure(exc: BaseException) -> bool:
    """Whether a connection error is a TLS verification failure (retrying won't help)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    text = str(exc)
    return "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text


def _safe_error(exc: BaseException, url: str) -> str:
    """An exception's message with the URL's passwords, if any, masked."""
    return mask_secrets(str(exc) or type(exc).__name__, url)
