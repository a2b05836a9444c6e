"""Every variant of the site: the same records, with the same keys, as the main site."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from producer.sample_site import VARIANTS, SiteServer
from streamlib import fingerprint

from .conftest import Site, read_stream, relative, run_crawl

#: Variants that show no author links (so no author pages), and that can't reach
#: a quote without tags (the search form finds quotes through their tags).
NO_AUTHORS = {"tableful", "search"}
TAGGED_ONLY = {"search"}


def expected_records(site: Site, variant: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(type, key) -> data of every record a crawl of ``variant`` must yield."""
    expected = site.expected
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for q in expected.quotes:
        if variant in TAGGED_ONLY and not q["tags"]:
            continue
        found["quote", fingerprint(q["text"], q["author"])] = q
    if variant not in NO_AUTHORS:
        for a in expected.authors:
            goodreads = expected.goodreads[a["url"]] if variant == "login" else ""
            found["author", fingerprint(a["name"])] = {**a, "goodreads_url": goodreads}
    return found


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_each_variant_yields_the_main_sites_records_and_keys(
    variant: str, generated: Site, site: SiteServer, client: redis.Redis, redis_url: str
) -> None:
    stream = f"variant-{uuid.uuid4().hex[:8]}"
    start = site.url.rstrip("/") + VARIANTS[variant]
    crawl = run_crawl(start, REDIS_URL=redis_url, STREAM_NAME=stream, STREAM_MAX_DELAY="0.2")
    assert crawl.returncode == 0, crawl.output[-3000:]
    entries = read_stream(client, stream)
    expected = expected_records(generated, variant)
    got = {(e.type, e.key): relative(e.data, site.url) for e in entries}
    assert len(entries) == len(got), "a record was sent twice"
    assert set(got) == set(expected)
    for ident, data in got.items():
        want = expected[ident]
        if ident[0] == "author":
            assert data == want
            continue
        assert (data["text"], data["author"], data["tags"]) == (
            want["text"],
            want["author"],
            want["tags"],
        )
        assert data["author_url"] == ("" if variant in NO_AUTHORS else want["author_url"])
    author_pages = [h.path for h in site.hits if h.path.startswith("/author/")]
    assert len(author_pages) == len(set(author_pages))
    if variant == "login":
        assert ("/login", 302, "POST") in {(h.path, h.status, h.method) for h in site.hits}
        assert "Logged in as 'quotestream'" in crawl.output


@pytest.fixture
def proxy_trap() -> Iterator[tuple[str, list[str]]]:
    """A listener standing in for an HTTPS proxy: every connection it gets is recorded."""
    server = socket.create_server(("127.0.0.1", 0))
    connections: list[str] = []

    def accept() -> None:
        while True:
            try:
                conn, peer = server.accept()
            except OSError:
                return
            connections.append(f"{peer[0]}:{peer[1]}")
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", connections
    server.close()
    thread.join(timeout=5)


def test_cookies_never_fetch_the_public_suffix_list(
    site: SiteServer,
    redis_url: str,
    tmp_path: Path,
    proxy_trap: tuple[str, list[str]],
) -> None:
    """The login variant sets a cookie: Scrapy checks its domain against the public-suffix
    list. Any download of that list (HTTPS) goes to the trap, and an empty tldextract
    cache folder makes sure a list cached by an earlier run can't hide one."""
    proxy, connections = proxy_trap
    cache = tmp_path / "tldextract"
    crawl = run_crawl(
        site.url + "login",
        REDIS_URL=redis_url,
        STREAM_NAME=f"psl-{uuid.uuid4().hex[:8]}",
        HTTPS_PROXY=proxy,
        https_proxy=proxy,
        TLDEXTRACT_CACHE=str(cache),
    )
    assert crawl.returncode == 0, crawl.output[-3000:]
    assert "Logged in as" in crawl.output
    assert connections == []
    assert "Public Suffix" not in crawl.output and "publicsuffix" not in crawl.output
    assert not cache.exists() or not any(cache.rglob("*.json"))
