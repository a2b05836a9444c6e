"""The benchmark report's targets: the sinks' absolute ones at the reference speed."""

from __future__ import annotations

from typing import Any

from bench.registry import CaseResult
from bench.report import REFERENCE_LOOP, check_targets


def result(case: str, rate: float, vs_loop: list[float] | None = None, **params: Any) -> CaseResult:
    """A case's line: its rate, and each run's rate over the loop's just before it."""
    return CaseResult(
        name=case,
        case=case,
        kind="consumer",
        messages=1,
        runs=1,
        msgs_per_s={"median": rate, "min": rate, "max": rate},
        params=params,
        extra={} if vs_loop is None else {"vs_loop": vs_loop},
    )


def sink_result(sink: str, rate: float, vs_loop: list[float] | None) -> CaseResult:
    return result("sink", rate, vs_loop, sink=sink)


def target(results: list[CaseResult], title: str) -> dict[str, Any]:
    (found,) = (t for t in check_targets(results) if t["target"].startswith(title))
    return found


def sink_target(r: CaseResult) -> dict[str, Any]:
    return target([r], {"sqlite": "SQLite sink", "postgresql": "PostgreSQL sink"}[r.params["sink"]])


def test_a_sink_rate_is_judged_against_the_loop_measured_beside_it() -> None:
    # 60,000 quotes/s where the loop made the reference speed: met.
    at_reference = sink_target(sink_result("sqlite", 60_000, [60_000 / REFERENCE_LOOP]))
    assert at_reference["value"] == 60_000
    assert at_reference["met"] is True
    # The same rate where the loop beside it made twice that: the code is
    # half as fast as the target asks.
    fast_host = sink_target(sink_result("sqlite", 60_000, [60_000 / (2 * REFERENCE_LOOP)]))
    assert fast_host["value"] == 30_000
    assert fast_host["met"] is False
    # The median of the runs' ratios, whatever the host did between runs.
    ratios = [0.1, 70_000 / REFERENCE_LOOP, 0.9]
    assert sink_target(sink_result("postgresql", 1.0, ratios))["value"] == 70_000


def test_without_the_loop_beside_it_a_sink_rate_is_not_judged() -> None:
    target = sink_target(sink_result("sqlite", 90_000, None))
    assert target["met"] is None
    assert target["measured"] == "not measured"


def test_cases_are_compared_through_the_loop_run_beside_each() -> None:
    # streamlib ran while the host was fast, the raw case and FastStream
    # while it was slow: their rows' ratio says nothing, the ratios to the
    # loop run beside each do.
    results = [
        result("raw", 100_000, processes=1),
        result("streamlib", 300_000, [1.2, 1.1, 1.3], processes=1),
        result("faststream", 50_000, [0.4, 0.45, 0.5], batch=True),
    ]
    assert target(results, "streamlib x1 >= 0.85 x hand-tuned loop x1")["value"] == 1.2
    assert target(results, "streamlib x1 >= 2.5 x FastStream")["value"] == 1.2 / 0.45
    assert target(results, "streamlib x1 >= 2.5 x FastStream")["met"] is True
