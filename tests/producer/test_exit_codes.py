"""A crawl that fails says so: its exit status (``producer.outcome``) and one line why.

(A good crawl exits 0: test_crawl.py; no items: test_crawl.py too; items not
delivered: test_delivery.py.)
"""

from __future__ import annotations

import uuid
from pathlib import Path

from producer.outcome import EXIT_NOT_STARTED, EXIT_SITE_FAILED
from producer.sample_site import SiteServer
from streamlib.testing.server import free_port

from .conftest import Site, run_crawl

#: One retry instead of two: the same path through Scrapy, sooner.
QUICK = "RETRY_TIMES=1"


def crawl(start_url: str, redis_url: str) -> tuple[int, str]:
    done = run_crawl(
        start_url, QUICK, REDIS_URL=redis_url, STREAM_NAME=f"exit-{uuid.uuid4().hex[:8]}"
    )
    return done.returncode, done.output


def failed_line(output: str) -> str:
    lines = [line for line in output.splitlines() if "Crawl failed (exit status" in line]
    assert len(lines) == 1, output[-3000:]
    return lines[0]


def test_a_refused_connection_fails_the_crawl(redis_url: str) -> None:
    start = f"http://127.0.0.1:{free_port()}/"  # nothing listens there
    code, output = crawl(start, redis_url)
    assert code == EXIT_SITE_FAILED, output[-3000:]
    assert f"(exit status 3): could not fetch {start}: " in failed_line(output)
    assert "ConnectionRefusedError" in failed_line(output)


def test_a_missing_start_page_fails_the_crawl(site: SiteServer, redis_url: str) -> None:
    code, output = crawl(site.url + "no-such-page/", redis_url)
    assert code == EXIT_SITE_FAILED, output[-3000:]
    assert f"the site answered HTTP 404 for {site.url}no-such-page/" in failed_line(output)


def test_a_server_error_after_the_retries_fails_the_crawl(generated: Site, redis_url: str) -> None:
    with SiteServer(generated.directory, statuses={"/": 500}) as failing:
        code, output = crawl(failing.url, redis_url)
        tries = [h for h in failing.hits if h.path == "/"]
    assert code == EXIT_SITE_FAILED, output[-3000:]
    assert f"HTTP 500 for {failing.url} after retries" in failed_line(output)
    assert len(tries) == 2  # the first try and RETRY_TIMES=1 retry


def test_a_start_url_without_a_scheme_means_the_crawl_could_not_start(
    redis_url: str, tmp_path: Path
) -> None:
    code, output = crawl("127.0.0.1:8000/", redis_url)
    assert code == EXIT_NOT_STARTED, output[-3000:]
    assert "could not start: Missing scheme in request url: 127.0.0.1:8000/" in failed_line(output)
    assert "'finish_reason': 'start_error'" in output


def test_a_bad_spider_argument_is_one_line_and_no_traceback(site: SiteServer) -> None:
    done = run_crawl(site.url, spider_args={"variant": "nope"})
    assert done.returncode == EXIT_NOT_STARTED
    assert "could not start: unknown variant 'nope'" in failed_line(done.output)
    assert "Traceback" not in done.output
    assert not site.hits
