"""Fixtures for the streamctl tests: a CliRunner bound to the test stream, real states.

States are built with real processes and the real consumer: a consumer
subprocess SIGKILLed mid-batch (pending entries), poison entries that the
consumer dead-letters, groups read to different positions. ``run`` works on
the plain test stream, ``run4`` on the same stream as ``P`` = 4 partitions
(``settings4``); ``produce`` and ``drain`` work on either.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import redis
from click.testing import CliRunner, Result

from streamlib import GroupConsumer, Message, PartitionedProducer, StreamSettings
from streamlib.cli import cli
from streamlib.partitions import all_partition_settings, partition_of
from tests.support.helpers import quote, wait_for

STUCK_CONSUMER = Path(__file__).resolve().parents[2] / "support" / "stuck_consumer.py"

#: Fields of an entry that can never be decoded (its data is not JSON).
POISON = {"v": "1", "type": "quote", "key": "poison-key", "ts": "1", "data": "{not json"}

Run = Callable[..., Result]


#: Partitions of the partitioned variant of the test stream.
P = 4


def target_args(settings: StreamSettings) -> list[str]:
    args = [
        "--redis-url",
        settings.redis_url,
        "--stream",
        settings.stream,
        "--group",
        settings.group,
    ]
    if settings.partitions > 1:
        args += ["--partitions", str(settings.partitions)]
    return args


def runner(settings: StreamSettings) -> Run:
    """``run("pending", "--json")``: streamctl via CliRunner on ``settings``' stream and group."""
    click_runner = CliRunner()

    def invoke(*args: str, input: str | None = None, target: bool = True) -> Result:
        extra = target_args(settings) if target else []
        return click_runner.invoke(cli, [*args, *extra], input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def run(settings: StreamSettings, client: redis.Redis) -> Run:
    """streamctl on the plain test stream."""
    return runner(settings)


@pytest.fixture
def settings4(settings: StreamSettings) -> StreamSettings:
    """The test stream as ``P`` partitions."""
    return settings.replace(partitions=P)


@pytest.fixture
def run4(settings4: StreamSettings, client: redis.Redis) -> Run:
    """streamctl on the test stream's ``P`` partitions."""
    return runner(settings4)


def parts(settings: StreamSettings) -> list[StreamSettings]:
    """Each partition's settings (the stream itself when it has one)."""
    return all_partition_settings(settings)


def keys_in(partitions: int, wanted: set[int], n: int) -> list[int]:
    """The first ``n`` quote numbers whose keys route to one of the ``wanted`` partitions."""
    found = (i for i in range(10_000) if partition_of(quote(i).key, partitions) in wanted)
    return [next(found) for _ in range(n)]


def as_json(result: Result) -> Any:
    """The one JSON document on stdout (fails if stdout holds anything else)."""
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def produce(client: redis.Redis, settings: StreamSettings, n: int, start: int = 0) -> list[str]:
    """Quotes ``start`` .. ``n - 1``, each to its partition; their ids in that order."""
    return send(client, settings, range(start, n))


def send(client: redis.Redis, settings: StreamSettings, numbers: Sequence[int]) -> list[str]:
    """The quotes numbered ``numbers``, each to its partition; their ids in that order."""
    producer = PartitionedProducer(client, settings.stream, settings.partitions)
    return producer.send_many([quote(i) for i in numbers])


def drain(
    client: redis.Redis,
    settings: StreamSettings,
    store: dict[str, Message] | None = None,
    **changes: Any,
) -> None:
    """Run a real consumer to completion (burst) on every partition, storing messages by key."""
    sink = {} if store is None else store

    def handler(messages: Sequence[Message]) -> None:
        for m in messages:
            sink[m.envelope.key] = m

    for one in parts(settings.replace(**changes)):
        GroupConsumer(client, one, handler).run(burst=True)


@pytest.fixture
def killed_consumer(
    client: redis.Redis, settings: StreamSettings
) -> Iterator[Callable[[str, int], None]]:
    """``kill(name, batch[, stream])``: a consumer process takes a batch, hangs, is SIGKILLed."""
    procs: list[subprocess.Popen[bytes]] = []

    def start_and_kill(name: str, batch: int, stream: str | None = None) -> None:
        ready = f"ready-{uuid.uuid4().hex}"
        target = stream or settings.stream
        args = [settings.redis_url, target, settings.group, name, ready, str(batch)]
        proc = subprocess.Popen([sys.executable, str(STUCK_CONSUMER), *args])
        procs.append(proc)
        wait_for(lambda: client.get(ready) or proc.poll() is not None, what="batch in hand")
        assert proc.poll() is None, f"consumer exited early with {proc.returncode}"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL

    yield start_and_kill
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
