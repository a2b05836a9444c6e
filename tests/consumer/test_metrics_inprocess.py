"""``streamlib.metrics`` around a generic handler (no quote knowledge), in process."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from streamlib import BatchResult, Envelope, GroupConsumer, Message, StreamProducer, StreamSettings
from streamlib.codec import encode
from streamlib.metrics import ConsumerMetrics, MetricsServer
from tests.helpers import wait_for


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_counters_histograms_gauges_and_health(
    client: redis.Redis, settings: StreamSettings
) -> None:
    envelopes = [Envelope(type="thing", key=f"k{i}", data={"i": i}) for i in range(10)]
    ids = StreamProducer(client, settings.stream).send_many(envelopes)

    def handler(batch: Sequence[Message]) -> BatchResult:
        return BatchResult(failed={ids[0]: "try later"}, rejected={ids[1]: "no good"})

    # The failed entry stays pending: no sweep may reclaim (and count) it again
    # within the run, as the fixture's 200 ms min-idle would on a slow machine.
    settings = settings.replace(min_idle_ms=3_600_000)
    metrics = ConsumerMetrics(settings, health_timeout=0.5)
    consumer = GroupConsumer(client, settings, metrics.instrument(handler))
    metrics.track(consumer)
    server = MetricsServer(metrics, client, port=0, host="127.0.0.1", refresh_interval=0.05)
    server.start()
    try:
        consumer.run(burst=True)
        metrics.refresh_group(client)
        text = metrics.exposition().decode()
        labels = f'consumer="c1",group="g",stream="{settings.stream}"'
        for line in (
            f"streamlib_consumer_read_total{{{labels}}} 10.0",
            f"streamlib_consumer_handled_total{{{labels}}} 8.0",
            f"streamlib_consumer_acked_total{{{labels}}} 8.0",
            f"streamlib_consumer_failed_total{{{labels}}} 1.0",
            f"streamlib_consumer_dead_lettered_total{{{labels}}} 1.0",
            f"streamlib_consumer_end_to_end_seconds_count{{{labels}}} 8.0",
            f"streamlib_consumer_handle_seconds_count{{{labels}}} 1.0",
            'streamlib_consumer_errors_total{consumer="c1",group="g",kind="handler",'
            f'stream="{settings.stream}"}} 0.0',
            f'streamlib_group_pending{{group="g",stream="{settings.stream}"}} 1.0',
            f'streamlib_group_lag{{group="g",stream="{settings.stream}"}} 0.0',
            f'streamlib_stream_entries_added_total{{stream="{settings.stream}"}} 10.0',
        ):
            assert line in text, text
        base = f"http://127.0.0.1:{server.port}"
        with urllib.request.urlopen(base + "/metrics", timeout=10) as resp:
            assert resp.headers["Content-Type"].startswith("text/plain")
            assert b"streamlib_consumer_acked_total" in resp.read()
        # The loop has stopped reading: after health_timeout, /healthz says so.
        wait_for(lambda: status(base + "/healthz") == 503, timeout=30, what="503")
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(base + "/healthz", timeout=10)
        assert json.loads(info.value.read())["status"] == "stalled"
    finally:
        server.stop()


def test_health_timeout_must_be_positive(settings: StreamSettings) -> None:
    with pytest.raises(ValueError, match="health_timeout"):
        ConsumerMetrics(settings, health_timeout=0)


def gauge(metrics: ConsumerMetrics, name: str) -> float:
    """The one sample of gauge ``name`` in the exposition."""
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        if family.name == name:
            (sample,) = family.samples
            return float(sample.value)
    raise AssertionError(f"{name} not exported")


def test_oldest_pending_age_and_healthy_gauges(
    client: redis.Redis, settings: StreamSettings
) -> None:
    # Ids carry the time an entry was produced: one an hour old, one just now.
    hour_ago_ms = int(client.time()[0]) * 1000 - 3_600_000
    producer = StreamProducer(client, settings.stream)
    old = encode(Envelope(type="t", key="old", data={}))
    client.xadd(settings.stream, old, id=f"{hour_ago_ms}-0")  # type: ignore[arg-type]
    producer.send(Envelope(type="t", key="new", data={}))
    settings = settings.replace(min_idle_ms=3_600_000)

    def handler(batch: Sequence[Message]) -> BatchResult:
        return BatchResult(failed={m.id: "try later" for m in batch if m.envelope.key == "old"})

    metrics = ConsumerMetrics(settings, health_timeout=3600)
    consumer = GroupConsumer(client, settings, metrics.instrument(handler))
    metrics.track(consumer)
    consumer.run(burst=True)
    metrics.refresh_group(client)
    age = gauge(metrics, "streamlib_group_oldest_pending_age_seconds")
    assert 3600 <= age < 3600 + 120, age
    assert gauge(metrics, "streamlib_consumer_healthy") == 1.0

    # Acknowledged: nothing pending, the age drops to 0.
    client.xack(settings.stream, settings.group, f"{hour_ago_ms}-0")
    metrics.refresh_group(client)
    assert gauge(metrics, "streamlib_group_oldest_pending_age_seconds") == 0.0

    stalled = ConsumerMetrics(settings, health_timeout=0.01)
    stalled.track(consumer)
    wait_for(lambda: gauge(stalled, "streamlib_consumer_healthy") == 0.0, what="unhealthy")
