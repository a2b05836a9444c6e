"""The benchmark report's targets: the sinks' absolute ones at the reference speed."""

from __future__ import annotations

from typing import Any

from bench.registry import CaseResult
from bench.report import REFERENCE_LOOP, check_targets


def result(case: str, rate: float, **params: Any) -> CaseResult:
    return CaseResult(
        name=case,
        case=case,
        kind="consumer",
        messages=1,
        runs=1,
        msgs_per_s={"median": rate, "min": rate, "max": rate},
        params=params,
    )


def sink_target(results: list[CaseResult], sink: str) -> dict[str, Any]:
    title = {"sqlite": "SQLite sink", "postgresql": "PostgreSQL sink"}[sink]
    (target,) = (t for t in check_targets(results) if t["target"].startswith(title))
    return target


def test_a_sink_rate_is_judged_at_the_reference_speed() -> None:
    # The same sink rate: met where the host's loop is at the reference
    # speed, missed on a host twice as fast (the code is then half as good).
    sink = result("sink", 55_000, sink="sqlite")
    at_reference = sink_target([result("raw", REFERENCE_LOOP, processes=1), sink], "sqlite")
    assert at_reference["value"] == 55_000
    assert at_reference["met"] is True
    fast_host = sink_target([result("raw", 2 * REFERENCE_LOOP, processes=1), sink], "sqlite")
    assert fast_host["value"] == 27_500
    assert fast_host["met"] is False
    # A slower host: a lower rate meets it.
    slow = [
        result("raw", REFERENCE_LOOP / 2, processes=1),
        result("sink", 31_000, sink="postgresql"),
    ]
    assert sink_target(slow, "postgresql")["met"] is True


def test_without_the_loop_in_the_run_a_sink_rate_is_not_judged() -> None:
    target = sink_target([result("sink", 90_000, sink="sqlite")], "sqlite")
    assert target["met"] is None
    assert target["measured"] == "not measured"
