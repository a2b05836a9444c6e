"""The project's docker-compose.yml driven like a user would, plus what the test reads.

``Stack`` runs ``docker-compose`` (Compose v1, Debian's package) with an env
file of its own (fresh random passwords, the stand-in base images), under a
project name of its own, so a user's ``.env`` and stacks are never touched.
The test looks inside with clients of its own: Redis and PostgreSQL are
reached at their containers' addresses on the engine's bridge network (this
machine's own test hosts), logged in as the stack's ACL users.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import psycopg
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "qs-composetest"
PROFILES = ("offline", "crawl", "tools", "monitoring")
STREAM, GROUP = "quotes", "quotes-consumers"
STARTED = time.monotonic()


def say(message: str) -> None:
    """A progress line, as the test goes (make compose-test runs pytest with -s)."""
    print(f"[compose-test {time.monotonic() - STARTED:6.1f}s] {message}", flush=True)


class Stack:
    """One compose project on the engine at ``docker_host``."""

    def __init__(self, docker_host: str, images: dict[str, str], env_dir: Path, **settings: str):
        self.passwords = {
            name: f"{name.lower()}-{secrets.token_hex(8)}"
            for name in (
                "REDIS_PRODUCER_PASSWORD",
                "REDIS_CONSUMER_PASSWORD",
                "REDIS_OPERATOR_PASSWORD",
                "POSTGRES_PASSWORD",
            )
        }
        self.env_file = env_dir / "compose.env"
        values = {**self.passwords, **images, **settings}
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        binary = shutil.which("docker-compose")
        if binary is None:
            raise RuntimeError("no docker-compose (Debian: apt-get install docker-compose)")
        self.binary = binary
        # The shell's own values of the file's variables would win over it: drop them.
        clean = {k: v for k, v in os.environ.items() if k not in values}
        self.env = {**clean, "DOCKER_HOST": docker_host}

    # -- running commands ------------------------------------------------------

    def compose(
        self, *args: str, timeout: float = 300, check: bool = True, profiles: Iterable[str] = ()
    ) -> subprocess.CompletedProcess[str]:
        flags = [f for p in profiles for f in ("--profile", p)]
        command = [
            self.binary, "-f", str(ROOT / "docker-compose.yml"), "-p", PROJECT,
            "--env-file", str(self.env_file), *flags, *args,
        ]  # fmt: skip
        return self._run(command, timeout, check)

    def run(
        self, service: str, *args: str, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """``docker-compose run --rm -T SERVICE ARGS`` (no terminal: stdout and stderr apart)."""
        return self.compose("run", "--rm", "-T", service, *args, timeout=timeout, check=check)

    def docker(self, *args: str, timeout: float = 60, check: bool = True) -> str:
        return self._run(["docker", *args], timeout, check).stdout

    def _run(
        self, command: Sequence[str], timeout: float, check: bool
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            command,
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"{' '.join(command[:8])} ... exited {done.returncode}:\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        return done

    # -- what runs -------------------------------------------------------------

    def containers(self, service: str | None = None, *, all_states: bool = False) -> list[str]:
        """Ids of the project's containers (of one service), running or every one."""
        filters = ["--filter", f"label=com.docker.compose.project={PROJECT}"]
        if service is not None:
            filters += ["--filter", f"label=com.docker.compose.service={service}"]
        out = self.docker("ps", "-q", "--no-trunc", *(["-a"] if all_states else []), *filters)
        return out.split()

    def inspect(self, *ids: str) -> list[dict[str, Any]]:
        return json.loads(self.docker("inspect", *ids)) if ids else []

    def address(self, service: str) -> str:
        """The IP address of the service's (first) container on the project's network."""
        [info] = self.inspect(self.containers(service)[0])
        networks = info["NetworkSettings"]["Networks"]
        return str(next(iter(networks.values()))["IPAddress"])

    def config(self) -> dict[str, Any]:
        """The resolved compose file (``docker-compose config``), as data."""
        import yaml

        out = self.compose("config", profiles=PROFILES).stdout
        loaded: dict[str, Any] = yaml.safe_load(out)
        return loaded

    # -- clients ---------------------------------------------------------------

    def redis(self, user: str | None, password: str | None = None) -> redis.Redis:
        """A client of the stack's Redis as ``user`` (its password from the env file)."""
        if user is not None and password is None:
            password = self.passwords[f"REDIS_{user.upper()}_PASSWORD"]
        return redis.Redis(
            host=self.address("redis"),
            username=user,
            password=password,
            socket_connect_timeout=5,
            socket_timeout=30,
            retry=Retry(NoBackoff(), 0),  # a refused login fails at once, not after retries
        )

    def redis_url(self, user: str) -> str:
        password = self.passwords[f"REDIS_{user.upper()}_PASSWORD"]
        return f"redis://{user}:{password}@{self.address('redis')}:6379/0"

    def postgres(self) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host=self.address("postgres"),
            user="quotes",
            dbname="quotes",
            password=self.passwords["POSTGRES_PASSWORD"],
            connect_timeout=5,
            autocommit=True,
        )

    def stored(self) -> tuple[int, int]:
        """Rows in ``quotes`` and ``authors`` (0, 0 before the first batch created them)."""
        with self.postgres() as conn:
            try:
                quotes = conn.execute("SELECT count(*) FROM quotes").fetchone()
                authors = conn.execute("SELECT count(*) FROM authors").fetchone()
            except psycopg.errors.UndefinedTable:
                return 0, 0
        assert quotes is not None and authors is not None
        return int(quotes[0]), int(authors[0])

    def group(self, admin: redis.Redis) -> dict[str, Any] | None:
        """XINFO GROUPS' row of the consumers' group (text keys), or ``None``."""
        try:
            rows = admin.xinfo_groups(STREAM)
        except redis.ResponseError:
            return None
        for row in rows:
            decoded = {k: v.decode() if isinstance(v, bytes) else v for k, v in row.items()}
            if decoded["name"] == GROUP:
                return decoded
        return None

    def prometheus(self, path: str) -> Any:
        """The ``data`` of the monitoring profile's Prometheus API (``None`` until it answers)."""
        url = f"http://{self.address('prometheus')}:9090/api/v1/{path}"
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                return json.loads(resp.read())["data"]
        except OSError:
            return None

    def consumer_names(self, admin: redis.Redis) -> set[str]:
        return {c["name"].decode() for c in admin.xinfo_consumers(STREAM, GROUP)}

    def drained(self, admin: redis.Redis) -> bool:
        """Nothing pending, lag 0, every entry of the stream read by the group."""
        info = self.group(admin)
        if info is None or info["pending"] != 0 or info["lag"] != 0:
            return False
        read = info["entries-read"]
        return read is None or read >= admin.xlen(STREAM)

    def down(self) -> None:
        """``down -v`` with every profile: containers, network and volumes removed."""
        self.compose("down", "-v", "--remove-orphans", "--timeout", "30", profiles=PROFILES)


def log_tail(stack: Stack, service: str, lines: int = 40) -> str:
    done = stack.compose("logs", "--no-color", "--tail", str(lines), service, check=False)
    return done.stdout[-4000:]


def fail_with_logs(stack: Stack, services: Sequence[str]) -> str:
    return "\n".join(f"--- {s}\n{log_tail(stack, s)}" for s in services)
