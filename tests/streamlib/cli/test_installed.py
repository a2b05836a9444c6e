"""The installed ``streamctl`` console script, run as a real subprocess."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import redis

from streamlib import StreamSettings
from streamlib.groupinfo import groups
from tests.streamlib.cli.conftest import keys_in, parts, produce, send, target_args
from tests.support.helpers import quote, wait_for

STREAMCTL = Path(sys.executable).with_name("streamctl")


@pytest.fixture
def streamctl() -> str:
    found = str(STREAMCTL) if STREAMCTL.exists() else shutil.which("streamctl")
    if not found:
        pytest.fail("the streamctl console script is not installed (make install)")
    return found


def test_installed_info_json_and_exit_codes(
    streamctl: str, client: redis.Redis, settings: StreamSettings
) -> None:
    ids = produce(client, settings, 3)
    env = {
        **os.environ,
        "REDIS_URL": settings.redis_url,
        "STREAM": settings.stream,
        "GROUP": settings.group,
    }
    ok = subprocess.run(
        [streamctl, "info", "--json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["last_id"] == ids[-1]

    missing = subprocess.run(
        [streamctl, "pending"], env=env, capture_output=True, text=True, timeout=60
    )
    assert (missing.returncode, missing.stdout) == (3, "")
    assert "not found" in missing.stderr

    usage = subprocess.run([streamctl, "trim"], env=env, capture_output=True, text=True, timeout=60)
    assert usage.returncode == 1

    helped = subprocess.run([streamctl, "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "Exit codes" in helped.stdout


@pytest.mark.parametrize("partitions", [1, 4])
def test_installed_tail_follow(
    streamctl: str, client: redis.Redis, settings: StreamSettings, partitions: int
) -> None:
    """The newest entry, then one added to another partition (the last one), as JSON lines."""
    settings = settings.replace(partitions=partitions)
    ids = send(client, settings, keys_in(partitions, {0}, 2))
    proc = subprocess.Popen(
        [streamctl, "tail", "--follow", "--count", "1", "--json", *target_args(settings)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout or []])
    reader.start()
    seen: list[dict[str, object]] = []

    def got(n: int) -> bool:
        while not lines.empty():
            seen.append(json.loads(lines.get()))
        return len(seen) >= n

    try:
        wait_for(lambda: got(1), what="the newest entry")
        assert (seen[0]["id"], seen[0]["partition"]) == (ids[-1], 0)
        [number] = keys_in(partitions, {partitions - 1}, 1)
        [new] = send(client, settings, [number])
        wait_for(lambda: got(2), what="the followed entry")
        assert seen[1]["id"] == new and seen[1]["key"] == quote(number).key
        assert seen[1]["partition"] == partitions - 1
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
        reader.join(timeout=30)
        assert proc.stderr is not None
        err = proc.stderr.read()
        proc.stderr.close()
        if proc.stdout is not None:
            proc.stdout.close()
    assert code == 0, err
    assert not any(groups(client, p.stream) for p in parts(settings))  # joined no group
