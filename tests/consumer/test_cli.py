"""``quotes-consumer`` as a user meets it: options, start-up, bad config, signals."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from consumer.__main__ import main
from streamlib import StreamSettings
from streamlib.partitions import partition_dead_letters
from streamlib.testing import LocalRedis, free_port
from tests.support.helpers import quote
from tests.support.replicas import (
    Replica,
    consumer_command,
    fill,
    group_totals,
    sqlite_count,
    sqlite_rows,
)

PROGRESS_READ = re.compile(r"progress: read=(\d+) ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch-size", "0"], "batch_size must be between 1 and 100000"),
        (["--redis-url", "http://localhost"], "scheme must be one of"),
        (["--sink", "mysql://db/x"], "unknown sink 'mysql'"),
        (["--sink", "host=db password=pw"], "not a sink URL"),
        (["--max-deliveries", "0"], "max_deliveries must be >= 1"),
        (["--log-level", "LOUD"], "log_level must be one of DEBUG, INFO, WARNING, ERROR"),
        (["--health-timeout", "0"], "health_timeout must be > 0"),
        (["--metrics-port", "70000"], "metrics_port must be 0..65535"),
    ],
)
def test_bad_config_exits_1_with_a_clear_message(
    args: list[str], message: str, tmp_path: Path
) -> None:
    result = CliRunner().invoke(main, ["--sink", f"sqlite:///{tmp_path / 'q.db'}", *args])
    assert result.exit_code == 1, result.output
    assert "invalid configuration" in result.output and message in result.output
    assert "pw" not in result.output


def test_bad_env_value_is_a_clear_error() -> None:
    result = CliRunner().invoke(main, [], env={"MIN_IDLE_MS": "soon"})
    assert result.exit_code != 0
    assert "MIN_IDLE_MS" in result.output or "min-idle-ms" in result.output


def test_help_lists_every_option() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "consumer", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for flag in (
        "--redis-url", "--stream", "--group", "--consumer", "--dead-letter-stream", "--sink",
        "--batch-size", "--block-ms", "--min-idle-ms", "--max-deliveries", "--metrics-port",
        "--burst", "--log-level",
    ):  # fmt: skip
        assert flag in out


@pytest.mark.parametrize("partitions", [1, 4])
def test_python_m_consumer_burst_drains_and_masks_passwords(
    client: redis.Redis,
    settings: StreamSettings,
    redis_server: LocalRedis,
    tmp_path: Path,
    partitions: int,
) -> None:
    fill(client, settings.stream, 120, partitions=partitions)
    url = f"redis://default:s3cret-pw@127.0.0.1:{redis_server.port}/0"  # nopass user: any works
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "consumer",
            "--burst",
            "--redis-url",
            url,
            "--stream",
            settings.stream,
            "--partitions",
            str(partitions),
            "--group",
            "g",
            "--consumer",
            "solo",
            "--sink",
            f"sqlite:///{tmp_path / 'q.db'}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "s3cret-pw" not in proc.stderr
    start = next(line for line in proc.stderr.splitlines() if "starting:" in line)
    for part in (
        "redis=redis://default:***@127.0.0.1",
        f"stream={settings.stream} partitions={partitions}",
        "group=g",
        "consumer=solo",
        f"sink=sqlite:///{tmp_path / 'q.db'}",
    ):
        assert part in start
    dead = [partition_dead_letters(settings.stream, i, partitions) for i in (0, partitions - 1)]
    assert f"dead_letters={' .. '.join(dict.fromkeys(dead))}" in proc.stderr
    assert "done: read=120 handled=120 acked=120" in proc.stderr
    assert "start-up objects frozen, gen-0 threshold 10000" in proc.stderr  # the GC policy
    assert sqlite_rows(tmp_path / "q.db", "SELECT count(*) FROM quotes") == [(120,)]
    info = group_totals(client, settings.replace(group="g", partitions=partitions))
    assert info is not None and (info.entries_read, info.pending, info.lag) == (120, 0, 0)


def test_jsonl_sink_end_to_end(
    client: redis.Redis, settings: StreamSettings, tmp_path: Path
) -> None:
    fill(client, settings.stream, 30)
    out = tmp_path / "quotes.jsonl"
    replica = Replica(
        consumer_command(
            redis_url=settings.redis_url,
            stream=settings.stream,
            group="g",
            sink=f"jsonl:{out}",
            name="j",
            extra=["--burst"],
        ),
        tmp_path / "j.log",
        None,
    )
    assert replica.wait(120) == 0, replica.log()
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 30 and '"type": "quote"' in lines[0]


@pytest.mark.parametrize("partitions", [1, 4])
def test_sigterm_finishes_the_batch_in_hand_and_exits_0(
    client: redis.Redis, settings: StreamSettings, tmp_path: Path, partitions: int
) -> None:
    db = tmp_path / "q.db"
    replica = Replica(
        consumer_command(
            redis_url=settings.redis_url,
            stream=settings.stream,
            group="g",
            sink=f"sqlite:///{db}",
            name="t",
            extra=[
                *("--partitions", str(partitions), "--batch-size", "10"),
                *("--block-ms", "100", "--progress-interval", "0.2"),
            ],
        ),
        tmp_path / "t.log",
        None,
    )
    try:
        fill(client, settings.stream, 20_000, partitions=partitions)
        replica.expect(lambda: sqlite_count(db) > 0, timeout=60, what="the first stored batch")
        replica.expect(
            lambda: any(int(n) > 0 for n in PROGRESS_READ.findall(replica.log())),
            timeout=60,
            what="a progress line counting entries read",
        )
        replica.terminate()  # mid-stream, most likely mid-batch
        assert replica.wait(60) == 0, replica.log()
    finally:
        replica.kill()
    info = group_totals(client, settings.replace(group="g", partitions=partitions))
    stored = sqlite_rows(db, "SELECT count(*) FROM quotes")[0][0]
    # Whatever was read, from every partition, was stored and acknowledged:
    # nothing left pending.
    assert info is not None and info.pending == 0
    assert 0 < stored == info.entries_read == replica.done_stats()["acked"]
    assert "SIGTERM: finishing the batch in hand" in replica.log()


def test_waits_for_redis_at_start_with_backoff_then_works(
    redis_factory, client: redis.Redis, tmp_path: Path
) -> None:
    port = free_port()
    db = tmp_path / "q.db"
    replica = Replica(
        consumer_command(
            redis_url=f"redis://127.0.0.1:{port}/0",
            stream="late",
            group="g",
            sink=f"sqlite:///{db}",
            name="early",
            extra=["--block-ms", "100", "--progress-interval", "0.2"],
        ),
        tmp_path / "early.log",
        None,
    )
    try:
        replica.expect(
            lambda: replica.log().count("unreachable") >= 2, timeout=60, what="two retry lines"
        )
        assert replica.process.poll() is None  # retrying, not crashed
        server = redis_factory(port=port)
        late = redis.Redis(port=server.port)
        fill(late, "late", 10)
        replica.expect(lambda: sqlite_count(db) == 10, timeout=90, what="the 10 quotes stored")
        replica.expect(lambda: "progress: read=10 " in replica.log(), timeout=30, what="progress")
        replica.process.send_signal(signal.SIGINT)
        assert replica.wait(60) == 0, replica.log()
    finally:
        replica.kill()
    assert quote(0).key in {k for (k,) in sqlite_rows(db, "SELECT key FROM quotes")}


def test_refused_credentials_exit_1_without_printing_the_password(
    redis_factory, tmp_path: Path
) -> None:
    server = redis_factory()
    redis.Redis(port=server.port).config_set("requirepass", "right-pw")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "consumer",
            "--redis-url",
            f"redis://default:wrong-pw@127.0.0.1:{server.port}/0",
            "--sink",
            f"sqlite:///{tmp_path / 'q.db'}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert "refused the credentials" in proc.stderr
    assert "wrong-pw" not in proc.stderr


def test_metrics_port_in_use_exits_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            main,
            [
                "--sink", f"sqlite:///{tmp_path / 'q.db'}",
                "--metrics-port", str(port), "--metrics-host", "127.0.0.1",
            ],
        )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "can't serve metrics on 127.0.0.1" in result.output


def test_waits_for_an_unreachable_postgresql_and_stops_on_sigterm(
    settings: StreamSettings, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens there
    replica = Replica(
        consumer_command(
            redis_url=settings.redis_url,
            stream=settings.stream,
            group="g",
            sink=f"postgresql://postgres:pg-secret@127.0.0.1:{port}/test",
            name="pg",
        ),
        tmp_path / "pg.log",
        None,
    )
    try:
        replica.expect(
            lambda: replica.log().count("sink unavailable") >= 2, timeout=60, what="retry lines"
        )
        assert replica.process.poll() is None  # retrying, not crashed
        replica.terminate()
        assert replica.wait(60) == 0, replica.log()
    finally:
        replica.kill()
    assert "pg-secret" not in replica.log()
    assert f"postgresql://postgres:***@127.0.0.1:{port}/test" in replica.log()
