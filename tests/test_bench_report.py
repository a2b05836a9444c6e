"""The benchmark report's targets: the sinks' absolute ones at the reference speed."""

from __future__ import annotations

from typing import Any

from bench.registry import CaseResult
from bench.report import REFERENCE_LOOP, check_targets


def sink_result(sink: str, rate: float, vs_loop: list[float] | None) -> CaseResult:
    """A sink case's line: its rate, and each run's rate over the loop's just before it."""
    return CaseResult(
        name=sink,
        case="sink",
        kind="consumer",
        messages=1,
        runs=1,
        msgs_per_s={"median": rate, "min": rate, "max": rate},
        params={"sink": sink},
        extra={} if vs_loop is None else {"vs_loop": vs_loop},
    )


def sink_target(result: CaseResult) -> dict[str, Any]:
    title = {"sqlite": "SQLite sink", "postgresql": "PostgreSQL sink"}[result.params["sink"]]
    (target,) = (t for t in check_targets([result]) if t["target"].startswith(title))
    return target


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
