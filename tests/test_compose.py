"""docker-compose.yml, checked without a Docker engine.

1. Debian's ``docker-compose config`` validates the file against the Compose
   schema and resolves it with ``.env.example``.
2. The resolved ``producer`` and ``consumer`` services are run as local
   processes with their real commands and environments (hosts ``redis`` and
   ``postgres`` mapped to loopback, the image's ``ENV`` from the Dockerfile),
   four consumer replicas against one crawl of the generated site: every quote
   must end up stored once in PostgreSQL. A wrong command, entry point or
   environment variable in the compose file breaks this test.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
import yaml

from producer.sample_site import SiteServer, generate_site
from streamlib.groupinfo import group as group_info
from streamlib.testing import LocalRedis, free_port
from tests.helpers import wait_for

ROOT = Path(__file__).resolve().parents[1]
IN_CI = bool(os.environ.get("CI"))
PG_ADMIN = ("postgresql://postgres@127.0.0.1:5432/test", "postgresql://root@127.0.0.1:5432/test")


def env_example() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines())
    return {
        k.strip(): v.strip() for k, *v in pairs if k.strip() and not k.startswith("#") for v in v
    }


def compose(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        if IN_CI:
            pytest.fail("CI needs docker-compose (Debian package) to validate the compose file")
        pytest.skip("docker-compose is not installed")
    clean = {k: v for k, v in os.environ.items() if k not in env_example()}
    return subprocess.run(
        [binary, "-f", str(ROOT / "docker-compose.yml"), *args],
        cwd=ROOT,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def resolved(**env: str) -> dict[str, Any]:
    done = compose("--env-file", str(ROOT / ".env.example"), "config", env=env)
    assert done.returncode == 0, done.stderr
    config: dict[str, Any] = yaml.safe_load(done.stdout)
    return config


def image_env() -> dict[str, str]:
    """The ``ENV`` of the Dockerfile (what every container starts with)."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    found: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            found.update(re.findall(r"(\w+)=(\S+)", line))
    return found


def test_compose_file_is_valid_and_needs_its_secrets() -> None:
    config = resolved()
    services = config["services"]
    assert set(services) == {"redis", "postgres", "producer", "consumer"}
    redis_svc, consumer = services["redis"], services["consumer"]
    assert "ports" not in redis_svc  # not published to the host
    assert "--appendonly yes" in " ".join(redis_svc["command"])
    assert "healthcheck" in redis_svc and "healthcheck" in services["postgres"]
    for name in ("redis-data", "postgres-data"):
        assert name in config["volumes"]
    assert "container_name" not in consumer and "ports" not in consumer  # --scale works
    assert "CONSUMER" not in consumer["environment"]  # <hostname>-<pid>: unique per replica
    assert consumer["stop_signal"] == "SIGTERM"
    assert consumer["restart"] == "on-failure"
    assert "/healthz" in " ".join(consumer["healthcheck"]["test"])
    assert services["producer"]["restart"] == "no"
    assert services["producer"]["depends_on"]["redis"]["condition"] == "service_healthy"
    # No secret has a default: without an env file, compose refuses to resolve.
    bare = compose("config")
    assert bare.returncode != 0 and "REDIS_PASSWORD" in bare.stderr


@pytest.fixture
def quotes_db() -> Iterator[str]:
    """The compose file's sink (role ``quotes``) on local PostgreSQL, in a database of its own.

    The server is shared with other test runs on the machine: a fixed database
    ``quotes`` would let two runs drop each other's tables mid-test.
    """
    for dsn in PG_ADMIN:
        try:
            admin = psycopg.connect(dsn, autocommit=True, connect_timeout=5)
            break
        except psycopg.Error as exc:
            reason = str(exc)
    else:
        if IN_CI:
            pytest.fail(f"CI needs PostgreSQL: {reason}")
        pytest.skip(f"no PostgreSQL: {reason}")
    database = f"quotes_{uuid.uuid4().hex[:12]}"
    with admin:
        if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = 'quotes'").fetchone():
            # Another run may make it in between.
            with contextlib.suppress(
                psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation
            ):
                admin.execute("CREATE ROLE quotes LOGIN")
        admin.execute(f"CREATE DATABASE {database} OWNER quotes")
    try:
        yield f"postgresql://quotes@127.0.0.1:5432/{database}"
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")


def local(value: str, redis_port: int, database: str) -> str:
    """A container's view mapped to this machine: service hosts become loopback.

    The sink's database ``quotes`` becomes this test's own (``database``).
    """
    return value.replace("redis:6379", f"127.0.0.1:{redis_port}").replace(
        "@postgres:5432/quotes", f"@127.0.0.1:5432/{database}"
    )


def test_compose_services_run_as_local_processes(
    redis_factory: Callable[..., LocalRedis], quotes_db: str, tmp_path: Path
) -> None:
    expected = generate_site(tmp_path / "site", pages=2)
    with SiteServer(tmp_path / "site") as site:
        config = resolved(START_URL=site.url)
        secrets = env_example()
        server = redis_factory(extra_args=["--requirepass", secrets["REDIS_PASSWORD"]])
        admin = redis.Redis(port=server.port, password=secrets["REDIS_PASSWORD"])
        base = {
            "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
            "HOME": str(tmp_path),
            **image_env(),
        }

        def service_env(name: str, **overrides: str) -> dict[str, str]:
            env = config["services"][name]["environment"]
            database = quotes_db.rsplit("/", 1)[1]
            mapped = {k: local(str(v), server.port, database) for k, v in env.items()}
            return {**base, **mapped, **overrides}

        consumer = config["services"]["consumer"]
        ports = [free_port() for _ in range(4)]
        replicas = []
        for i, port in enumerate(ports):
            with (tmp_path / f"consumer-{i}.log").open("wb") as log:
                replicas.append(
                    subprocess.Popen(
                        consumer["command"],
                        cwd=tmp_path,  # not the repository: no scrapy.cfg to lean on
                        env=service_env("consumer", METRICS_PORT=str(port)),
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        try:
            crawl = subprocess.run(
                config["services"]["producer"]["command"],
                cwd=tmp_path,
                env=service_env("producer"),
                capture_output=True,
                text=True,
                timeout=180,
            )
            assert crawl.returncode == 0, crawl.stdout[-2000:] + crawl.stderr[-3000:]
            total = len(expected.quotes) + len(expected.authors)
            stream, group = consumer["environment"]["STREAM"], consumer["environment"]["GROUP"]

            def drained() -> bool:
                info = group_info(admin, stream, group)
                return info is not None and (info.pending, info.lag) == (0, 0)

            wait_for(drained, timeout=120, what="the consumers to drain the stream")
            assert admin.xlen(stream) == total
            # Each replica's own healthcheck command, on its port, passes.
            check = consumer["healthcheck"]["test"][1:]
            for port in ports:
                probe = [a.replace("9100", str(port)) for a in check]
                assert subprocess.run(probe, env=base, timeout=30).returncode == 0
        finally:
            for proc in replicas:
                proc.terminate()
            codes = [proc.wait(timeout=60) for proc in replicas]
        assert codes == [0, 0, 0, 0], [
            (tmp_path / f"consumer-{i}.log").read_text()[-1500:] for i in range(4)
        ]
    with psycopg.connect(quotes_db) as conn:
        quotes = conn.execute("SELECT count(*), count(DISTINCT key) FROM quotes").fetchone()
        authors = conn.execute("SELECT count(*) FROM authors").fetchone()
    assert quotes == (len(expected.quotes), len(expected.quotes))
    assert authors == (len(expected.authors),)
