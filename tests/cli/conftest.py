"""Fixtures for the streamctl tests: a CliRunner bound to the test stream, real states.

States are built with real processes and the real consumer: a consumer
subprocess SIGKILLed mid-batch (pending entries), poison entries that the
consumer dead-letters, groups read to different positions.
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

from streamlib import GroupConsumer, Message, StreamProducer, StreamSettings
from streamlib.cli import cli
from tests.helpers import quote, wait_for

STUCK_CONSUMER = Path(__file__).with_name("stuck_consumer.py")

#: Fields of an entry that can never be decoded (its data is not JSON).
POISON = {"v": "1", "type": "quote", "key": "poison-key", "ts": "1", "data": "{not json"}

Run = Callable[..., Result]


def target_args(settings: StreamSettings) -> list[str]:
    return [
        "--redis-url",
        settings.redis_url,
        "--stream",
        settings.stream,
        "--group",
        settings.group,
    ]


@pytest.fixture
def run(settings: StreamSettings, client: redis.Redis) -> Run:
    """``run("pending", "--json")``: streamctl via CliRunner on the test stream and group."""
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, target: bool = True) -> Result:
        extra = target_args(settings) if target else []
        return runner.invoke(cli, [*args, *extra], input=input, catch_exceptions=False)

    return invoke


def as_json(result: Result) -> Any:
    """The one JSON document on stdout (fails if stdout holds anything else)."""
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def produce(client: redis.Redis, settings: StreamSettings, n: int, start: int = 0) -> list[str]:
    return StreamProducer(client, settings.stream).send_many([quote(i) for i in range(start, n)])


def drain(
    client: redis.Redis,
    settings: StreamSettings,
    store: dict[str, Message] | None = None,
    **changes: Any,
) -> None:
    """Run a real consumer to completion (burst), storing messages by key."""
    sink = {} if store is None else store

    def handler(messages: Sequence[Message]) -> None:
        for m in messages:
            sink[m.envelope.key] = m

    GroupConsumer(client, settings.replace(**changes), handler).run(burst=True)


@pytest.fixture
def killed_consumer(
    client: redis.Redis, settings: StreamSettings
) -> Iterator[Callable[[str, int], None]]:
    """``kill(name, batch)``: a consumer subprocess takes a batch, hangs, and is SIGKILLed."""
    procs: list[subprocess.Popen[bytes]] = []

    def start_and_kill(name: str, batch: int) -> None:
        ready = f"ready-{uuid.uuid4().hex}"
        args = [settings.redis_url, settings.stream, settings.group, name, ready, str(batch)]
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
