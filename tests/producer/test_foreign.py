"""The pipeline in a Scrapy project nobody on quotestream wrote, from its settings alone.

A project of its own (in a temporary folder: its own scrapy.cfg, settings and
spider) yields plain ``dict`` items of another shape; ``ITEM_PIPELINES`` and
``STREAM_NAME`` in its settings are all it adds. The consumer stores those
items in its generic table.
"""

from __future__ import annotations

import json
import sqlite3
import textwrap
import uuid
from pathlib import Path

import redis

from producer.sample_site import SiteServer
from streamlib import fingerprint
from tests.support import entrypoints

from .conftest import Site, read_stream

SPIDER = '''
import scrapy


class SayingsSpider(scrapy.Spider):
    """Quotes from the site's JSON API, as dicts of its own shape."""

    name = "sayings"

    def __init__(self, start_url, **kwargs):
        super().__init__(**kwargs)
        self.start_url = start_url

    async def start(self):
        yield scrapy.Request(self.start_url + "api/quotes?page=1")

    def parse(self, response):
        data = response.json()
        for q in data["quotes"]:
            yield {"phrase": q["text"], "said_by": q["author"]["name"], "topics": q["tags"]}
        if data["has_next"]:
            yield response.follow(f"/api/quotes?page={data['page'] + 1}")
'''


def make_project(folder: Path, stream: str) -> Path:
    package = folder / "bookshop"
    (package / "spiders").mkdir(parents=True)
    (folder / "scrapy.cfg").write_text("[settings]\ndefault = bookshop.settings\n")
    (package / "__init__.py").write_text("")
    (package / "spiders" / "__init__.py").write_text("")
    (package / "spiders" / "sayings.py").write_text(SPIDER)
    (package / "settings.py").write_text(
        textwrap.dedent(
            f"""
            BOT_NAME = "bookshop"
            SPIDER_MODULES = ["bookshop.spiders"]
            ITEM_PIPELINES = {{"producer.pipelines.StreamPipeline": 800}}
            STREAM_NAME = {stream!r}
            """
        )
    )
    return folder


def test_a_foreign_spider_streams_dicts_and_the_consumer_stores_them(
    generated: Site, site: SiteServer, client: redis.Redis, redis_url: str, tmp_path: Path
) -> None:
    stream = f"sayings-{uuid.uuid4().hex[:8]}"
    project = make_project(tmp_path / "project", stream)
    env = entrypoints.clean_env(REDIS_URL=redis_url)
    crawl = entrypoints.run(
        [entrypoints.SCRAPY, "crawl", "sayings", "-a", f"start_url={site.url}"], env, cwd=project
    )
    assert crawl.returncode == 0, crawl.output[-3000:]
    assert "Stream summary: sent=" in crawl.output

    quotes = generated.expected.quotes
    entries = read_stream(client, stream)
    assert len(entries) == len(quotes)
    assert {e.type for e in entries} == {"sayings"}  # dict items: the spider's name
    # No key fields configured: the key is a fingerprint of the whole item.
    for e in entries:
        whole = json.dumps(e.data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        assert e.key == fingerprint(whole)

    db = tmp_path / "q.db"
    stored = entrypoints.consumer(["--burst", "--stream", stream, "--sink", f"sqlite:///{db}"], env)
    assert stored.returncode == 0, stored.output[-3000:]
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT type, key, data FROM records").fetchall()
    conn.close()
    assert len(rows) == len(quotes)
    assert {json.loads(data)["phrase"] for _, _, data in rows} == {q["text"] for q in quotes}
    by_phrase = {q["text"]: q for q in quotes}
    for kind, key, data in rows:
        item = json.loads(data)
        source = by_phrase[item["phrase"]]
        assert kind == "sayings"
        assert item == {
            "phrase": source["text"],
            "said_by": source["author"],
            "topics": source["tags"],
        }
        assert key in {e.key for e in entries}
