"""``streamctl top``: rates against producers of a known pace, the live view in tmux.

Threads add entries (and dead letters) on a fixed schedule and a worker
acknowledges whatever it reads, so the rates ``top`` measures are known up to
the scheduling noise of a busy machine (the bounds allow a third either way).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from streamlib import PartitionedProducer, StreamSettings
from streamlib.cli import live
from streamlib.cli.base import CommandError
from streamlib.connection import client_from_url
from streamlib.partitions import all_partition_settings
from tests.streamlib.cli.conftest import Run, as_json, target_args
from tests.support.helpers import quote, wait_for

IN_CI = bool(os.environ.get("CI"))
STREAMCTL = [sys.executable, "-c", "from streamlib.cli import main; main()"]
#: Entries per second the producer adds, dead letters per second the other thread adds.
IN_RATE = 40.0
DEAD_RATE = 10.0


class Paced(threading.Thread):
    """Calls ``action(n)`` ``rate`` times a second, on a fixed schedule, until stopped."""

    def __init__(self, rate: float, action: Callable[[int], object]) -> None:
        super().__init__(daemon=True)
        self.rate = rate
        self.action = action
        self.done = threading.Event()

    def run(self) -> None:
        start, n = time.monotonic(), 0
        while not self.done.is_set():
            late = time.monotonic() - (start + n / self.rate)
            if late < 0:
                self.done.wait(-late)  # the schedule's pace, not a wait for an event
                continue
            self.action(n)
            n += 1

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=30)


class Worker(threading.Thread):
    """A group member that acknowledges every entry it reads, on every partition."""

    def __init__(self, settings: StreamSettings, name: str) -> None:
        super().__init__(daemon=True)
        self.client = client_from_url(settings.redis_url)
        self.streams = [p.stream for p in all_partition_settings(settings)]
        self.group, self.name = settings.group, name
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            reply = self.client.xreadgroup(
                self.group, self.name, dict.fromkeys(self.streams, ">"), count=100, block=50
            )
            for stream, entries in reply or []:
                if entries:
                    self.client.xack(stream, self.group, *[e[0] for e in entries])

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=30)
        self.client.close()


@pytest.fixture
def busy(
    client: redis.Redis, settings: StreamSettings
) -> Iterator[Callable[[StreamSettings], None]]:
    """``start(settings)``: a stuck consumer holding 4 entries, then paced traffic."""
    started: list[Paced | Worker] = []

    def start(s: StreamSettings) -> None:
        producer = PartitionedProducer(client_from_url(s.redis_url), s.stream, s.partitions)
        producer.send_many([quote(i) for i in range(40)])
        for p in all_partition_settings(s):
            client.xgroup_create(p.stream, s.group, "0", mkstream=True)
        # "stuck" takes what there is on its first partition and never acknowledges.
        first = all_partition_settings(s)[0].stream
        held = client.xreadgroup(s.group, "stuck", {first: ">"}, count=4)
        assert sum(len(entries) for _, entries in held) == 4
        dead = client_from_url(s.redis_url)
        started.extend(
            [
                Worker(s, "worker"),
                Paced(IN_RATE, lambda n: producer.send(quote(1_000 + n))),
                Paced(DEAD_RATE, lambda n: dead.xadd(s.dead_letters, {"reason": f"r{n}"})),
            ]
        )
        for thread in started:
            thread.start()
        # The worker has taken the backlog: from here on, out follows in.
        wait_for(lambda: _lag(client, s) == 0, timeout=60, what="the worker caught up")

    yield start
    for thread in started:
        thread.stop()


def _lag(client: redis.Redis, s: StreamSettings) -> int:
    total = 0
    for p in all_partition_settings(s):
        for row in client.xinfo_groups(p.stream):
            total += int(row["lag"] or 0)
    return total


def near(value: float | None, expected: float) -> bool:
    return value is not None and expected * 0.67 <= value <= expected * 1.33


def test_once_measures_known_rates(
    run: Run, settings: StreamSettings, busy: Callable[[StreamSettings], None]
) -> None:
    busy(settings)
    found = as_json(run("top", "--once", "--interval", "3", "--min-idle-ms", "1", "--json"))
    (group,) = found["groups"]
    assert group["group"] == settings.group and group["partition"] is None
    assert near(group["in_per_s"], IN_RATE), group
    assert near(group["out_per_s"], IN_RATE), group
    assert near(group["dead_per_s"], DEAD_RATE), group
    assert group["dead_letters"] >= 3 * DEAD_RATE * 0.67
    # The stuck consumer's 4, plus at most a batch the worker holds at that moment.
    assert 4 <= group["pending"] <= 4 + 100
    assert group["oldest_pending_age_ms"] >= 3000
    stuck, *others = found["consumers"]
    assert (stuck["name"], stuck["pending"], stuck["stuck"]) == ("stuck", 4, True)
    assert [c["name"] for c in others] == ["worker"]
    assert not others[0]["stuck"]


def test_once_per_partition(
    run4: Run, settings4: StreamSettings, busy: Callable[[StreamSettings], None]
) -> None:
    busy(settings4)
    found = as_json(run4("top", "--once", "--interval", "3", "--json"))
    total, *parts = found["groups"]
    assert total["partition"] is None
    assert [p["partition"] for p in parts] == [0, 1, 2, 3]
    assert near(total["in_per_s"], IN_RATE), total
    assert total["in_per_s"] == pytest.approx(sum(p["in_per_s"] for p in parts))
    assert total["pending"] == sum(p["pending"] for p in parts)
    assert total["dead_letters"] == sum(p["dead_letters"] for p in parts)
    # Quotes spread over the partitions: every one of them sees some of the traffic.
    assert all(p["in_per_s"] > 0 for p in parts), parts
    text = run4("top", "--once", "--interval", "0.5")
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    header = next(line for line in lines if line.startswith("GROUP"))
    assert header.split()[:3] == ["GROUP", "PART", "IN/S"]
    assert [line.split()[0] for line in lines if line.startswith(" " * 17)][:4] == list("0123")


def test_once_as_text_fits_80_columns(
    run: Run, settings: StreamSettings, busy: Callable[[StreamSettings], None]
) -> None:
    busy(settings)
    result = run("top", "--once", "--interval", "0.5", "--min-idle-ms", "1")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "\x1b" not in result.output
    assert lines[0].startswith(f"{settings.stream} on redis://")
    row = next(line for line in lines if line.startswith(settings.group[:16]))
    assert row.split()[1] != "-"  # a rate, measured
    assert any(line.startswith("! stuck") for line in lines), result.output


def test_no_groups_and_no_stream(run: Run, client: redis.Redis, settings: StreamSettings) -> None:
    client.xadd(settings.stream, {"v": "1"})
    result = run("top", "--once", "--interval", "0.1")
    assert result.exit_code == 0, result.output
    assert "(no consumer groups)" in result.output
    client.delete(settings.stream)
    assert run("top", "--once", "--interval", "0.1").exit_code == 3


def test_json_needs_once(run: Run) -> None:
    result = run("top", "--json")
    assert result.exit_code == 1
    assert "--json needs --once" in result.output


def test_live_view_without_rich_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "rich.live", None)
    with pytest.raises(CommandError, match=r"pip install 'quotestream\[top\]'"):
        live.run(lambda: 0, lambda a, b: "", 0.1)


def test_plain_frames_when_stdout_is_a_pipe(
    settings: StreamSettings, busy: Callable[[StreamSettings], None]
) -> None:
    busy(settings)
    lines: list[str] = []
    with subprocess.Popen(
        [*STREAMCTL, "top", "--interval", "0.3", *target_args(settings)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        try:
            while sum(line.startswith("GROUP") for line in lines) < 2:
                line = proc.stdout.readline()
                assert line, proc.stderr.read()
                lines.append(line)
        finally:
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=30) == 0
    assert "\x1b" not in "".join(lines)


# -- the live view, in a real terminal (tmux) -----------------------------------------


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """``tmux("send-keys", "q")``: a private tmux server (its own socket), killed after."""
    binary = shutil.which("tmux")
    if binary is None:
        if IN_CI:
            pytest.fail("CI needs tmux (Debian package) to test the live view")
        pytest.skip("tmux is not installed")
    socket = str(tmp_path / "tmux.sock")

    def call(*args: str) -> str:
        done = subprocess.run(
            [binary, "-S", socket, *args], capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    yield call
    subprocess.run([binary, "-S", socket, "kill-server"], capture_output=True, timeout=30)


def start_live(tmux: Callable[..., str], settings: StreamSettings, tmp_path: Path) -> Path:
    """``streamctl top`` in an 80x24 tmux pane; returns the file its exit code goes to."""
    status = tmp_path / f"exit-{uuid.uuid4().hex}"
    command = " ".join(
        [*(f"'{a}'" for a in STREAMCTL), "top", "--interval", "0.3", *target_args(settings)]
    )
    tmux(
        "new-session", "-d", "-x", "80", "-y", "24", f"{command}; echo $? > {status}; sleep 600"
    )  # fmt: skip
    return status


def group_row(screen: str, group: str) -> list[str] | None:
    for line in screen.splitlines():
        if line.startswith(group[:16]):
            return line.split()
    return None


@pytest.fixture
def live_top(
    tmux: Callable[..., str],
    settings: StreamSettings,
    busy: Callable[[StreamSettings], None],
    tmp_path: Path,
) -> Path:
    """``streamctl top`` live in tmux over busy traffic; the file its exit code goes to."""
    busy(settings)
    return start_live(tmux, settings, tmp_path)


def exit_code(status: Path) -> str:
    return wait_for(lambda: status.exists() and status.read_text().strip(), timeout=60)


def test_live_view_moves_and_quits_on_q(
    tmux: Callable[..., str], settings: StreamSettings, live_top: Path
) -> None:
    def dead_count() -> int | None:
        row = group_row(tmux("capture-pane", "-p"), settings.group)
        return int(row[6]) if row and row[1] != "-" else None

    first = wait_for(dead_count, timeout=60, what="a frame with rates")
    # The dead letters keep coming: the screen shows them go up.
    wait_for(lambda: (dead_count() or 0) > first + 5, timeout=60, what="the numbers move")
    screen = tmux("capture-pane", "-p")
    assert "q quits" in screen
    assert "stuck" in screen and "worker" in screen
    tmux("send-keys", "q")
    assert exit_code(live_top) == "0"
    # The alternate screen is gone: the shell's screen is back, without the view.
    assert "q quits" not in tmux("capture-pane", "-p")


def test_live_view_quits_on_ctrl_c(tmux: Callable[..., str], live_top: Path) -> None:
    wait_for(lambda: "q quits" in tmux("capture-pane", "-p"), timeout=60, what="the view")
    tmux("send-keys", "C-c")
    assert exit_code(live_top) == "0"
