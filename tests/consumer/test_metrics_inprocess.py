"""``streamlib.metrics`` around a generic handler (no quote knowledge), in process,
for a plain stream and for four partitions."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from streamlib import (
    BatchResult,
    Envelope,
    GroupConsumer,
    Message,
    OutageError,
    PartitionedConsumer,
    PartitionedProducer,
    StreamSettings,
    partition_of,
    partition_stream,
)
from streamlib.codec import encode
from streamlib.metrics import ConsumerMetrics, MetricsServer
from tests.support.helpers import wait_for


def series(text: str) -> dict[tuple[str, str, str], float]:
    """(sample name, stream, kind) -> value of every sample without a ``le`` label."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if "le" not in s.labels:
                out[(s.name, s.labels.get("stream", ""), s.labels.get("kind", ""))] = s.value
    return out


@pytest.mark.parametrize("partitions", [1, 4])
def test_counters_histograms_gauges_and_health_per_partition(
    client: redis.Redis, settings: StreamSettings, partitions: int
) -> None:
    envelopes = [Envelope(type="thing", key=f"k{i}", data={"i": i}) for i in range(40)]
    PartitionedProducer(client, settings.stream, partitions).send_many(envelopes)
    streams = [partition_stream(settings.stream, i, partitions) for i in range(partitions)]
    where = [streams[partition_of(e.key, partitions)] for e in envelopes]

    def handler(batch: Sequence[Message]) -> BatchResult:
        # By key: an entry id is unique within its partition only.
        return BatchResult(
            failed={m.id: "try later" for m in batch if m.envelope.key == "k0"},
            rejected={m.id: "no good" for m in batch if m.envelope.key == "k1"},
        )

    # The failed entry stays pending: no sweep may reclaim (and count) it again
    # within the run, as the fixture's 200 ms min-idle would on a slow machine.
    settings = settings.replace(min_idle_ms=3_600_000, partitions=partitions)
    metrics = ConsumerMetrics(settings, health_timeout=0.5)
    consumer = PartitionedConsumer(settings, handler, client_factory=lambda: client)
    metrics.track(consumer)
    server = MetricsServer(metrics, client, port=0, host="127.0.0.1", refresh_interval=0.05)
    server.start()
    try:
        consumer.run(burst=True)
        metrics.refresh_group(client)
        text = metrics.exposition().decode()
        got = series(text)
        for stream in streams:  # every partition has its series, with its own numbers
            n = where.count(stream)
            failed, rejected = int(where[0] == stream), int(where[1] == stream)
            expected = {
                "streamlib_consumer_read_total": n,
                "streamlib_consumer_handled_total": n - failed - rejected,
                "streamlib_consumer_acked_total": n - failed - rejected,
                "streamlib_consumer_failed_total": failed,
                "streamlib_consumer_dead_lettered_total": rejected,
                "streamlib_consumer_end_to_end_seconds_count": n - failed - rejected,
                "streamlib_group_pending": failed,
                "streamlib_group_lag": 0,
                "streamlib_stream_entries_added_total": n,
            }
            for name, value in expected.items():
                assert got[(name, stream, "")] == value, (name, stream, text)
            assert got[("streamlib_consumer_handle_seconds_count", stream, "")] >= 1
            assert got[("streamlib_consumer_errors_total", stream, "handler")] == 0
            oldest = got[("streamlib_group_oldest_pending_age_seconds", stream, "")]
            assert oldest == 0 if not failed else 0 <= oldest < 600
        assert (
            sum(v for (name, _, _), v in got.items() if name == "streamlib_consumer_read_total")
            == 40
        )
        labels = f'consumer="c1",group="g",stream="{streams[0]}"'
        assert f"streamlib_consumer_read_total{{{labels}}}" in text  # P = 1: today's series
        base = f"http://127.0.0.1:{server.port}"
        with urllib.request.urlopen(base + "/metrics", timeout=10) as resp:
            assert resp.headers["Content-Type"].startswith("text/plain")
            assert b"streamlib_consumer_acked_total" in resp.read()

        # The loop has stopped reading: after health_timeout, /healthz says so,
        # naming every partition once each has been idle that long (the
        # partitions' threads finish their burst at slightly different times).
        def stalled_body() -> dict[str, object] | None:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=10).close()
            except urllib.error.HTTPError as exc:
                body: dict[str, object] = json.loads(exc.read())
                return body if body["stalled_partitions"] == streams else None
            return None

        wait_for(lambda: stalled_body() is not None, timeout=30, what="every partition stalled")
        body = stalled_body()
        assert body is not None and body["status"] == "stalled"
    finally:
        server.stop()
        consumer.close()


def test_one_stalled_partition_makes_the_replica_unhealthy(settings: StreamSettings) -> None:
    settings = settings.replace(partitions=4)
    metrics = ConsumerMetrics(settings, health_timeout=30)
    consumer = PartitionedConsumer(settings, lambda batch: None)
    try:
        assert not metrics.healthy()  # nothing tracked yet
        metrics.track(consumer)
        assert metrics.healthy()
        # Partition 2's loop last read a minute ago (as when its node is away);
        # the others read just now.
        consumer.consumers[2].stats.last_progress = time.monotonic() - 60
        assert metrics.stalled() == [partition_stream(settings.stream, 2, 4)]
        assert not metrics.healthy()
        got = series(metrics.exposition().decode())
        healthy = [got[("streamlib_consumer_healthy", s, "")] for s in metrics.streams]
        assert healthy == [1, 1, 0, 1]
        assert metrics.progress_age() == pytest.approx(60, abs=5)
    finally:
        consumer.close()


def test_health_timeout_must_be_positive(settings: StreamSettings) -> None:
    with pytest.raises(ValueError, match="health_timeout"):
        ConsumerMetrics(settings, health_timeout=0)


@pytest.mark.parametrize("partitions", [1, 3])
def test_an_outage_shows_in_health_and_metrics_per_partition(
    client: redis.Redis, settings: StreamSettings, partitions: int
) -> None:
    settings = settings.replace(partitions=partitions, batch_size=5)
    envelopes = [Envelope(type="thing", key=f"k{i}", data={"i": i}) for i in range(60)]
    PartitionedProducer(client, settings.stream, partitions).send_many(envelopes)
    streams = [partition_stream(settings.stream, i, partitions) for i in range(partitions)]
    up = threading.Event()

    def sink(batch: Sequence[Message]) -> None:
        if not up.is_set():
            raise OutageError("connection refused (test sink)")

    consumer = PartitionedConsumer(settings, sink)
    metrics = ConsumerMetrics(settings, health_timeout=60)
    metrics.track(consumer)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        # Every partition has entries, so every partition holds a batch of 5.
        wait_for(lambda: sorted(metrics.outages()) == sorted(streams), timeout=30, what="outages")
        healthy, body = metrics.health()
        assert not healthy
        assert (body["status"], body["down"], body["held"]) == ("outage", "sink", 5 * partitions)
        assert "connection refused" in body["reason"] and body["since"].endswith("Z")
        assert body["outage_partitions"] == sorted(streams)
        got = series(metrics.exposition().decode())
        for stream in streams:
            assert got[("streamlib_consumer_sink_up", stream, "")] == 0
            assert got[("streamlib_consumer_redis_up", stream, "")] == 1
            assert got[("streamlib_consumer_paused", stream, "")] == 1
            assert got[("streamlib_consumer_held_entries", stream, "")] == 5

        up.set()
        wait_for(lambda: metrics.healthy(), timeout=30, what="healthy again")
        got = series(metrics.exposition().decode())
        for stream in streams:
            assert got[("streamlib_consumer_sink_up", stream, "")] == 1
            assert got[("streamlib_consumer_paused", stream, "")] == 0
            assert got[("streamlib_consumer_held_entries", stream, "")] == 0
        text = metrics.exposition().decode()
        outage_seconds = [
            s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name == "streamlib_consumer_outage_seconds_total"
            and s.labels["component"] == "sink"
        ]
        assert len(outage_seconds) == partitions and min(outage_seconds) > 0
    finally:
        consumer.stop()
        thread.join(30)
        consumer.close()


def test_oldest_pending_age_is_the_time_since_it_was_produced(
    client: redis.Redis, settings: StreamSettings
) -> None:
    # Ids carry the time an entry was produced: one an hour old, one just now.
    hour_ago_ms = int(client.time()[0]) * 1000 - 3_600_000
    old = encode(Envelope(type="t", key="old", data={}))
    client.xadd(settings.stream, old, id=f"{hour_ago_ms}-0")  # type: ignore[arg-type]
    client.xadd(settings.stream, encode(Envelope(type="t", key="new", data={})))  # type: ignore[arg-type]

    def handler(batch: Sequence[Message]) -> BatchResult:
        return BatchResult(failed={m.id: "later" for m in batch if m.envelope.key == "old"})

    settings = settings.replace(min_idle_ms=3_600_000)
    metrics = ConsumerMetrics(settings)
    GroupConsumer(client, settings, handler).run(burst=True)

    def oldest() -> float:
        metrics.refresh_group(client)
        return series(metrics.exposition().decode())[
            ("streamlib_group_oldest_pending_age_seconds", settings.stream, "")
        ]

    assert 3600 <= oldest() < 3600 + 120
    client.xack(settings.stream, settings.group, f"{hour_ago_ms}-0")
    assert oldest() == 0  # nothing pending
