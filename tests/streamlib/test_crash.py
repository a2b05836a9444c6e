"""Real consumer processes killed and signalled mid-batch: nothing is lost."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from streamlib import GroupConsumer, Message, StreamProducer, StreamSettings
from tests.support.helpers import quote, wait_for

WORKER = Path(__file__).resolve().parents[1] / "support" / "stream_worker.py"


@pytest.fixture
def spawn(settings: StreamSettings, tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str, *extra: str) -> subprocess.Popen[bytes]:
        cmd = [sys.executable, str(WORKER), settings.redis_url, settings.stream]
        cmd += [settings.group, name, str(tmp_path), *extra]
        with (tmp_path / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_killed_consumer_loses_nothing(
    client: redis.Redis, settings: StreamSettings, tmp_path: Path, spawn
) -> None:  # type: ignore[no-untyped-def]
    produced = [quote(n) for n in range(200)]
    StreamProducer(client, settings.stream).send_many(produced)
    victim = spawn("victim", "--hold", "--batch-size", "50")
    wait_for((tmp_path / "holding").exists, what="the victim to hold a batch")

    victim.send_signal(signal.SIGKILL)  # mid-batch: handled, never acknowledged
    assert victim.wait(timeout=30) == -signal.SIGKILL
    stuck = client.xpending(settings.stream, settings.group)
    assert stuck["pending"] == 50
    assert [c["name"] for c in stuck["consumers"]] == [b"victim"]

    handled: list[str] = []

    def store(batch: list[Message]) -> None:
        handled.extend(m.envelope.key for m in batch)

    rescuer = GroupConsumer(client, settings.replace(consumer="rescuer"), store)

    def drained() -> bool:
        rescuer.run(burst=True)
        return client.xpending(settings.stream, settings.group)["pending"] == 0

    wait_for(drained, timeout=60, what="the rescuer to reclaim the victim's entries")
    expected = {e.key for e in produced}
    assert set(handled) == expected  # the rescuer alone covers everything: zero loss
    assert rescuer.stats.reclaimed == 50
    victim_seen = set(lines(tmp_path / "handled-victim"))
    assert len(victim_seen) == 50 and victim_seen <= expected  # those came back too


def test_sigterm_drains_the_batch_in_hand_and_exits_zero(
    client: redis.Redis, settings: StreamSettings, tmp_path: Path, spawn
) -> None:  # type: ignore[no-untyped-def]
    StreamProducer(client, settings.stream).send_many([quote(n) for n in range(100)])
    worker = spawn("w1", "--hold", "--batch-size", "30")
    wait_for((tmp_path / "holding").exists, what="the worker to hold a batch")

    worker.send_signal(signal.SIGTERM)
    (tmp_path / "release").touch()
    assert worker.wait(timeout=60) == 0
    assert "finishing the batch in hand" in (tmp_path / "w1.log").read_text()
    # The batch in hand was acknowledged; nothing more was read after the signal.
    assert len(lines(tmp_path / "handled-w1")) == 30
    info = client.xinfo_groups(settings.stream)[0]
    assert info["pending"] == 0
    assert info["lag"] == 70


def test_second_sigterm_exits_at_once_leaving_the_batch_pending(
    client: redis.Redis, settings: StreamSettings, tmp_path: Path, spawn
) -> None:  # type: ignore[no-untyped-def]
    StreamProducer(client, settings.stream).send_many([quote(n) for n in range(40)])
    worker = spawn("w2", "--hold", "--batch-size", "30")
    wait_for((tmp_path / "holding").exists, what="the worker to hold a batch")

    worker.send_signal(signal.SIGTERM)
    log = tmp_path / "w2.log"
    wait_for(lambda: "finishing the batch in hand" in log.read_text(), what="the first signal")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 128 + signal.SIGTERM
    assert client.xpending(settings.stream, settings.group)["pending"] == 30
