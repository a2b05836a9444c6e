"""Each role's real entry point, as a subprocess, with exactly its ACL rule.

- ``scrapy crawl quotes`` as ``producer`` (password in the URL), with
  backpressure on by default for the consumers' ``GROUP``, as in the compose
  stack: it must read the group's lag (XINFO GROUPS), pause, resume.
- ``quotes-consumer`` as ``consumer`` (REDIS_USERNAME / REDIS_PASSWORD), with
  metrics on: the lag gauge comes from XINFO GROUPS under that rule.
- ``streamctl`` as ``operator`` (REDIS_USERNAME / REDIS_PASSWORD_FILE):
  ``info --json`` and ``tail --follow`` (XREAD) until SIGINT.

A right missing from a rule fails these (NOPERM in a log, a missing gauge, a
non-zero exit); ``test_acl*.py`` catch the rights a rule must not have.
"""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from producer.sample_site import SiteServer, generate_site
from streamlib.connection import client_from_url
from streamlib.testing import LocalRedis, free_port
from tests.producer.conftest import (
    CRAWL_TIMEOUT,
    Crawl,
    backpressure_crawl,
    catch_up,
    read_stream,
)
from tests.support.acl import add_role_user
from tests.support.entrypoints import STREAMCTL, clean_env
from tests.support.helpers import wait_for
from tests.support.replicas import Replica, consumer_command, fill, sqlite_count

PASSWORD = "role-E2E-Secret-5"


@pytest.fixture
def server(redis_factory: Callable[..., LocalRedis]) -> LocalRedis:
    return redis_factory()


@pytest.fixture
def admin(server: LocalRedis) -> redis.Redis:
    return client_from_url(server.url)


@pytest.mark.timeout(300)
def test_spider_backpressure_under_the_producer_rule(
    server: LocalRedis, admin: redis.Redis, tmp_path: Path
) -> None:
    url = add_role_user(server, "producer", PASSWORD)
    expected = generate_site(tmp_path / "site", pages=5)
    total = len(expected.quotes) + len(expected.authors)
    admin.xgroup_create("quotes", "slow", id="0", mkstream=True)
    log_path = tmp_path / "crawl.log"
    with (
        SiteServer(tmp_path / "site") as site,
        backpressure_crawl(
            site.url, "quotes", log_path, STREAM_REDIS_URL=url, GROUP="slow"
        ) as proc,
    ):
        wait_for(
            lambda: "pausing the crawl" in log_path.read_text() or proc.poll() is not None,
            timeout=90,
            what="the crawl to pause",
        )
        assert proc.poll() is None, log_path.read_text()[-3000:]
        wait_for(
            lambda: catch_up(admin, ["quotes"], proc),
            timeout=CRAWL_TIMEOUT,
            what="the crawl to resume and finish",
        )
    crawl = Crawl(proc.returncode, log_path.read_text())
    assert crawl.returncode == 0, crawl.output[-3000:]
    assert "resuming the crawl" in crawl.output
    assert "permission denied" not in crawl.output and "NOPERM" not in crawl.output
    assert len(read_stream(admin, "quotes")) == total
    assert PASSWORD not in crawl.output


def metric(port: int, name: str) -> float | None:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    for line in text.splitlines():
        if line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


@pytest.mark.timeout(300)
def test_consumer_with_metrics_under_the_consumer_rule(
    server: LocalRedis, admin: redis.Redis, tmp_path: Path
) -> None:
    add_role_user(server, "consumer", PASSWORD)
    fill(admin, "quotes", 200)
    admin.xadd("quotes", {"v": "1", "type": "quote", "key": "k", "ts": "1", "data": "{bad"})
    port = free_port()
    db = tmp_path / "q.db"
    replica = Replica(
        consumer_command(
            redis_url=server.url,  # no credentials in the URL: they come from the environment
            stream="quotes",
            group="quotes-consumers",
            sink=f"sqlite:///{db}",
            name="acl",
            extra=["--metrics-port", str(port), "--metrics-host", "127.0.0.1", "--block-ms", "100"],
        ),
        tmp_path / "consumer.log",
        clean_env(REDIS_USERNAME="consumer", REDIS_PASSWORD=PASSWORD),
    )
    try:
        replica.expect(
            lambda: sqlite_count(db) == 200 and admin.xlen("quotes:dead") == 1,
            timeout=90,
            what="the stream drained and the poison entry dead-lettered",
        )
        replica.expect(
            lambda: (
                metric(port, "streamlib_group_lag") == 0
                and metric(port, "streamlib_group_pending") == 0
            ),
            timeout=60,
            what="the lag gauge (XINFO GROUPS under the consumer rule)",
        )
        replica.terminate()
        assert replica.wait(60) == 0, replica.log()
    finally:
        replica.kill()
    log = replica.log()
    assert "NOPERM" not in log and "could not read group info" not in log, log[-3000:]
    assert PASSWORD not in log


@pytest.mark.timeout(300)
def test_streamctl_subprocess_under_the_operator_rule(
    server: LocalRedis, admin: redis.Redis, tmp_path: Path
) -> None:
    add_role_user(server, "operator", PASSWORD)
    fill(admin, "quotes", 5)
    secret = tmp_path / "redis_password"
    secret.write_text(PASSWORD + "\n")
    env = clean_env(
        REDIS_URL=server.url, REDIS_USERNAME="operator", REDIS_PASSWORD_FILE=str(secret)
    )
    info = subprocess.run(
        [STREAMCTL, "info", "--json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["length"] == 5

    out = tmp_path / "tail.out"
    with out.open("w") as sink:
        proc = subprocess.Popen(
            [STREAMCTL, "tail", "--follow", "--count", "0", "--json"],
            env={**env, "PYTHONUNBUFFERED": "1"},
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(
                lambda: any(c.get("cmd") == "xread" for c in admin.client_list()),
                timeout=60,
                what="tail --follow blocking in XREAD",
            )
            fill(admin, "quotes", 3, start=5)
            wait_for(
                lambda: out.read_text().count("\n") >= 3 or proc.poll() is not None,
                timeout=60,
                what="tail --follow to print the new entries (XREAD)",
            )
            assert proc.poll() is None, out.read_text()
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=30) == 0, out.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    lines = out.read_text().splitlines()
    assert len(lines) == 3 and all(json.loads(line)["type"] == "quote" for line in lines)
