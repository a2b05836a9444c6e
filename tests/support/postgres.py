"""A private PostgreSQL server for tests that stop, crash and restart it.

``LocalPostgres`` runs Debian's ``initdb`` and ``pg_ctl`` (found with
``pg_config --bindir``, or under ``/usr/lib/postgresql/*/bin``) on a free
loopback port, with its data in a fresh temp folder, as the ``postgres``
user when the tests run as root (PostgreSQL refuses to run as root). No Unix
socket, trust authentication, no fsync: a test server, fast to create.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from streamlib.testing import free_port

#: Settings appended to the new cluster's postgresql.conf (port and address added).
CONFIG = {
    "unix_socket_directories": "''",
    "fsync": "off",
    "full_page_writes": "off",
    "shared_buffers": "'16MB'",
    "max_connections": "40",
}


class PostgresUnavailable(Exception):
    """No PostgreSQL server binaries, or the cluster did not start."""


def find_bindir() -> Path:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``."""
    candidates: list[str] = []
    if shutil.which("pg_config"):
        result = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(result.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    which = shutil.which("initdb")
    if which:
        candidates.append(str(Path(which).parent))
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    raise PostgresUnavailable("no initdb found (pg_config --bindir, /usr/lib/postgresql/*/bin)")


class LocalPostgres:
    """One PostgreSQL cluster in a temp folder, on 127.0.0.1, until ``close()``."""

    def __init__(self, *, port: int | None = None) -> None:
        self.bindir = find_bindir()
        self.port = port or free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        # Not under pytest's tmp_path: that folder is root's own (0700) when run as root.
        self.folder = Path(tempfile.mkdtemp(prefix="quotestream-pg-"))
        if self.user is not None:
            pw = pwd.getpwnam(self.user)
            os.chown(self.folder, pw.pw_uid, pw.pw_gid)
        self.data = self.folder / "data"
        self.log_path = self.folder / "server.log"
        self._initialised = False

    @property
    def url(self) -> str:
        """A sink URL for the ``postgres`` database as the ``postgres`` user (trust)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 120) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        result = subprocess.run(
            command, capture_output=True, text=True, user=self.user, timeout=timeout
        )
        if result.returncode != 0:
            raise PostgresUnavailable(
                f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()}\n"
                f"{self.log()[-2000:]}"
            )

    def start(self, timeout: float = 60) -> LocalPostgres:
        """Create the cluster (the first time) and start it; returns once it answers."""
        if not self._initialised:
            self._run(
                "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                "--encoding=UTF8", "--no-locale", "--no-sync",
            )  # fmt: skip
            settings = CONFIG | {"listen_addresses": "'127.0.0.1'", "port": str(self.port)}
            with (self.data / "postgresql.conf").open("a") as conf:
                conf.writelines(f"{k} = {v}\n" for k, v in settings.items())
            self._initialised = True
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-w",
            "-t", str(int(timeout)), "start",
        )  # fmt: skip
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url, connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise PostgresUnavailable(f"PostgreSQL did not answer: {exc}") from None
                time.sleep(0.05)

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m MODE``: ``immediate`` is a crash (recovery on the next start)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    @property
    def running(self) -> bool:
        """Whether the server's pid file is there (it started and has not stopped)."""
        return (self.data / "postmaster.pid").exists()

    def log(self) -> str:
        """The server's log, for assertion messages."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def close(self) -> None:
        """Stop the server (at once) and delete its folder."""
        if self._initialised and self.running:
            with contextlib.suppress(PostgresUnavailable):
                self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)
