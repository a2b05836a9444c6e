"""Every entry point over real TLS, taking credentials in every documented way.

One ``redis-server`` per test listens on a TLS port with ``tls-auth-clients
yes`` (so a client certificate is required) and an ACL user per role. The
spider, ``quotes-consumer`` and ``streamctl`` run as subprocesses against
``rediss://`` with verification on (``REDIS_TLS_CA_FILE``), a client
certificate and key (``REDIS_TLS_CERT_FILE`` / ``REDIS_TLS_KEY_FILE``), and
credentials given in the URL, as ``REDIS_USERNAME`` / ``REDIS_PASSWORD``, or
as ``REDIS_USERNAME`` / ``REDIS_PASSWORD_FILE``. A wrong CA must end each of
them with a non-zero status and a clear message, well before any retry
deadline: a hang or a silent success fails the test.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from producer.sample_site import SiteServer, generate_site
from streamlib.connection import client_from_url
from streamlib.testing import LocalRedis, free_port
from tests.support import entrypoints
from tests.support.acl import add_role_user
from tests.support.replicas import fill, sqlite_count
from tests.support.tls import TLSFiles, make_tls_files, server_tls_args

PASSWORD = "tls-Entry-Secret-9"
METHODS = ("url", "env", "file")


@dataclasses.dataclass(frozen=True)
class TLSRedis:
    server: LocalRedis
    tls_port: int
    files: TLSFiles
    folder: Path

    @property
    def admin(self) -> redis.Redis:
        """The default user over the plain port (to set up and check state)."""
        return client_from_url(self.server.url)

    def env(
        self, role: str, method: str, *, ca: Path | None = None, **extra: str
    ) -> dict[str, str]:
        """The environment of an entry point acting as ``role``, credentials by ``method``."""
        add_role_user(self.server, role, PASSWORD)
        base = f"127.0.0.1:{self.tls_port}/0"
        env = {
            "REDIS_TLS_CA_FILE": str(ca or self.files.ca),
            "REDIS_TLS_CERT_FILE": str(self.files.client_cert),
            "REDIS_TLS_KEY_FILE": str(self.files.client_key),
        }
        if method == "url":
            env["REDIS_URL"] = f"rediss://{role}:{PASSWORD}@{base}"
        elif method == "env":
            env |= {"REDIS_URL": f"rediss://{base}", "REDIS_USERNAME": role}
            env["REDIS_PASSWORD"] = PASSWORD
        else:
            secret = self.folder / f"{role}.password"
            secret.write_text(PASSWORD + "\n")  # as a Docker secret file would hold it
            env |= {"REDIS_URL": f"rediss://{base}", "REDIS_USERNAME": role}
            env["REDIS_PASSWORD_FILE"] = str(secret)
        return entrypoints.clean_env(**env, **extra)


@pytest.fixture
def tls(redis_factory: Callable[..., LocalRedis], tmp_path: Path) -> TLSRedis:
    files = make_tls_files(tmp_path / "tls")
    port = free_port()
    server = redis_factory(extra_args=server_tls_args(files, port, "yes"))
    return TLSRedis(server, port, files, tmp_path)


@pytest.fixture(scope="module")
def small_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    folder = tmp_path_factory.mktemp("tls-site")
    expected = generate_site(folder, pages=1)
    return folder, len(expected.quotes) + len(expected.authors)


@pytest.fixture
def wrong_ca(tmp_path: Path) -> Path:
    return make_tls_files(tmp_path / "other", prefix="other-").ca


@pytest.mark.parametrize("method", METHODS)
def test_spider_over_tls(tls: TLSRedis, small_site: tuple[Path, int], method: str) -> None:
    folder, total = small_site
    with SiteServer(folder) as site:
        crawl = entrypoints.spider(site.url, tls.env("producer", method), "STREAM_MAX_DELAY=0.1")
    assert crawl.returncode == 0, crawl.output[-3000:]
    assert tls.admin.xlen("quotes") == total
    assert PASSWORD not in crawl.output


@pytest.mark.parametrize("method", METHODS)
def test_consumer_over_tls(tls: TLSRedis, tmp_path: Path, method: str) -> None:
    fill(tls.admin, "quotes", 25)
    db = tmp_path / "q.db"
    run = entrypoints.consumer(
        ["--burst", "--sink", f"sqlite:///{db}", "--consumer", "tls"],
        tls.env("consumer", method),
    )
    assert run.returncode == 0, run.output[-3000:]
    assert sqlite_count(db) == 25
    assert "redis=rediss://" in run.stderr
    assert PASSWORD not in run.output


@pytest.mark.parametrize("method", METHODS)
def test_streamctl_over_tls(tls: TLSRedis, method: str) -> None:
    fill(tls.admin, "quotes", 3)
    env = tls.env("operator", method)
    created = entrypoints.streamctl(["group", "create", "--json"], env)
    assert created.returncode == 0, created.output
    info = entrypoints.streamctl(["info", "--json"], env)
    assert info.returncode == 0, info.output
    document = json.loads(info.stdout)
    assert document["length"] == 3 and document["groups"][0]["lag"] == 3
    assert document["redis_url"].startswith("rediss://")
    assert PASSWORD not in created.output + info.output


def _tls_refused(output: str) -> bool:
    text = output.lower()
    return "tls handshake" in text or "certificate verify failed" in text


def test_spider_with_a_wrong_ca_fails_fast(
    tls: TLSRedis, small_site: tuple[Path, int], wrong_ca: Path
) -> None:
    folder, _ = small_site
    env = tls.env("producer", "url", ca=wrong_ca)
    with SiteServer(folder) as site:
        crawl = entrypoints.spider(site.url, env, "STREAM_RETRY_TIMEOUT=300")
    assert crawl.returncode != 0, crawl.output[-3000:]
    assert _tls_refused(crawl.output), crawl.output[-3000:]
    assert crawl.seconds < 60  # not retried until STREAM_RETRY_TIMEOUT
    assert tls.admin.exists("quotes") == 0
    assert PASSWORD not in crawl.output


def test_consumer_with_a_wrong_ca_fails_fast(tls: TLSRedis, tmp_path: Path, wrong_ca: Path) -> None:
    # Not --burst: a consumer waits for an unreachable Redis forever, but not for a bad CA.
    run = entrypoints.consumer(
        ["--sink", f"sqlite:///{tmp_path / 'q.db'}"],
        tls.env("consumer", "env", ca=wrong_ca),
        timeout=90,
    )
    assert run.returncode == 1, run.output[-3000:]
    assert "invalid configuration" in run.stderr and _tls_refused(run.stderr), run.stderr
    assert run.seconds < 60
    assert PASSWORD not in run.output


@pytest.mark.parametrize("ca", ["wrong", "none"])
def test_streamctl_with_a_wrong_or_no_ca_fails_fast(tls: TLSRedis, wrong_ca: Path, ca: str) -> None:
    env = tls.env("operator", "file", ca=wrong_ca)
    if ca == "none":  # verification stays on: the system store doesn't know our CA
        del env["REDIS_TLS_CA_FILE"]
    run = entrypoints.streamctl(["info", "--json", "--timeout", "60"], env)
    assert run.returncode == 2, run.output
    assert run.stdout == ""
    assert _tls_refused(run.stderr), run.stderr
    assert run.seconds < 30
    assert PASSWORD not in run.output


def test_a_client_certificate_is_required_and_sent(tls: TLSRedis) -> None:
    env = tls.env("operator", "env")
    assert entrypoints.streamctl(["group", "create"], env).returncode == 0
    del env["REDIS_TLS_CERT_FILE"], env["REDIS_TLS_KEY_FILE"]
    run = entrypoints.streamctl(["info", "--timeout", "5"], env)
    assert run.returncode == 2, run.output
