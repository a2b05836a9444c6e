"""``make demo OFFLINE=1``'s runner, end to end, as a subprocess."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import redis

from streamlib.testing import free_port

ROOT = Path(__file__).resolve().parents[1]


def run_demo(
    tmp_path: Path, redis_url: str, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "demo", "--offline", "--data-dir", str(tmp_path / "data"), *args],
        cwd=ROOT,
        env={
            "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
            "REDIS_URL": redis_url,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=300,
    )


def logged_problems(done: subprocess.CompletedProcess[str]) -> list[str]:
    """The lines at WARNING or above in the run's logs (the crawl's and each consumer's)."""
    found = re.search(r"^  logs +(\S+)$", done.stdout, re.MULTILINE)
    assert found, done.stdout
    logs = sorted(Path(found[1]).glob("*.log"))
    assert len(logs) >= 2, logs
    return [
        f"{log.name}: {line}"
        for log in logs
        for line in log.read_text(errors="replace").splitlines()
        if re.search(r"\b(WARNING|ERROR|CRITICAL)\b", line)
    ]


def test_offline_demo_on_an_embedded_redis_stores_everything_once(tmp_path: Path) -> None:
    nobody_home = f"redis://127.0.0.1:{free_port()}/0"
    done = run_demo(tmp_path, nobody_home)
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    assert "starting an embedded one" in done.stderr
    # The group is there before the crawl and the consumers start, where the
    # consumers would start it: the crawl never reads the lag of no group.
    assert "demo: created group quotes-consumers on quotes at 0\n" in done.stderr
    assert logged_problems(done) == []
    assert "quotestream demo: every record stored once" in done.stdout
    assert "100 quotes, 5 authors" in done.stdout
    assert "duplicates        0" in done.stdout
    assert "pending / lag     0 / 0" in done.stdout
    assert "exit codes [0, 0, 0, 0]" in done.stdout
    assert "produced" in done.stderr and "| lag" in done.stderr  # progress lines
    db = sqlite3.connect(tmp_path / "data" / "quotes.db")
    assert db.execute("SELECT count(*), count(DISTINCT key) FROM quotes").fetchone() == (100, 100)
    assert db.execute("SELECT count(*) FROM authors").fetchone() == (5,)
    # The embedded server kept its data in the data folder and was stopped.
    assert (tmp_path / "data" / "redis").is_dir()
    port = int(done.stdout.split("stream            quotes on redis://127.0.0.1:")[1].split("/")[0])
    try:
        redis.Redis(port=port, socket_connect_timeout=1).ping()
        still_up = True
    except redis.ConnectionError:
        still_up = False
    assert not still_up


def test_demo_uses_a_redis_that_answers_and_counts_only_its_own_run(
    tmp_path: Path, redis_url: str, client: redis.Redis
) -> None:
    first = run_demo(tmp_path, redis_url)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "using the Redis at" in first.stderr
    assert "demo: created group quotes-consumers on quotes at 0\n" in first.stderr
    assert logged_problems(first) == []
    again = run_demo(tmp_path, redis_url)  # same keys again: the sink absorbs them
    assert again.returncode == 0, again.stderr[-3000:]
    assert "created group" not in again.stderr  # the group is there: left as it is
    assert logged_problems(again) == []
    assert "entries produced  105 (105 distinct keys)" in again.stdout
    assert client.xlen("quotes") == 210
    db = sqlite3.connect(tmp_path / "data" / "quotes.db")
    assert db.execute("SELECT count(*) FROM quotes").fetchone() == (100,)


def test_demo_crawls_another_face_of_the_site(tmp_path: Path, redis_url: str) -> None:
    done = run_demo(tmp_path, redis_url, "--variant", "tableful")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "/tableful/" in done.stdout.split("crawled", 1)[1].split("\n", 1)[0]
    assert "stored            100 quotes, 0 authors" in done.stdout  # no author links there
    assert logged_problems(done) == []


def test_the_demo_runs_on_a_partitioned_stream(tmp_path: Path) -> None:
    nobody_home = f"redis://127.0.0.1:{free_port()}/0"
    done = run_demo(tmp_path, nobody_home, PARTITIONS="4")
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-2000:]
    assert "quotes (4 partitions) on" in done.stdout
    assert done.stderr.count("demo: created group quotes-consumers on {quotes:") == 4
    assert logged_problems(done) == []
    assert "entries produced  105 (105 distinct keys)" in done.stdout
    assert "stored            100 quotes, 5 authors" in done.stdout
    assert "pending / lag     0 / 0" in done.stdout
    db = sqlite3.connect(tmp_path / "data" / "quotes.db")
    assert db.execute("SELECT count(*), count(DISTINCT key) FROM quotes").fetchone() == (100, 100)
