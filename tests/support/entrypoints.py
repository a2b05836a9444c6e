"""Run the three real entry points as subprocesses, with a clean environment.

``scrapy crawl quotes`` (from the repository root), ``quotes-consumer`` and
``streamctl`` (the installed console scripts). Each run returns its exit
status, both output streams and how long it took.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
STREAMCTL = str(BIN / "streamctl")
CONSUMER = str(BIN / "quotes-consumer")
SCRAPY = str(BIN / "scrapy")

#: Variables of ours that must not leak in from the outer environment.
_OURS = ("REDIS_", "STREAM", "GROUP", "CONSUMER", "DEAD_LETTER_STREAM", "SINK", "METRICS_")


@dataclasses.dataclass(frozen=True)
class Run:
    """A finished entry point run."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def clean_env(**variables: str) -> dict[str, str]:
    """Our environment without any outer Redis / stream settings, plus ``variables``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_OURS)}
    env.update(variables)
    return env


def run(
    command: Sequence[str], env: Mapping[str, str], *, timeout: float = 120.0, cwd: Path = ROOT
) -> Run:
    """Run ``command`` to the end (``timeout`` s at most: a hang fails the test)."""
    started = time.monotonic()
    proc = subprocess.run(
        list(command), cwd=cwd, env=dict(env), capture_output=True, text=True, timeout=timeout
    )
    return Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)


def spider(start_url: str, env: Mapping[str, str], *settings: str, timeout: float = 150) -> Run:
    """``scrapy crawl quotes -a start_url=...`` (AutoThrottle off, ``-s`` settings)."""
    cmd = [SCRAPY, "crawl", "quotes", "-a", f"start_url={start_url}"]
    for setting in ("AUTOTHROTTLE_ENABLED=False", *settings):
        cmd += ["-s", setting]
    return run(cmd, env, timeout=timeout)


def consumer(args: Sequence[str], env: Mapping[str, str], *, timeout: float = 120) -> Run:
    """``quotes-consumer ARGS``."""
    return run([CONSUMER, *args], env, timeout=timeout)


def streamctl(args: Sequence[str], env: Mapping[str, str], *, timeout: float = 60) -> Run:
    """``streamctl ARGS``."""
    return run([STREAMCTL, *args], env, timeout=timeout)
