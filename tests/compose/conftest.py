"""Fixtures of the compose test: an engine, the stand-in base images, the stack.

``make compose-test`` runs these tests (marker ``compose``; ``make test``
deselects them). Without the Debian packages (docker.io, docker-compose,
mmdebstrap) they are skipped locally and fail under CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from streamlib.testing import free_port
from tests.compose.engine import StartedEngine, answers
from tests.compose.stack import Stack, say
from tests.conftest import _unavailable

STANDIN = Path(__file__).resolve().parent / "standin" / "build.sh"


@pytest.fixture(scope="session")
def docker_host() -> Iterator[str]:
    """The engine at DOCKER_HOST if one answers there, else one started (and stopped) here."""
    for tool, package in (("docker", "docker.io"), ("docker-compose", "docker-compose")):
        if shutil.which(tool) is None:
            _unavailable(f"no {tool} (Debian package {package})")
    given = os.environ.get("DOCKER_HOST")
    if given and answers(given):
        say(f"using the engine at {given}")
        yield given
        return
    if os.geteuid() != 0:
        _unavailable("starting a Docker engine needs root")
    say("starting dockerd")
    try:
        engine = StartedEngine().start()
    except RuntimeError as exc:
        _unavailable(str(exc))
    say(f"dockerd {engine.process.pid if engine.process else '?'} answers at {engine.docker_host}")
    try:
        yield engine.docker_host
    finally:
        say("stopping dockerd")
        engine.stop()


@pytest.fixture(scope="session")
def base_images(docker_host: str) -> dict[str, str]:
    """The stand-in base images (built on first use, then reused): compose file variables."""
    if shutil.which("mmdebstrap") is None:
        _unavailable("no mmdebstrap (Debian package mmdebstrap)")
    say("stand-in base images (built once, then reused)")
    done = subprocess.run(
        [str(STANDIN)],
        env={**os.environ, "DOCKER_HOST": docker_host},
        stdout=subprocess.PIPE,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, "building the stand-in base images failed (see above)"
    pairs = (line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    return {key: value for key, value in pairs}


@pytest.fixture(scope="module")
def stack(
    docker_host: str, base_images: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The project's compose file under a project name of its own; ``down -v`` after."""
    stack = Stack(
        docker_host,
        base_images,
        tmp_path_factory.mktemp("compose"),
        START_URL="http://site:8000/",
        MIN_IDLE_MS="3000",  # a killed replica's entries are reclaimed after 3 s
        PROMETHEUS_PORT=str(free_port()),  # published on loopback: never a port in use
    )
    stack.down()  # what an interrupted earlier run may have left
    try:
        yield stack
    finally:
        say("down -v")
        stack.down()
