"""No entry point ever prints the Redis password, whatever happens.

Every entry point runs as a real subprocess with a known password, given in
the URL (percent-encoded, as URLs need it), as ``REDIS_PASSWORD`` or as
``REDIS_PASSWORD_FILE``: normal runs, and error runs (wrong password, Redis
down, bad options, the password put in the wrong variable). Everything they
produce is searched for the password, raw and percent-encoded: stdout,
stderr (logs, tracebacks, exception text), ``--json`` documents, Scrapy's
crawl stats, the consumer's start, progress and done lines, and the
consumer's ``/metrics``, ``/healthz`` and 404 bodies. In-process, the reprs
and messages of settings, options, clients and exceptions are searched too.
Any hit fails the test and shows the line.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import redis

from producer.config import StreamConfig
from producer.sample_site import SiteServer, generate_site
from streamlib import RedisUnavailable, StreamSettings
from streamlib.connection import ConnectionOptions, client_from_url, mask_url
from streamlib.testing import LocalRedis, free_port
from tests.streamlib.cli.conftest import POISON
from tests.support import entrypoints
from tests.support.helpers import wait_for
from tests.support.replicas import fill

#: Characters that need percent-encoding in a URL, so both spellings are searched.
PASSWORD = "Canary/Pw@9#x-leak"
ENCODED = quote(PASSWORD, safe="")
FORMS = (PASSWORD, ENCODED, "Canary")


def assert_clean(what: str, *texts: str) -> None:
    """Fail, showing the line, if any text holds the password (or a telling part of it)."""
    for text in texts:
        for line in text.splitlines():
            for form in FORMS:
                assert form not in line, f"{what} printed the password: {line!r}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRedis]:
    """A server whose default user and ACL user ``app`` both need ``PASSWORD``."""
    try:
        local = LocalRedis(data_dir=tmp_path_factory.mktemp("leak-redis")).start()
    except Exception as exc:  # no binary: skip like the shared fixture (fail under CI)
        pytest.skip(f"no Redis server: {exc}")
    admin = client_from_url(local.url)
    admin.execute_command("ACL", "SETUSER", "app", "on", f">{PASSWORD}", "~*", "&*", "+@all")
    admin.config_set("requirepass", PASSWORD)
    admin.close()
    yield local
    local.close()


@pytest.fixture
def admin(server: LocalRedis) -> Iterator[redis.Redis]:
    c = client_from_url(f"redis://app:{ENCODED}@127.0.0.1:{server.port}/0")
    c.flushall()
    yield c
    c.close()


def url_with_password(server: LocalRedis, password: str = ENCODED) -> str:
    return f"redis://app:{password}@127.0.0.1:{server.port}/0"


def credential_envs(server: LocalRedis, tmp_path: Path) -> dict[str, dict[str, str]]:
    """The three documented ways, as environments (``REDIS_URL`` included)."""
    secret = tmp_path / "redis_password"
    secret.write_text(PASSWORD + "\n")
    plain = server.url
    return {
        "url": entrypoints.clean_env(REDIS_URL=url_with_password(server)),
        # redis-py also takes credentials as query parameters.
        "url query": entrypoints.clean_env(
            REDIS_URL=f"{server.url}?username=app&password={ENCODED}"
        ),
        "env": entrypoints.clean_env(
            REDIS_URL=plain, REDIS_USERNAME="app", REDIS_PASSWORD=PASSWORD
        ),
        "file": entrypoints.clean_env(
            REDIS_URL=plain, REDIS_USERNAME="app", REDIS_PASSWORD_FILE=str(secret)
        ),
    }


def error_envs(server: LocalRedis) -> dict[str, dict[str, str]]:
    """Wrong password, Redis down, a bad URL, the password in the wrong variable."""
    down = free_port()
    wrong = quote(PASSWORD + "-wrong", safe="")
    return {
        "wrong password in URL": entrypoints.clean_env(REDIS_URL=url_with_password(server, wrong)),
        "wrong password in env": entrypoints.clean_env(
            REDIS_URL=server.url, REDIS_PASSWORD=PASSWORD + "-wrong"
        ),
        "redis down": entrypoints.clean_env(REDIS_URL=f"redis://app:{ENCODED}@127.0.0.1:{down}/0"),
        "bad scheme": entrypoints.clean_env(REDIS_URL=f"http://app:{ENCODED}@127.0.0.1:1/0"),
        "bad port": entrypoints.clean_env(REDIS_URL=f"redis://app:{ENCODED}@127.0.0.1:99x/0"),
        # A password with / # @ not percent-encoded: urlsplit sees a path, a fragment...
        "unencoded password in URL": entrypoints.clean_env(
            REDIS_URL=f"redis://app:{PASSWORD}@127.0.0.1:{server.port}/0"
        ),
        "unencoded password, digits first": entrypoints.clean_env(
            REDIS_URL=f"redis://app:12/{PASSWORD}@127.0.0.1:{server.port}/0"
        ),
        "password given twice": entrypoints.clean_env(
            REDIS_URL=url_with_password(server), REDIS_PASSWORD=PASSWORD
        ),
        "password as the URL": entrypoints.clean_env(REDIS_URL=PASSWORD),
        "password as the file name": entrypoints.clean_env(
            REDIS_URL=server.url, REDIS_PASSWORD_FILE=PASSWORD
        ),
    }


# -- streamctl -------------------------------------------------------------------------

#: Tests that run dozens of entry-point processes (each a fresh interpreter,
#: 1-2 s apiece on a busy 2-core machine): 180 s in all was not enough under load.
#: Each process still has its own timeout, so a hang fails as before.
MANY_PROCESSES = pytest.mark.timeout(600)


STREAMCTL_COMMANDS = (
    ["info"],
    ["pending"],
    ["pending", "--details"],
    ["consumers"],
    ["reclaim", "--min-idle", "1"],
    ["dead", "list"],
    ["tail"],
    ["trim", "--acked", "--dry-run"],
    ["group", "create"],
)


@MANY_PROCESSES
def test_streamctl_never_prints_the_password(
    server: LocalRedis, admin: redis.Redis, tmp_path: Path
) -> None:
    fill(admin, "quotes", 5)
    admin.xadd("quotes", POISON)  # type: ignore[arg-type]
    admin.xgroup_create("quotes", "quotes-consumers", id="0")
    admin.xreadgroup("quotes-consumers", "c1", {"quotes": ">"}, count=2)
    admin.xadd("quotes:dead", {"orig_id": "1-0", "reason": "test", "f:v": "1"})
    dead_id = admin.xrange("quotes:dead")[0][0].decode()
    runs = 0
    for how, env in credential_envs(server, tmp_path).items():
        for args in (*STREAMCTL_COMMANDS, ["dead", "show", dead_id]):
            for mode in ([], ["--json"]):
                run = entrypoints.streamctl([*args, *mode], env)
                assert run.returncode == 0, (how, args, run.output)
                if mode:
                    json.loads(run.stdout)
                assert_clean(f"streamctl {' '.join(args + mode)} ({how})", run.output)
                runs += 1
    for how, env in error_envs(server).items():
        run = entrypoints.streamctl(["info", "--json", "--timeout", "0.5"], env)
        assert run.returncode in (1, 2), (how, run.output)
        assert run.stdout == ""
        assert_clean(f"streamctl info ({how})", run.output)
    for args in (["pending", "--count", "0"], ["nope"], ["info", "--redis-url", PASSWORD]):
        run = entrypoints.streamctl(args, credential_envs(server, tmp_path)["url"])
        assert run.returncode == 1, (args, run.output)
        assert_clean(f"streamctl {args}", run.output)
    assert runs == 2 * 4 * (len(STREAMCTL_COMMANDS) + 1)


# -- the spider ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("leak-site")
    generate_site(folder, pages=1)
    return folder


@MANY_PROCESSES
def test_the_spider_never_prints_the_password(
    server: LocalRedis, admin: redis.Redis, site_folder: Path, tmp_path: Path
) -> None:
    quick = ("STREAM_MAX_DELAY=0.1", "STREAM_RETRY_TIMEOUT=1")
    with SiteServer(site_folder) as site:
        for how, env in credential_envs(server, tmp_path).items():
            for level in ("INFO", "DEBUG"):
                crawl = entrypoints.spider(site.url, env, *quick, f"LOG_LEVEL={level}")
                assert crawl.returncode == 0, (how, crawl.output[-3000:])
                assert "'stream/sent':" in crawl.output  # the crawl stats were dumped
                assert_clean(f"crawl ({how}, {level})", crawl.output)
        # Backpressure reads the lag with the same client.
        admin.xgroup_create("quotes", "g", id="$")
        env = credential_envs(server, tmp_path)["url"]
        crawl = entrypoints.spider(site.url, env, *quick, "STREAM_BACKPRESSURE_GROUP=g")
        assert crawl.returncode == 0, crawl.output[-3000:]
        assert_clean("crawl with backpressure", crawl.output)
        for how, env in error_envs(server).items():
            crawl = entrypoints.spider(site.url, env, *quick)
            assert crawl.returncode != 0, (how, crawl.output[-3000:])
            assert_clean(f"crawl ({how})", crawl.output)
        bad = entrypoints.spider(
            site.url, credential_envs(server, tmp_path)["url"], "STREAM_BATCH_SIZE=0"
        )
        assert bad.returncode != 0 and "STREAM_BATCH_SIZE" in bad.output
        assert_clean("crawl with a bad setting", bad.output)
        by_flag = entrypoints.spider(
            site.url,
            entrypoints.clean_env(),
            *quick,
            f"STREAM_REDIS_URL={url_with_password(server)}",
        )
        assert by_flag.returncode == 0, by_flag.output[-3000:]
        assert_clean("crawl with -s STREAM_REDIS_URL", by_flag.output)


# -- quotes-consumer -------------------------------------------------------------------


def http_get(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return str(resp.read().decode())
    except urllib.error.HTTPError as exc:
        return str(exc.read().decode())


def run_until(
    args: list[str], env: dict[str, str], log: Path, ready: str, port: int | None = None
) -> tuple[str, str]:
    """Start ``quotes-consumer``, wait for ``ready`` in its log, scrape, SIGTERM; (log, http)."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            [entrypoints.CONSUMER, *args], env=env, stdout=out, stderr=subprocess.STDOUT
        )
        http = ""
        try:
            wait_for(
                lambda: ready in log.read_text() or proc.poll() is not None,
                timeout=90,
                what=ready,
            )
            assert proc.poll() is None, log.read_text()
            if port is not None:
                base = f"http://127.0.0.1:{port}"
                http = "\n".join(http_get(base + p) for p in ("/metrics", "/healthz", "/nope"))
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0, log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return log.read_text(), http


@MANY_PROCESSES
def test_quotes_consumer_never_prints_the_password(
    server: LocalRedis, admin: redis.Redis, tmp_path: Path
) -> None:
    fill(admin, "quotes", 30)
    admin.xadd("quotes", POISON)  # type: ignore[arg-type]
    sink = ["--sink", f"sqlite:///{tmp_path / 'q.db'}"]
    for how, env in credential_envs(server, tmp_path).items():
        run = entrypoints.consumer(["--burst", "--log-level", "DEBUG", *sink], env)
        assert run.returncode == 0, (how, run.output[-3000:])
        assert "starting:" in run.stderr and "done:" in run.stderr
        assert_clean(f"quotes-consumer --burst ({how})", run.output)

    # Running, with metrics and progress lines.
    port = free_port()
    metrics = ["--metrics-port", str(port), "--metrics-host", "127.0.0.1"]
    log, http = run_until(
        [*sink, *metrics, "--progress-interval", "0.2", "--block-ms", "100"],
        credential_envs(server, tmp_path)["env"],
        tmp_path / "running.log",
        "progress:",
        port,
    )
    assert "streamlib_consumer_read_total" in http and '"status"' in http
    assert_clean("quotes-consumer with metrics", log, http)

    for how, env in error_envs(server).items():
        if how == "redis down":  # waits for Redis (forever): stop it once it said so
            log, _ = run_until(sink, env, tmp_path / "down.log", "unreachable")
            assert_clean("quotes-consumer (redis down)", log)
            continue
        run = entrypoints.consumer(["--burst", *sink], env, timeout=60)
        assert run.returncode == 1, (how, run.output[-3000:])
        assert_clean(f"quotes-consumer ({how})", run.output)

    url_env = credential_envs(server, tmp_path)["url"]
    for args in (["--batch-size", "0"], ["--metrics-port", "70000"], ["--sink", PASSWORD]):
        run = entrypoints.consumer(["--burst", *sink, *args], url_env, timeout=60)
        assert run.returncode != 0, (args, run.output)
        assert_clean(f"quotes-consumer {args}", run.output)

    # A sink URL with the same password, its server down: retried with a log line.
    pg = f"postgresql://app:{ENCODED}@127.0.0.1:{free_port()}/db"
    log, _ = run_until(["--sink", pg], url_env, tmp_path / "pg.log", "sink unavailable")
    assert_clean("quotes-consumer with an unreachable PostgreSQL sink", log)


# -- in-process: reprs and exception texts ---------------------------------------------


def test_reprs_and_exceptions_never_hold_the_password(server: LocalRedis, tmp_path: Path) -> None:
    url = url_with_password(server)
    settings = StreamSettings.from_env({"REDIS_URL": url})
    options = ConnectionOptions(username="app", password=PASSWORD)
    client = client_from_url(server.url, options)
    config = StreamConfig(url, "quotes", 10, 1.0, 1.0)
    texts = [
        repr(settings),
        str(settings.masked()),
        repr(options),
        repr(config),
        repr(client),
        repr(client.connection_pool),
        repr(client.connection_pool.get_connection()),
    ]
    for bad in (
        lambda: StreamSettings.from_env({"REDIS_URL": url_with_password(server, "nope")}).connect(
            timeout=1
        ),
        lambda: StreamSettings.from_env(
            {"REDIS_URL": f"redis://app:{ENCODED}@127.0.0.1:{free_port()}/0"}
        ).connect(timeout=0.3),
        lambda: StreamSettings.from_env({"REDIS_URL": PASSWORD}),
        lambda: StreamSettings.from_env(
            {"REDIS_URL": server.url, "REDIS_PASSWORD_FILE": PASSWORD}
        ).connect(timeout=1),
    ):
        started = time.monotonic()
        with pytest.raises((RedisUnavailable, ValueError)) as info:
            bad()
        assert time.monotonic() - started < 30
        texts.append("".join(traceback.format_exception(info.value)))
    assert_clean("a repr or exception", *texts)


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("redis://:pw@h:1/0", "redis://:***@h:1/0"),
        ("redis://u:p%40w@h/0", "redis://u:***@h/0"),
        ("redis://u@h/0", "redis://u@h/0"),
        ("redis://h/0?username=u&password=x%2F&db=1", "redis://h/0?username=u&password=***&db=1"),
        ("unix://:pw@/tmp/r.sock?db=2", "unix://:***@/tmp/r.sock?db=2"),
        ("redis://u:a/b#c@h:1/0", "redis://u:***@h:1/0"),  # not percent-encoded
        ("rediss://:pw@[::1]:6379/0", "rediss://:***@[::1]:6379/0"),
        ("postgresql://u:pw@db/x?sslpassword=zz", "postgresql://u:***@db/x?sslpassword=***"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


# -- make demo -------------------------------------------------------------------------


def run_demo(env: dict[str, str], data: Path) -> entrypoints.Run:
    command = [sys.executable, "-m", "demo", "--offline", "--data-dir", str(data)]
    return entrypoints.run(command, env, timeout=240)


def test_the_demo_never_prints_the_password(
    server: LocalRedis, admin: redis.Redis, tmp_path: Path
) -> None:
    for how, env in credential_envs(server, tmp_path).items():
        done = run_demo(env, tmp_path / how.replace(" ", "-"))
        assert done.returncode == 0, f"{how}: {done.output[-3000:]}"
        assert "every record stored once" in done.output, how
        assert "using the Redis at" in done.output, how  # not an embedded fallback
        logs = "".join(p.read_text() for p in (tmp_path / how.replace(" ", "-")).rglob("*.log"))
        assert_clean(f"make demo ({how})", done.output, logs)
    wrong = run_demo(
        entrypoints.clean_env(REDIS_URL=url_with_password(server, quote("nope", safe=""))),
        tmp_path / "wrong",
    )
    assert wrong.returncode == 1
    assert "refused the credentials" in wrong.output  # an error, not an embedded fallback
    assert_clean("make demo (wrong password)", wrong.output)
