"""docker-compose.yml, checked without a Docker engine (``make compose-test`` runs it on one).

1. Debian's ``docker-compose config`` validates the file against the Compose
   schema and resolves it with ``.env.example``.
2. The resolved services are run as local processes with their real commands
   and environments (hosts ``redis``, ``postgres`` and ``site`` mapped to
   loopback, container paths to temporary folders, the image's ``ENV`` from
   the Dockerfile): ``redis-acl`` writes the ACL file, ``redis-server`` starts
   with the ``redis`` service's arguments and passes its healthcheck, the
   ``site`` serves the sample site, four consumer replicas (as ``consumer``)
   store one crawl (as ``producer``): every quote once in PostgreSQL. A wrong
   command, entry point, user or environment variable in the compose file
   breaks this test.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
import yaml

from producer.sample_site import generate_site
from streamlib.groupinfo import group as group_info
from streamlib.testing import LocalRedis, free_port
from tests.support.helpers import wait_for

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


APP_SERVICES = ("redis-acl", "producer", "consumer", "streamctl", "site")


def test_compose_file_is_valid_and_needs_its_secrets() -> None:
    config = resolved()
    services = config["services"]
    assert set(services) == {"redis", "postgres", "prometheus", *APP_SERVICES}
    redis_svc, consumer = services["redis"], services["consumer"]
    assert "ports" not in redis_svc  # not published to the host
    # redis-server first: the image's entry point then drops root.
    assert redis_svc["command"][0] == "redis-server"
    assert "--appendonly yes" in " ".join(redis_svc["command"])
    assert redis_svc["depends_on"]["redis-acl"]["condition"] == "service_completed_successfully"
    assert "healthcheck" in redis_svc and "healthcheck" in services["postgres"]
    for name in ("redis-data", "redis-acl", "postgres-data", "prometheus-data"):
        assert name in config["volumes"]
    assert "container_name" not in consumer and "ports" not in consumer  # --scale works
    assert "CONSUMER" not in consumer["environment"]  # <hostname>-<pid>: unique per replica
    assert consumer["stop_signal"] == "SIGTERM"
    assert consumer["restart"] == "on-failure"
    assert "/healthz" in " ".join(consumer["healthcheck"]["test"])
    # One image for every Python service; `up` never starts the producer.
    assert {services[name]["image"] for name in APP_SERVICES} == {"quotestream:local"}
    assert [services[n].get("profiles") for n in APP_SERVICES] == [
        None, ["crawl"], None, ["tools"], ["offline"],
    ]  # fmt: skip
    assert services["producer"]["restart"] == "no"
    # The consumers' group reaches the producer: backpressure is on by default.
    assert services["producer"]["environment"]["GROUP"] == consumer["environment"]["GROUP"]
    assert "STREAM_BACKPRESSURE_GROUP" not in services["producer"]["environment"]
    assert services["producer"]["depends_on"]["redis"]["condition"] == "service_healthy"
    # Each client logs in as its role; no password on any command line.
    roles = {"producer": "producer", "consumer": "consumer", "streamctl": "operator"}
    for name, user in roles.items():
        assert services[name]["environment"]["REDIS_USERNAME"] == user
        assert (
            services[name]["environment"]["REDIS_PASSWORD"]
            == env_example()[f"REDIS_{user.upper()}_PASSWORD"]
        )
    secrets = [v for k, v in env_example().items() if k.endswith("PASSWORD")]
    for name, service in services.items():
        argv = [*service.get("entrypoint", []), *service.get("command", [])]
        argv += service.get("healthcheck", {}).get("test", [])
        assert not [s for s in secrets if any(s in a for a in argv)], name
    # No secret has a default: without an env file, compose refuses to resolve.
    bare = compose("config")
    assert bare.returncode != 0 and "PASSWORD" in bare.stderr
    # Base images are parameters (for machines that build them locally).
    local = resolved(
        PYTHON_IMAGE="py:x", REDIS_IMAGE="redis:x", POSTGRES_IMAGE="pg:x", PROMETHEUS_IMAGE="p:x"
    )["services"]
    assert local["consumer"]["build"]["args"]["PYTHON_IMAGE"] == "py:x"
    assert [local[n]["image"] for n in ("redis", "postgres", "prometheus")] == [
        "redis:x", "pg:x", "p:x"
    ]  # fmt: skip


def test_monitoring_profile_runs_prometheus_with_the_project_s_config_and_rules() -> None:
    prometheus = resolved()["services"]["prometheus"]
    assert prometheus["profiles"] == ["monitoring"]
    mounts = {Path(v["source"]).relative_to(ROOT).as_posix(): v["target"]
              for v in _volumes(prometheus) if v["type"] == "bind"}  # fmt: skip
    assert mounts == {
        "monitoring/prometheus.yml": "/etc/prometheus/prometheus.yml",
        "monitoring/alerts.yml": "/etc/prometheus/alerts.yml",  # beside it, as rule_files says
    }
    # The UI on this machine's loopback only.
    [port] = prometheus["ports"]
    published = port if isinstance(port, str) else f"{port['host_ip']}:{port['published']}"
    assert published.startswith("127.0.0.1:"), port
    # It scrapes the service the replicas are: DNS on the name follows --scale.
    config = yaml.safe_load((ROOT / "monitoring" / "prometheus.yml").read_text())
    [job] = config["scrape_configs"]
    [sd] = job["dns_sd_configs"]
    assert sd["names"] == ["consumer"] and sd["port"] == 9100
    consumer = resolved()["services"]["consumer"]
    assert consumer["environment"]["METRICS_PORT"] == "9100"


def _volumes(service: dict[str, Any]) -> list[dict[str, str]]:
    """A service's volumes in the long form (``docker-compose config`` may print either)."""
    out = []
    for v in service.get("volumes", []):
        if isinstance(v, str):
            source, target, *_ = v.split(":")
            kind = "bind" if source.startswith(("/", ".")) else "volume"
            out.append({"type": kind, "source": source, "target": target})
        else:
            out.append(v)
    return out


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


def local(value: str, ports: dict[str, int], database: str, root: Path) -> str:
    """A container's view mapped to this machine.

    Service hosts become loopback ports, container paths temporary folders,
    and the sink's database ``quotes`` this test's own (``database``).
    """
    table = {
        "redis:6379": f"127.0.0.1:{ports['redis']}",
        "http://site:8000/": f"http://127.0.0.1:{ports['site']}/",
        "0.0.0.0:8000": f"127.0.0.1:{ports['site']}",
        "@postgres:5432/quotes": f"@127.0.0.1:5432/{database}",
        "/var/lib/quotestream/": f"{root}/acl/",
        "/acl/": f"{root}/acl/",
        "/tmp/site": f"{root}/site",
    }
    pattern = "|".join(re.escape(k) for k in table)  # one pass: no double mapping
    return re.sub(pattern, lambda m: table[m.group(0)], value)


def test_compose_services_run_as_local_processes(
    redis_factory: Callable[..., LocalRedis], quotes_db: str, tmp_path: Path
) -> None:
    config = resolved(START_URL="http://site:8000/")
    services = config["services"]
    database = quotes_db.rsplit("/", 1)[1]
    ports = {"redis": free_port(), "site": free_port()}
    (tmp_path / "acl").mkdir()
    base = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(tmp_path)}
    base.update(image_env())

    def argv(name: str) -> list[str]:
        service = services[name]
        words = [*service.get("entrypoint", []), *service["command"]]
        return [local(str(w), ports, database, tmp_path) for w in words]

    def env(name: str, **overrides: str) -> dict[str, str]:
        given = services[name].get("environment", {})
        mapped = {k: local(str(v), ports, database, tmp_path) for k, v in given.items()}
        return {**base, **mapped, **overrides}

    def run(name: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            argv(name), cwd=tmp_path, env=env(name), capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        return done

    run("redis-acl")  # writes the ACL file the redis service starts with
    server = redis_factory(port=ports["redis"], extra_args=argv("redis")[1:])
    # The redis service's healthcheck (as the PING-only user), on this port.
    check = services["redis"]["healthcheck"]["test"][1].replace("$$", "$")  # compose's escape
    check = local(check, ports, database, tmp_path).replace(
        "redis-cli", f"redis-cli -p {server.port}"
    )
    assert subprocess.run(["sh", "-c", check], env=base, timeout=30).returncode == 0
    secrets = env_example()
    admin = redis.Redis(
        port=server.port, username="operator", password=secrets["REDIS_OPERATOR_PASSWORD"]
    )

    site_pages = int(services["site"]["command"][4])
    expected = generate_site(tmp_path / "expected", pages=site_pages)
    with (tmp_path / "site.log").open("wb") as log:
        site = subprocess.Popen(argv("site"), cwd=tmp_path, env=env("site"), stdout=log, stderr=log)
    consumer = services["consumer"]
    metrics = [free_port() for _ in range(4)]
    replicas = []
    for i, port in enumerate(metrics):
        with (tmp_path / f"consumer-{i}.log").open("wb") as log:
            replicas.append(
                subprocess.Popen(
                    argv("consumer"),
                    cwd=tmp_path,  # not the repository: no scrapy.cfg to lean on
                    env=env("consumer", METRICS_PORT=str(port)),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    try:
        wait_for(lambda: _serves(ports["site"]), timeout=30, what="the site service")
        crawl = run("producer")
        assert f"Backpressure on group '{consumer['environment']['GROUP']}'" in crawl.stderr
        assert "NOPERM" not in crawl.stdout + crawl.stderr  # the producer role reads the lag
        total = len(expected.quotes) + len(expected.authors)
        stream, group = consumer["environment"]["STREAM"], consumer["environment"]["GROUP"]

        def drained() -> bool:
            info = group_info(admin, stream, group)
            return info is not None and (info.pending, info.lag) == (0, 0)

        wait_for(drained, timeout=120, what="the consumers to drain the stream")
        assert admin.xlen(stream) == total
        # Each replica's own healthcheck command, on its port, passes.
        probe_check = consumer["healthcheck"]["test"][1:]
        for port in metrics:
            probe = [a.replace("9100", str(port)) for a in probe_check]
            assert subprocess.run(probe, env=base, timeout=30).returncode == 0
        # streamctl, as the operator, sees the group.
        assert group in run("streamctl").stdout
    finally:
        for proc in replicas:
            proc.terminate()
        codes = [proc.wait(timeout=60) for proc in replicas]
        site.send_signal(signal.SIGINT)  # the site service's stop_signal
        site.wait(timeout=30)
        admin.close()
    assert codes == [0, 0, 0, 0], [
        (tmp_path / f"consumer-{i}.log").read_text()[-1500:] for i in range(4)
    ]
    with psycopg.connect(quotes_db) as conn:
        quotes = conn.execute("SELECT count(*), count(DISTINCT key) FROM quotes").fetchone()
        authors = conn.execute("SELECT count(*) FROM authors").fetchone()
    assert quotes == (len(expected.quotes), len(expected.quotes))
    assert authors == (len(expected.authors),)


def _serves(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False
