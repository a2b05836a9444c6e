"""requirements/*.lock pin every dependency pyproject.toml asks for, with hashes.

A dependency added to pyproject.toml without ``make lock`` fails here, not in
the Docker build or in CI's ``pip install --require-hashes``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def wanted(extras: list[str]) -> list[Requirement]:
    """The requirements with ``extras`` (the project's own extras expanded), and the backend."""
    project = PYPROJECT["project"]
    found = [Requirement(r) for r in PYPROJECT["build-system"]["requires"]]
    todo, seen = list(project["dependencies"]), set()
    todo += [r for extra in extras for r in project["optional-dependencies"][extra]]
    while todo:
        req = Requirement(todo.pop())
        if canonicalize_name(req.name) == "quotestream":
            for extra in req.extras - seen:
                seen.add(extra)
                todo += project["optional-dependencies"][extra]
        else:
            found.append(req)
    return found


def pins(lock: str) -> dict[str, str]:
    """Name -> version of every ``name==version`` line, each followed by its hashes."""
    lines = (ROOT / "requirements" / lock).read_text().splitlines()
    found = {}
    for i, line in enumerate(lines):
        match = PIN.match(line)
        if match:
            assert "--hash=sha256:" in lines[i + 1], f"{lock}: {line} has no hash"
            found[canonicalize_name(match[1])] = match[2]
    return found


@pytest.mark.parametrize(
    ("lock", "extras"),
    [("image.lock", ["fast", "postgres", "metrics"]), ("dev.lock", ["test", "bench"])],
)
def test_the_lock_file_pins_what_pyproject_asks_for(lock: str, extras: list[str]) -> None:
    pinned = pins(lock)
    for req in wanted(extras):
        name = canonicalize_name(req.name)
        assert name in pinned, f"{req} is not in requirements/{lock}: run make lock"
        assert req.specifier.contains(pinned[name], prereleases=True), (
            f"requirements/{lock} pins {name}=={pinned[name]}, outside {req}: run make lock"
        )


def test_the_dockerfile_and_ci_install_from_the_lock_files() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --require-hashes --no-deps -r requirements/image.lock" in dockerfile
    assert "--no-build-isolation" in dockerfile  # the locked build backend, nothing else
    makefile = (ROOT / "Makefile").read_text()
    assert "--require-hashes -r requirements/dev.lock" in makefile  # make install, so CI
