"""Fixtures for the producer: a generated quotes site, and the real crawl command."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import redis

from producer.sample_site import Expected, SiteServer, generate_site
from streamlib import Envelope, decode

ROOT = Path(__file__).resolve().parents[2]
PAGES = 3
CRAWL_TIMEOUT = 150.0
SUMMARY = re.compile(r"Stream summary: sent=(\d+) batches=(\d+) retries=(\d+) undelivered=(\d+)")


@dataclasses.dataclass(frozen=True)
class Site:
    directory: Path
    expected: Expected


@dataclasses.dataclass(frozen=True)
class Crawl:
    """A finished ``scrapy crawl`` run."""

    returncode: int
    output: str

    def summary(self) -> dict[str, int]:
        """The pipeline's closing summary line, as numbers."""
        found = SUMMARY.search(self.output)
        assert found, f"no stream summary in the crawl's output:\n{self.output[-3000:]}"
        names = ("sent", "batches", "retries", "undelivered")
        return dict(zip(names, map(int, found.groups()), strict=True))


def scrapy_command(
    start_url: str,
    *settings: str,
    spider: str = "quotes",
    spider_args: Mapping[str, str] | None = None,
) -> list[str]:
    """``scrapy crawl quotes -a start_url=...`` with ``-s`` settings (AutoThrottle off)."""
    script = Path(sys.executable).with_name("scrapy")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "scrapy"]
    cmd += ["crawl", spider, "-a", f"start_url={start_url}", "-s", "AUTOTHROTTLE_ENABLED=False"]
    for name, value in (spider_args or {}).items():
        cmd += ["-a", f"{name}={value}"]
    for setting in settings:
        cmd += ["-s", setting]
    return cmd


def crawl_env(**variables: str) -> dict[str, str]:
    """The environment for a crawl: ours, without any outer REDIS_URL / STREAM_*."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL" and not k.startswith("STREAM")}
    env.update(variables)
    return env


def run_crawl(
    start_url: str,
    *settings: str,
    spider: str = "quotes",
    spider_args: Mapping[str, str] | None = None,
    cwd: Path = ROOT,
    **env: str,
) -> Crawl:
    """Run the real crawl command (from the repository root) and wait for it."""
    proc = subprocess.run(
        scrapy_command(start_url, *settings, spider=spider, spider_args=spider_args),
        cwd=cwd,
        env=crawl_env(**env),
        capture_output=True,
        text=True,
        timeout=CRAWL_TIMEOUT,
    )
    return Crawl(proc.returncode, proc.stdout + proc.stderr)


#: Backpressure's marks: pause at a lag of 12 entries, resume at 4, in small,
#: quick batches so the lag moves in steps the test can see. The group is the
#: consumers' (``GROUP``) unless a test names another or turns it off.
BACKPRESSURE = {
    "STREAM_BATCH_SIZE": "4",
    "STREAM_MAX_DELAY": "0.05",
    "STREAM_BACKPRESSURE_HIGH": "12",
    "STREAM_BACKPRESSURE_LOW": "4",
    "STREAM_BACKPRESSURE_INTERVAL": "0.05",
}


@contextlib.contextmanager
def backpressure_crawl(
    site_url: str, stream: str, log_path: Path, **env: str
) -> Iterator[subprocess.Popen[bytes]]:
    """A crawl of ``site_url`` into ``stream`` with ``BACKPRESSURE``, logging to ``log_path``.

    ``env`` names the group (``GROUP``, ``STREAM_BACKPRESSURE_GROUP``). A
    download delay keeps the crawl longer than a few lag checks. The crawl is
    killed on exit if it is still running.
    """
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            scrapy_command(site_url, "DOWNLOAD_DELAY=0.2"),
            cwd=ROOT,
            env=crawl_env(STREAM_NAME=stream, **BACKPRESSURE, **env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def catch_up(client: redis.Redis, streams: list[str], proc: subprocess.Popen[bytes]) -> bool:
    """Group ``slow`` reads everything there is in ``streams``; whether the crawl has ended."""
    for stream in streams:
        client.xreadgroup("slow", "c1", {stream: ">"}, count=1000)
    return proc.poll() is not None


def read_stream(client: redis.Redis, stream: str) -> list[Envelope]:
    """Every entry of ``stream``, decoded (a bad entry fails the test)."""
    return [decode(fields) for _, fields in client.xrange(stream)]


def relative(data: Mapping[str, Any], base: str) -> dict[str, Any]:
    """A record with its URLs made relative to the site's root, as ``Expected`` has them."""
    root = base.rstrip("/")
    return {
        k: v.removeprefix(root)
        if k in ("url", "author_url", "page_url") and isinstance(v, str)
        else v
        for k, v in data.items()
    }


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """A generated site of PAGES pages (shared by a module's tests, read-only)."""
    directory = tmp_path_factory.mktemp("quotesite")
    return Site(directory, generate_site(directory, pages=PAGES))


@pytest.fixture
def site(generated: Site) -> Iterator[SiteServer]:
    """A fresh server (fresh request log) for the generated site."""
    with SiteServer(generated.directory) as server:
        yield server
