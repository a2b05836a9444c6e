"""What the numbers were measured on (recorded with every run)."""

from __future__ import annotations

import os
import platform
import subprocess
from typing import Any

import redis


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or the platform's guess)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit() -> str:
    """The worktree's HEAD (with ``-dirty`` when it has changes), or ``unknown``."""
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip()


def describe(client: redis.Redis) -> dict[str, Any]:
    """Machine, interpreter, Redis and library versions."""
    info = client.info("server")
    import hiredis
    import orjson

    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "redis_server": f"{info.get('redis_version')} ({info.get('executable', '?')})",
        "redis_py": redis.__version__,
        "hiredis": hiredis.__version__,
        "orjson": orjson.__version__,
        "git": git_commit(),
        "loadavg_start": os.getloadavg(),
    }
