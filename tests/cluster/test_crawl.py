"""``scrapy crawl quotes`` into six partitions on the cluster (STREAM_PARTITIONS)."""

from __future__ import annotations

import collections
import uuid

import redis

from producer.sample_site import SiteServer
from streamlib import decode, partition_of
from streamlib.partitions import partition_stream
from streamlib.testing import LocalCluster
from tests.producer.conftest import Site, generated, run_crawl, site

__all__ = ["generated", "site"]  # fixtures, imported for pytest


def test_crawl_routes_every_record_to_its_partition(
    generated: Site, site: SiteServer, cluster: LocalCluster, cluster_client: redis.Redis
) -> None:
    stream = f"quotes-{uuid.uuid4().hex[:6]}"
    crawl = run_crawl(
        site.url,
        REDIS_URL=cluster.url,
        STREAM_NAME=stream,
        STREAM_PARTITIONS="6",
        STREAM_BATCH_SIZE="8",
        STREAM_MAX_DELAY="0.2",
    )
    assert crawl.returncode == 0, crawl.output[-3000:]
    per_partition = collections.Counter()
    types = collections.Counter()
    for index in range(6):
        for _, fields in cluster_client.xrange(partition_stream(stream, index, 6)):
            envelope = decode(fields)
            assert partition_of(envelope.key, 6) == index
            per_partition[index] += 1
            types[envelope.type] += 1
    expected = generated.expected
    assert types == {"quote": len(expected.quotes), "author": len(expected.authors)}
    assert len(per_partition) >= 3, per_partition  # spread, not one hot partition
    assert crawl.summary()["undelivered"] == 0
