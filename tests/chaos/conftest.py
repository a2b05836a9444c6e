"""Fixtures of the chaos suite: the seed and size of the scenario, and its report line.

The seed comes from ``--chaos-seed`` or ``CHAOS_SEED`` (else a fresh random
one); the size from ``--chaos-size`` or ``CHAOS_SIZE`` (else the CI size).
Both are printed with the scenario's numbers at the end of the run, so a
failing seed can be run again exactly (the schedule, not the OS's timing).
"""

from __future__ import annotations

import os
import random

import pytest

#: Distinct keys in the CI run: fits about a minute on a shared 2-core machine.
CI_SIZE = 20_000

#: Report lines of this session's scenarios, shown in the terminal summary.
REPORT_LINES: list[str] = []


def _option(config: pytest.Config, name: str, env: str) -> int | None:
    value = config.getoption(name)
    if value is None and os.environ.get(env):
        value = int(os.environ[env])
    return value if value is None else int(value)


@pytest.fixture
def chaos_seed(request: pytest.FixtureRequest) -> int:
    """The scenario's seed: given, or drawn now (and printed either way)."""
    seed = _option(request.config, "--chaos-seed", "CHAOS_SEED")
    return seed if seed is not None else random.SystemRandom().randrange(2**32)


@pytest.fixture
def chaos_size(request: pytest.FixtureRequest) -> int:
    """Distinct keys the producer sends."""
    size = _option(request.config, "--chaos-size", "CHAOS_SIZE")
    return CI_SIZE if size is None else size


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The scenario's numbers as one line each, even when output is captured."""
    if REPORT_LINES:
        terminalreporter.section("chaos")
        for line in REPORT_LINES:
            terminalreporter.write_line(line)
