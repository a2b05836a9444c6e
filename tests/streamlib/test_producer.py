"""StreamProducer against a real Redis: order, batching, retry, give-up."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
import redis

from streamlib import (
    ProducerUnavailable,
    StreamProducer,
    StreamSettings,
    client_from_url,
    decode,
)
from streamlib.testing import LocalRedis
from tests.support.helpers import quote, wait_for


def test_batches_arrive_complete_and_in_order(
    client: redis.Redis, settings: StreamSettings
) -> None:
    envelopes = [quote(n) for n in range(1234)]
    producer = StreamProducer(client, settings.stream, batch_size=100)
    ids = producer.send_many(envelopes)
    assert len(ids) == 1234 and len(set(ids)) == 1234
    entries = client.xrange(settings.stream)
    assert [i.decode() for i, _ in entries] == ids
    assert [decode(fields) for _, fields in entries] == envelopes
    assert (producer.sent, producer.batches, producer.retries) == (1234, 13, 0)


def test_send_one_returns_its_id(client: redis.Redis, settings: StreamSettings) -> None:
    producer = StreamProducer(client, settings.stream)
    entry_id = producer.send(quote(1))
    assert client.xrange(settings.stream)[0][0].decode() == entry_id


def test_a_batch_is_resent_when_redis_comes_back_within_the_deadline(
    redis_factory: Callable[..., LocalRedis], settings: StreamSettings
) -> None:
    server = redis_factory()
    client = client_from_url(server.url, socket_connect_timeout=0.5)
    server.stop()
    producer = StreamProducer(client, settings.stream, batch_size=10, retry_timeout=60)

    def restart_after_first_retry() -> None:
        wait_for(lambda: producer.retries >= 1, what="a retry")
        server.start()

    helper = threading.Thread(target=restart_after_first_retry)
    helper.start()
    ids = producer.send_many([quote(n) for n in range(25)])
    helper.join()
    assert len(ids) == 25
    assert client.xlen(settings.stream) == 25
    assert producer.retries >= 1


def test_gives_up_after_the_deadline_and_counts_what_was_not_delivered(
    redis_factory: Callable[..., LocalRedis], settings: StreamSettings
) -> None:
    server = redis_factory()
    client = client_from_url(server.url, socket_connect_timeout=0.5)
    producer = StreamProducer(client, settings.stream, batch_size=10, retry_timeout=0.3)
    producer.send_many([quote(n) for n in range(10)])
    server.kill()
    with pytest.raises(ProducerUnavailable) as info:
        producer.send_many([quote(n) for n in range(25)])
    assert info.value.undelivered == 25
    assert "25 envelope(s) not delivered" in str(info.value)
