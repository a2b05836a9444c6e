"""A Docker engine for the compose test: the one at ``DOCKER_HOST``, or one started here.

An engine started here is Debian's ``dockerd`` run by hand (no systemd), with
its own socket, exec root and pid file, and stopped by its pid afterwards. Its
data root is kept between runs (``COMPOSE_TEST_ENGINE_DIR``, default
``~/.cache/quotestream/compose-engine``), so that the stand-in base images and
the image build cache are reused; the pid file lives there too, so two runs
can't share one data root at the same time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

STATE_DIR = Path(
    os.environ.get("COMPOSE_TEST_ENGINE_DIR")
    or Path.home() / ".cache" / "quotestream" / "compose-engine"
)


def answers(docker_host: str) -> bool:
    """Whether an engine answers at ``docker_host``."""
    try:
        done = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            env={**os.environ, "DOCKER_HOST": docker_host},
            capture_output=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


class StartedEngine:
    """``dockerd`` started for this run; ``stop()`` ends it (and its containerd) by pid."""

    def __init__(self, state_dir: Path = STATE_DIR) -> None:
        self.state_dir = state_dir
        # Short, private paths: a unix socket path has at most 107 characters.
        self.run_dir = Path(tempfile.mkdtemp(prefix="qs-engine-"))
        self.docker_host = f"unix://{self.run_dir / 'docker.sock'}"
        self.log_path = self.run_dir / "dockerd.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> StartedEngine:
        dockerd = shutil.which("dockerd")
        if dockerd is None:
            raise RuntimeError("no dockerd on PATH (Debian: apt-get install docker.io)")
        (self.state_dir / "data").mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            command = [dockerd, "--data-root", str(self.state_dir / "data")]
            command += ["--exec-root", str(self.run_dir / "exec")]
            command += ["--pidfile", str(self.state_dir / "dockerd.pid"), "-H", self.docker_host]
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while not answers(self.docker_host):
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = self.log_path.read_text(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"dockerd did not start:\n{tail}")
            time.sleep(0.5)
        return self

    def stop(self) -> None:
        """SIGTERM (dockerd stops its containers and containerd), then SIGKILL after 60 s."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        shutil.rmtree(self.run_dir, ignore_errors=True)
